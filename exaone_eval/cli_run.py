"""`exaone-eval run` (and `sweep`, the budget suite): from the command line to a RunConfig, the
backends it needs, the run itself, and how it ends (scores, a resume hint, or 128 + the signal
that stopped it). cli.py parses; this module runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from exaone_eval.types import HarnessError


def csv_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def default_out(kind: str, model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name or model)
    return Path("results") / f"{kind}-{slug}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_run_config(args):
    from exaone_eval.registry import check_name
    from exaone_eval.config import RunConfig, get_suite, resolve_model

    suite = get_suite(args.suite)
    model_name = args.model
    if model_name is None:  # only the offline demo suite has a model of its own
        if suite.name != "demo":
            raise HarnessError(f"--suite {suite.name} needs --model (32b, 1.2b, demo, or a checkpoint path / HF id)")
        model_name = "demo"
    model = resolve_model(model_name)
    benchmarks = [check_name(b) for b in csv_list(args.benchmarks)] if args.benchmarks else list(suite.benchmarks)
    # --base-url means "evaluate that server": it picks the openai backend even for a preset that
    # otherwise runs in-process (the demo model), and contradicts an in-process --backend.
    backend = args.backend or ("openai" if args.base_url else model.backend) or "openai"
    if args.base_url and backend in ("bundled", "vllm"):
        raise HarnessError(f"--base-url is for --backend openai; --backend {backend} runs the model in this process. "
                           f"Drop --base-url, or drop --backend {backend} to evaluate the server")
    data_dir = Path(args.data_dir) if args.data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        raise HarnessError(f"--data-dir {data_dir}: no such directory")
    return RunConfig(
        suite=suite.name,
        mode=suite.mode,
        model=model,
        backend=backend,
        benchmarks=benchmarks,
        out=Path(args.out) if args.out else default_out(suite.name, model_name),
        base_urls=csv_list(args.base_url or ""),
        api_key=args.api_key or os.environ.get("OPENAI_API_KEY"),
        limit=args.limit if args.limit is not None else suite.limit,
        k=args.k,
        data_dir=data_dir,
        concurrency=args.concurrency,
        seed=args.seed,
        request_timeout=args.request_timeout,
        max_retries=args.max_retries,
        unreachable_timeout=args.unreachable_timeout,
        budgets=suite.budgets,
        answer_max_tokens=suite.answer_max_tokens,
        judge_base_url=args.judge_base_url,
        judge_model=args.judge_model,
        judge_api_key=args.judge_api_key or os.environ.get("JUDGE_API_KEY"),
        user_base_url=getattr(args, "user_base_url", None),
        user_model=getattr(args, "user_model", None),
        user_api_key=getattr(args, "user_api_key", None) or os.environ.get("USER_API_KEY"),
        tokenizer=getattr(args, "tokenizer", None),
        task_options={b: o for b, o in suite.options.items() if b in benchmarks},
        sandbox=args.sandbox,
        **_vllm_options(args, backend),
    )


VLLM_FLAGS = ("tensor_parallel_size", "data_parallel_size", "max_model_len", "gpu_memory_utilization")


def _vllm_options(args, backend: str) -> dict:
    """The in-process vLLM engine's options; an error rather than silence for other backends."""
    given = {name: getattr(args, name, None) for name in VLLM_FLAGS if getattr(args, name, None) is not None}
    if given and backend != "vllm":
        flag = "--" + next(iter(given)).replace("_", "-")
        raise HarnessError(f"{flag} is for --backend vllm; with a server, pass it to `vllm serve` instead")
    return given


async def _run(cfg, progress: bool, tokenizer: str | None = None, plan=None) -> dict:
    from exaone_eval.backends import make_backend, make_judge_backend, make_user_backend
    from exaone_eval.runner import run_suite

    backend = make_backend(cfg)
    judge = make_judge_backend(cfg)
    user = make_user_backend(cfg)
    try:
        for b in (backend, judge, user):
            if b is not None and hasattr(b, "check"):
                await b.check()
        if cfg.budgets:  # the budget suite (Table 7) is the sweep, whichever command started it
            from exaone_eval.sweep import run_sweep

            return await run_sweep(cfg, backend, tokenizer=tokenizer, progress=progress)
        return await run_suite(cfg, backend, judge, progress=progress, user_backend=user, plan=plan)
    finally:
        if (cfg.out / "run.json").is_file() and hasattr(backend, "server_report"):
            from exaone_eval.failover import record_servers

            record_servers(cfg.out / "run.json", backend.server_report())
        for b in (backend, judge, user):
            if b is not None and hasattr(b, "aclose"):
                await b.aclose()


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a run: handled exactly as Ctrl-C (SIGINT) is."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_signals_interrupt():
    """SIGTERM (CI systems, Kubernetes, `timeout`) and SIGHUP (a closed terminal) end a run as Ctrl-C
    does: the work in flight is dropped, what is stored stays, and the message names the --out to
    resume with. Without this, SIGTERM killed the process with no word."""
    def interrupt(signum, _frame):
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_run(args) -> int:
    from exaone_eval.results import scored_entries_table

    cfg = build_run_config(args)
    if getattr(args, "budgets", None):
        from exaone_eval.sweep import parse_budgets

        cfg.budgets = parse_budgets(args.budgets)
    plan = _apply_plan(cfg, args) if getattr(args, "plan", None) else None
    print(f"exaone-eval: {cfg.suite} suite, model {cfg.model.name} ({cfg.mode}), backend {cfg.backend} -> {cfg.out}", file=sys.stderr)
    try:
        with _stop_signals_interrupt():
            scores = asyncio.run(_run(cfg, progress=not args.no_progress, tokenizer=args.tokenizer, plan=plan))
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        print(f"exaone-eval: interrupted ({signal.Signals(signum).name}); finished samples are saved in {cfg.out}: "
              f"rerun the same command with --out {cfg.out} to resume", file=sys.stderr)
        return 128 + signum
    except HarnessError:
        # Some benchmarks could not run (gated data, a dead server): show what did, then the error.
        scores_path = cfg.out / "scores.json"
        if scores_path.is_file():
            import json

            scores = json.loads(scores_path.read_text())
            print(scored_entries_table(scores, only=[key for key in scores if key.partition("@")[0] in cfg.benchmarks]))
        raise
    print(scored_entries_table(scores, only=[key for key in scores if key.partition("@")[0] in cfg.benchmarks]))
    if cfg.budgets:
        from exaone_eval.sweep import token_summary

        print(token_summary(cfg.out))
    print(f"\nscores: {cfg.out / 'scores.json'}   samples: {cfg.out / 'samples'}")
    return 0


def _apply_plan(cfg, args):
    """`run --plan`: the plan's samples pair with the baseline's only under the baseline's mode,
    run seed and k (each sample's seed derives from them), so those are taken from the plan, and
    a flag that contradicts them is an error."""
    from exaone_eval.planfile import load_plan

    plan = load_plan(Path(args.plan))
    base = plan.baseline
    if cfg.budgets:
        raise HarnessError(f"--plan {plan.path}: a budget sweep runs whole; drop --plan")
    if cfg.mode != base["mode"]:
        raise HarnessError(f"--plan {plan.path}: its baseline ran in {base['mode']} mode, --suite {cfg.suite} is {cfg.mode}")
    if cfg.seed != base["seed"]:
        raise HarnessError(f"--plan {plan.path}: its baseline ran with --seed {base['seed']}; pass --seed {base['seed']} so that the samples pair")
    if args.k is not None and args.k != base.get("k"):
        k = base.get("k") or "each task's own"
        raise HarnessError(f"--plan {plan.path}: its baseline ran with k = {k}; drop --k or pass the same")
    cfg.k = base.get("k")
    return plan
