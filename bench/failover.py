"""Dead servers and fail-over, measured: how long `exaone-eval run` takes to stop once its only
server dies, what fail-over costs when one of three servers dies, and the per-request cost of
watching for dead servers.

    python bench/failover.py [--requests 2000] [--die-after 700] [--unreachable-timeout 60] [--skip-stop]

Servers are exaone_eval.fake_server processes on 127.0.0.1 (each answer after --delay seconds);
"dies" means the process stops listening and resets its connections, as a killed server does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(*extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "exaone_eval.fake_server", "--max-seconds", "1800", *extra], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def stop_server(proc: subprocess.Popen) -> dict:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def run(urls: list[str], data: Path, out: Path, concurrency: int, timeout: float) -> tuple[int, float, str]:
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "exaone_eval.cli", "run", "--suite", "reasoning", "--model", "bench", "--benchmarks", "aime_2025",
                           "--base-url", ",".join(urls), "--data-dir", str(data), "--out", str(out), "--k", "1",
                           "--concurrency", str(concurrency), "--no-progress", "--unreachable-timeout", str(timeout)],
                          capture_output=True, text=True)
    return proc.returncode, time.time(), proc.stderr


def stored(out: Path) -> int:
    path = out / "samples" / "aime_2025.jsonl"
    return sum(1 for _ in path.open()) if path.exists() else 0


async def per_call_cost(n: int = 20000) -> float:
    """Microseconds the rotation adds to one call (pick a URL, race the call against its loss)."""
    from exaone_eval.backends.openai import _unless_lost
    from exaone_eval.failover import ServerPool

    async def call():
        await asyncio.sleep(0)

    pool = ServerPool(["a", "b", "c"], ask=None)
    pool.bind()
    start = time.perf_counter()
    for _ in range(n):
        await call()
    plain = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n):
        i = await pool.acquire()
        await _unless_lost(call(), pool.lost_signal(i))
        pool.release(i, True)
    watched = time.perf_counter() - start
    await pool.aclose()
    return (watched - plain) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--die-after", type=int, default=700)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds each fake server takes per answer")
    parser.add_argument("--unreachable-timeout", type=float, default=60.0)
    parser.add_argument("--skip-stop", action="store_true", help="skip the stop-time measurement (it takes --unreachable-timeout)")
    args = parser.parse_args()
    n = args.requests
    tmp = Path(tempfile.mkdtemp(prefix="failover-"))
    rows = [{"problem_idx": i, "problem": f"Problem {i}: what is 3+4?", "answer": 7, "problem_type": None} for i in range(1, n + 1)]
    (tmp / "data").mkdir()
    (tmp / "data" / "aime_2025.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    delay = ["--delay", str(args.delay)]
    print(f"{n} requests, concurrency {args.concurrency}, fake servers answering in {args.delay} s, {os.cpu_count()} CPUs")

    if not args.skip_stop:
        server, port = start_server("--die-after", str(args.die_after), *delay)
        code, ended, _ = run([f"http://127.0.0.1:{port}/v1"], tmp / "data", tmp / "stop", args.concurrency, args.unreachable_timeout)
        died = stop_server(server)["died_at"]
        print(f"only server dies after {args.die_after} answers: exit code {code}, stopped {ended - died:.1f} s after the death "
              f"(--unreachable-timeout {args.unreachable_timeout:g}), {stored(tmp / 'stop')} samples stored")

    servers = [start_server(*delay) for _ in range(3)]
    start = time.time()
    code, ended, _ = run([f"http://127.0.0.1:{p}/v1" for _, p in servers], tmp / "data", tmp / "healthy", args.concurrency, args.unreachable_timeout)
    healthy = ended - start
    for proc, _ in servers:
        stop_server(proc)
    print(f"three healthy servers: exit code {code}, {healthy:.1f} s, {stored(tmp / 'healthy')} samples")

    servers = [start_server(*delay, *(["--die-after", str(args.die_after // 3)] if i == 0 else [])) for i in range(3)]
    start = time.time()
    code, ended, err = run([f"http://127.0.0.1:{p}/v1" for _, p in servers], tmp / "data", tmp / "failover", args.concurrency, args.unreachable_timeout)
    for proc, _ in servers:
        stop_server(proc)
    report = json.loads((tmp / "failover" / "run.json").read_text())["servers"][-1]
    answered = [u["answered"] for u in report["urls"]]
    moved = report["urls"][0]["moved_away"]
    samples = [json.loads(line) for line in (tmp / "failover" / "samples" / "aime_2025.jsonl").open()]
    once = len({s["id"] for s in samples}) == len(samples) == n
    print(f"one of three dies after {args.die_after // 3} answers: exit code {code}, {ended - start:.1f} s, {len(samples)} samples "
          f"(each once: {once}), answered per server {answered}, {moved} moved off the dead one")
    print(f"rotation cost per request: {asyncio.run(per_call_cost()):.0f} us")


if __name__ == "__main__":
    main()
