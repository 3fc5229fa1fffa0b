"""Harness overhead: N requests end to end against an instant local OpenAI-compatible server.

Prints, for `exaone-eval run` and for lm-eval's `local-chat-completions` on the same N prompts
in the same run: end-to-end requests/s (start of the process to its exit, scoring included),
seconds from process start to the server's first request, and peak RSS. The server answers
instantly (exaone_eval.fake_server in its own process, on 127.0.0.1), stops by itself, and each
tool runs in its own process measured with wait4.

    python bench/overhead.py [--requests 2000] [--concurrency 64] [--lm-eval-concurrency N] [--skip-lm-eval]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LM_EVAL_TASK = """task: overhead_bench
dataset_path: json
dataset_kwargs:
  data_files: {data}
test_split: train
output_type: generate_until
doc_to_text: "{{{{problem}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: []
  max_gen_toks: 16
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def start_server() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("instant_server.py"))], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


def stop_server(proc: subprocess.Popen) -> dict:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd` against a fresh instant server; wall time, first-request delay, peak RSS."""
    server, port = start_server()
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    stderr = proc.stderr.read().decode(errors="replace")
    stats = stop_server(server)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{stderr[-3000:]}")
    first = stats["first_request_at"]
    return {
        "wall_s": wall,
        "answered": stats["answered"],
        "first_request_s": (first - start) if first else float("nan"),
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-lm-eval", action="store_true", help="measure exaone-eval only")
    parser.add_argument("--lm-eval-concurrency", type=int, help="lm-eval's num_concurrent (default: --concurrency; lm-eval's own default is 1)")
    args = parser.parse_args()
    n = args.requests

    tmp = Path(tempfile.mkdtemp(prefix="overhead-"))
    rows = [{"problem_idx": i, "problem": f"Problem {i}: what is 3+4?", "answer": 7, "problem_type": None} for i in range(1, n + 1)]
    (tmp / "data").mkdir()
    (tmp / "data" / "aime_2025.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    ours = measure([sys.executable, "-m", "exaone_eval.cli", "run", "--suite", "reasoning", "--model", "bench", "--benchmarks", "aime_2025",
                    "--base-url", "http://127.0.0.1:{port}/v1", "--data-dir", str(tmp / "data"), "--out", str(tmp / "run"),
                    "--k", "1", "--concurrency", str(args.concurrency), "--no-progress"])
    scores = json.loads((tmp / "run" / "scores.json").read_text())["aime_2025"]
    if ours["answered"] != n or scores["n_samples"] != n or scores["score"] != 100.0:
        raise SystemExit(f"exaone-eval did not score {n} samples correctly: {scores}")
    results = {"exaone-eval run": ours}

    if not args.skip_lm_eval:
        task_dir = tmp / "lm_eval_task"
        task_dir.mkdir()
        (task_dir / "overhead_bench.yaml").write_text(LM_EVAL_TASK.format(data=tmp / "data" / "aime_2025.jsonl"))
        env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
        results["lm-eval local-chat-completions"] = measure(
            [sys.executable, "-m", "lm_eval", "--model", "local-chat-completions", "--tasks", "overhead_bench", "--include_path", str(task_dir),
             "--model_args", f"model=fake,base_url=http://127.0.0.1:{{port}}/v1/chat/completions,num_concurrent={args.lm_eval_concurrency or args.concurrency},max_retries=1,tokenized_requests=False",
             "--apply_chat_template", "--output_path", str(tmp / "lm_eval_out")],
            env=env,
        )

    print(f"{n} requests, concurrency {args.concurrency} (lm-eval: {args.lm_eval_concurrency or args.concurrency}), instant server on 127.0.0.1, {os.cpu_count()} CPUs")
    print(f"{'tool':<34} {'req/s':>8} {'wall s':>8} {'first request s':>16} {'peak RSS MB':>12}")
    for tool, r in results.items():
        print(f"{tool:<34} {r['answered'] / r['wall_s']:>8.1f} {r['wall_s']:>8.2f} {r['first_request_s']:>16.2f} {r['peak_rss_mb']:>12.0f}")
    if len(results) == 2:
        a, b = results["exaone-eval run"], results["lm-eval local-chat-completions"]
        print(f"end-to-end speed-up vs lm-eval: {(a['answered'] / a['wall_s']) / (b['answered'] / b['wall_s']):.1f}x")


if __name__ == "__main__":
    main()
