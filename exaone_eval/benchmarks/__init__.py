"""One adapter per benchmark: rows -> items -> verdicts (no HTTP, no store, no runner).

The registry that names them, their task specs and what a module must expose live in
exaone_eval/registry.py, a primitive: the data loader, the config and the provenance read the
specs without importing any benchmark.
"""
