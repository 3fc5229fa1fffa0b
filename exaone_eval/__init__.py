"""exaone-eval: reproduce the EXAONE 4.0 technical report's benchmark tables for any checkpoint."""

__version__ = "0.1.0"
