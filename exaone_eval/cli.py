"""`exaone-eval list | run | score | tables | report | gate | serve`: a thin layer over the library.

Every user-facing problem is a HarnessError: one line on stderr (a suite: one line per benchmark that
did not finish), exit code 2, no traceback.
Heavy modules are imported inside the command that needs them, so `list` starts instantly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exaone_eval.cli_run import cmd_run, csv_list, default_out
from exaone_eval.types import HarnessError

EPILOG = ("Docs: README.md. Exit codes: 0 ok, 1 regression (gate), 2 usage or input error; "
          "a run stopped by SIGINT, SIGTERM or SIGHUP: 128 + the signal (130, 143, 129).")


def _server_urls(text: str) -> str:
    """--base-url and friends: comma-separated http(s) URLs, checked here so that `127.0.0.1:8000/v1`
    (no scheme) is refused with the expected form instead of failing deep in the HTTP client."""
    from urllib.parse import urlsplit

    urls = csv_list(text)
    if not urls:
        raise argparse.ArgumentTypeError("expected one or more URLs like http://127.0.0.1:8000/v1")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise argparse.ArgumentTypeError(f"{url!r} is not a server URL; expected http://HOST:PORT/v1 (scheme, host, port and the /v1 prefix)")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return value


def cmd_list(args) -> int:
    from exaone_eval.registry import all_specs
    from exaone_eval.config import get_suite, suites

    if args.suite:
        suite = get_suite(args.suite)
        names = set(suite.benchmarks)
        print(f"suite {suite.name} ({suite.mode}): {suite.description}")
    else:
        names = None
    header = f"{'benchmark':<18} {'status':<13} {'report row':<26} {'hub dataset':<38} {'rows':>6}  {'reasoning k/max':>16}  {'non-reasoning k/max':>19}"
    print(header)
    for spec in all_specs():
        if names is not None and spec.name not in names:
            continue
        if spec.status == "in-house":
            hub = "(unpublished)"
        else:
            hub = (spec.hub_id or "(package data)") + (f" [{','.join(spec.configs)}]" if 0 < len(spec.configs) <= 2 else "")
        hub = ("*" if spec.gated else "") + hub
        rows = "" if spec.rows is None else str(spec.rows)
        cols = []
        for m in ("reasoning", "non-reasoning"):
            s = spec.modes.get(m)
            cols.append(f"{s.k}/{_length(s.max_tokens)}" if s else "-")
        status = {"ready": "ready", "planned": "not built yet", "in-house": "in-house"}[spec.status]
        line = f"{spec.name:<18} {status:<13} {spec.title:<26} {hub[:38]:<38} {rows:>6}  {cols[0]:>16}  {cols[1]:>19}"
        if spec.note and spec.status in ("in-house", "ready"):  # e.g. LiveCodeBench's date window
            line += f"  ({spec.note})"
        lengths = {**spec.options, **(suite.options.get(spec.name, {}) if args.suite else {})}.get("lengths")
        if lengths:  # long context: the lengths built, in the model's tokens (capped by its max_context)
            line += "  lengths " + ",".join(_length(n) for n in lengths)
        print(line)
    print("(* gated on the Hub: accept its terms there and set HF_TOKEN, or use --data-dir)")
    if not args.suite:
        print("\nsuites:")
        for s in suites().values():
            print(f"  {s.name:<14} {s.mode:<14} {len(s.benchmarks):>2} benchmarks  {s.description}")
    return 0


def _length(tokens) -> str:
    return f"{tokens // 1024}K" if isinstance(tokens, int) and tokens % 1024 == 0 else str(tokens)


def cmd_score(args) -> int:
    from exaone_eval.registry import check_name
    from exaone_eval.results import scored_entries_table
    from exaone_eval.score_file import score_responses

    name = check_name(args.benchmark)
    out = Path(args.out) if args.out else default_out(f"score-{name}", Path(args.responses).stem)
    entry = score_responses(
        name,
        Path(args.responses),
        out,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
        judge_api_key=args.judge_api_key or os.environ.get("JUDGE_API_KEY"),
        tokenizer=args.tokenizer,
        sandbox=args.sandbox,
    )
    from exaone_eval.store import update_json

    # What `gate` needs to compare this directory with a run: the mode, and a name for the model.
    update_json(out / "run.json", {"mode": args.mode, "model": {"name": args.model or Path(args.responses).stem}})
    print(scored_entries_table({name: entry}))
    print(f"\nscores: {out / 'scores.json'}   samples: {out / 'samples' / (name + '.jsonl')}")
    return 0


def cmd_tables(args) -> int:
    from exaone_eval.tables import render

    for d in args.run_dirs:
        if not (Path(d) / "scores.json").is_file():
            raise HarnessError(f"{d}: not a run directory (no scores.json)")
    print(render([Path(d) for d in args.run_dirs], csv_list(args.format), Path(args.out) if args.out else None, against=tuple(csv_list(args.against))))
    return 0


def cmd_report(args) -> int:
    from exaone_eval.report import write_report

    print(write_report([Path(d) for d in args.run_dirs], Path(args.out), against=tuple(csv_list(args.against))))
    return 0


def cmd_gate(args) -> int:
    from exaone_eval.gate import run_gate

    if args.action == "plan":
        from exaone_eval.gate_plan import describe, make_plan

        if args.candidate or not args.out:
            raise HarnessError("usage: exaone-eval gate plan --baseline RUN --out PLAN [--config gate.toml] [--max-share 0.25]")
        print(describe(make_plan(Path(args.baseline), Path(args.out), Path(args.config) if args.config else None,
                                 max_share=args.max_share, seed=args.plan_seed)))
        print(f"\nplan: {args.out}")
        return 0
    if not args.candidate:
        raise HarnessError("gate needs --candidate RUN (or `gate plan --baseline RUN --out PLAN` to plan a cheaper candidate run)")
    return run_gate(Path(args.baseline), Path(args.candidate), Path(args.config) if args.config else None, Path(args.out) if args.out else None,
                    allow_scorer_change=args.allow_scorer_change, allow_data_change=args.allow_data_change)


TOKENIZER_HELP = ("the evaluated model's tokenizer (local folder with tokenizer.json, or HF id in the local cache): "
                  "long-context benchmarks (RULER) size their prompts in its tokens; over an OpenAI-compatible server it "
                  "also renders raw prompts for /v1/completions (answer prefixes, the budget sweep). Default: the bundled/vllm "
                  "checkpoint's own; the sweep falls back to --model's")


def _add_generation_flags(p) -> None:
    """The flags `run` and `sweep` share: where requests go and how, which items, resume, output."""
    p.add_argument("--base-url", type=_server_urls, help="server URL(s) for the openai backend, comma-separated, e.g. http://127.0.0.1:8000/v1; requests go to the least-loaded one")
    p.add_argument("--api-key", help="API key for the server (default: $OPENAI_API_KEY, else none)")
    p.add_argument("--limit", type=_positive, help="only the first N items of each benchmark")
    p.add_argument("--data-dir", help="folder of <benchmark>.jsonl/.parquet files in the Hub schema; they replace the Hub")
    p.add_argument("--concurrency", type=_positive, default=64, help="requests in flight at once, over all URLs (default 64)")
    p.add_argument("--seed", type=int, default=0, help="run seed; each sample's seed derives from it, the item id and the sample index (default 0)")
    p.add_argument("--request-timeout", type=float, default=3600.0, help="seconds before one request is abandoned and retried (default 3600)")
    p.add_argument("--max-retries", type=int, default=6, help="retries of a request on 429 / 5xx / read timeouts (default 6); a lost connection moves it to another URL instead")
    p.add_argument("--unreachable-timeout", type=_seconds, default=60.0, help="stop the run when no server has been reachable for this many seconds (default 60); a slow server is never unreachable (docs/failover.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_sandbox_flag(p)


SANDBOX_HELP = ("where model-written code runs (LiveCodeBench): auto (bwrap namespaces where the machine allows, else "
                "rlimits; the default), bwrap, rlimits, or none (no isolation: only when you name it); see docs/livecodebench.md")


def _add_sandbox_flag(p) -> None:
    p.add_argument("--sandbox", choices=("auto", "bwrap", "rlimits", "none"), default="auto", help=SANDBOX_HELP)


def _add_judge_flags(p) -> None:
    p.add_argument("--judge-base-url", type=_server_urls, help="OpenAI-compatible URL of the LLM judge (WMT24++), e.g. http://127.0.0.1:8001/v1")
    p.add_argument("--judge-model", help="the judge's model name on that server (the report used gpt-4.1)")
    p.add_argument("--judge-api-key", help="API key for the judge server (default: $JUDGE_API_KEY)")


def _add_user_flags(p) -> None:
    p.add_argument("--user-base-url", type=_server_urls, help="OpenAI-compatible URL of the user simulator of conversations (Tau-Bench), e.g. http://127.0.0.1:8002/v1")
    p.add_argument("--user-model", help="the user simulator's model name on that server (default gpt-4.1-2025-04-14, the report's)")
    p.add_argument("--user-api-key", help="API key for the user simulator's server (default: $USER_API_KEY)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exaone-eval", description="Reproduce the EXAONE 4.0 report's benchmark tables for any checkpoint.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="every benchmark and suite with its settings", description="List every benchmark (status, Hub dataset, rows, k and max tokens per mode) and every suite.")
    p.add_argument("--suite", help="only the benchmarks of this suite")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="generate, score and aggregate a suite", description="Run a suite against a model. Rerunning the same command with the same --out resumes: finished samples are never generated again.", epilog=EPILOG)
    p.add_argument("--suite", required=True, help="reasoning (Tables 3/5), non-reasoning (Tables 4/6), budget (Table 7) or demo")
    p.add_argument("--model", help="32b, 1.2b, demo, or any local checkpoint path / HF id (sent as the `model` field to servers); --suite demo defaults to demo")
    p.add_argument("--backend", help="openai (any OpenAI-compatible server; the default), vllm (in-process vLLM), bundled (the bundled PyTorch engine)")
    p.add_argument("--benchmarks", help="comma-separated subset of the suite's benchmarks (see `exaone-eval list`)")
    p.add_argument("--k", type=_positive, help="samples per item for every benchmark (default: each benchmark's k in tasks/)")
    p.add_argument("--out", help="run directory (default results/<suite>-<model>-<time>); reuse it to resume")
    _add_generation_flags(p)
    p.add_argument("--tensor-parallel-size", type=_positive, help="vllm backend: GPUs per model replica (vLLM tensor parallelism; default 1)")
    p.add_argument("--data-parallel-size", type=_positive, help="vllm backend: model replicas, each on --tensor-parallel-size GPUs (vLLM data parallelism; default 1)")
    p.add_argument("--max-model-len", type=_positive, help="vllm backend: context length to reserve KV cache for (default: the model's)")
    p.add_argument("--gpu-memory-utilization", type=float, help="vllm backend: share of each GPU's memory vLLM may use, 0-1 (default: vLLM's)")
    p.add_argument("--tokenizer", help=TOKENIZER_HELP)
    p.add_argument("--plan", help="a gate plan (`exaone-eval gate plan`): run only its planned samples, in batches, and stop each "
                   "benchmark once the gate's decision is reached (docs/gate.md, \"Planned gates\")")
    _add_judge_flags(p)
    _add_user_flags(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="Table 7: score against reasoning budget, by truncation", description="The reasoning-budget sweep (the budget suite): each sample reasons once under the largest budget; smaller budgets truncate that reasoning, append the report's forcing text and generate only the answer (docs/sweep.md). Rerunning the same command with the same --out resumes.", epilog=EPILOG)
    p.add_argument("--model", required=True, help="32b, 1.2b, demo, or any local checkpoint path / HF id")
    p.add_argument("--budgets", help="reasoning budgets in tokens, comma-separated, k = 1024 (default: the budget suite's 1k,2k,4k,8k,16k,32k,64k)")
    p.add_argument("--benchmarks", help="comma-separated (default: aime_2025,livecodebench_v6)")
    p.add_argument("--backend", help="openai (the default; needs --tokenizer or the model's tokenizer in the local HF cache), vllm or bundled")
    p.add_argument("--tokenizer", help=TOKENIZER_HELP)
    p.add_argument("--k", type=_positive, help="samples per item (default: each benchmark's reasoning k in tasks/)")
    p.add_argument("--out", help="run directory (default results/budget-<model>-<time>); reuse it to resume")
    _add_generation_flags(p)
    p.set_defaults(func=cmd_run, suite="budget", judge_base_url=None, judge_model=None, judge_api_key=None)

    p = sub.add_parser("score", help="score saved generations without a model", description='Score saved generations. FILE is JSONL, one object per generation: {"id": <item id>, "response": <full text incl. any <think> part>}, optional "sample" (int).', epilog=EPILOG)
    p.add_argument("--benchmark", required=True, help="benchmark name (see `exaone-eval list`)")
    p.add_argument("--responses", required=True, help="JSONL file of generations")
    p.add_argument("--data-dir", help="folder of <benchmark>.jsonl in the Hub schema (default: the Hub)")
    p.add_argument("--out", help="output directory for scores.json and samples/ (default results/score-<benchmark>-<file>-<time>)")
    p.add_argument("--mode", choices=("reasoning", "non-reasoning"), default="non-reasoning",
                   help="the mode the responses were generated in, recorded so that `gate` compares like with like (default non-reasoning)")
    p.add_argument("--model", help="a name for the model that wrote the responses, recorded for `gate` and `tables` (default: the file's name)")
    p.add_argument("--tokenizer", help="long-context benchmarks (RULER): the model's tokenizer, to rebuild the items the responses answer")
    _add_sandbox_flag(p)
    _add_judge_flags(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("tables", help="the report's tables beside the runs' numbers", description="Render the report's tables with a column for each run, as Markdown and CSV.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (several combine, e.g. reasoning + non-reasoning)")
    p.add_argument("--format", default="md,csv", help="comma-separated: md, csv (default md,csv)")
    p.add_argument("--out", help="where to write the tables (default <first RUN_DIR>/tables)")
    p.add_argument("--against", default="32b", help="models other than the 32b / 1.2b presets are shown beside these report "
                   "tables: 32b (Tables 3/4, the default), 1.2b (Tables 5/6) or 32b,1.2b")
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("report", help="one self-contained HTML file: tables, sample browser, run comparison",
                       description="Write one HTML file (no server, no network) with the report's tables beside the runs' numbers, "
                       "a sample browser per benchmark and, for two runs of the same mode (baseline first), the items whose verdict "
                       "flipped, linked from the candidate's gate summary when there is one.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories; two of the same mode are compared, the first as the baseline")
    p.add_argument("--out", default="report.html", help="the HTML file to write (default report.html)")
    p.add_argument("--against", default="32b", help="as for `tables`: 32b, 1.2b or 32b,1.2b")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("gate", help="CI regression gate: candidate vs baseline", description="Paired comparison of two runs per benchmark. Exit 0 pass, 1 regression, 2 usage or input error. "
                       "`gate plan --baseline RUN --out PLAN` writes a plan for a cheaper candidate run (`run --plan PLAN`).")
    p.add_argument("action", nargs="?", choices=("plan",), help="plan: choose the samples a candidate must run (docs/gate.md, \"Planned gates\")")
    p.add_argument("--baseline", required=True, help="run directory of the accepted checkpoint")
    p.add_argument("--candidate", help="run directory of the new checkpoint (a full run, or one made with `run --plan`)")
    p.add_argument("--config", help="TOML of per-benchmark tolerances (default configs/gate.toml)")
    p.add_argument("--out", help="file for the Markdown summary (default <candidate>/gate.md); with `plan`: the plan file to write")
    p.add_argument("--max-share", type=float, default=0.25, help="plan: at most this share of the full run's generated tokens per benchmark (default 0.25)")
    p.add_argument("--plan-seed", type=int, default=0, help="plan: seed of the plan's random draw of samples (default 0)")
    p.add_argument("--allow-scorer-change", action="store_true",
                   help="compare runs whose scorer fingerprints (run.json) differ or are unknown, with a warning in the summary")
    p.add_argument("--allow-data-change", action="store_true",
                   help="compare runs whose data fingerprints (run.json) differ or are unknown, with a warning in the summary")
    p.set_defaults(func=cmd_gate)

    from exaone_eval import serve  # standard library only: start-up stays fast

    serve.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as e:
        print(f"exaone-eval: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `exaone-eval list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
