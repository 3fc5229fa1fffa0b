"""Issue 17's load on `exaone-eval serve --model demo`: clients that hang up mid-generation.

N clients (default 32) each ask for a long generation (max_tokens 512) and hang up after a few
seconds; then one short request (max_tokens 8) is timed, and the server's memory is read from
/proc/<pid>/status (VmHWM: its peak RSS; VmRSS: now). The issue's target: after the 32
disconnects the short request is answered in seconds, with bounded memory.

With `--baseline-ref REF` the same load also runs against the server of REF (checked out into a
temporary `git worktree`, with PYTHONPATH pointed at it), and the figures print side by side.
Every wait is bounded; the script stops by itself (each server gets SIGTERM, then SIGKILL).

    python bench/serve_load.py --baseline-ref 56b8c92
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SHORT_S = 10.0  # "answers a short request in seconds"
PROMPT = "Write a very long, detailed story about a lighthouse keeper and a storm. Do not stop early."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in MiB (empty once the process is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024
    except OSError:
        pass
    return out


def close_wait_sockets(port: int) -> int:
    """Sockets on the server's port in CLOSE-WAIT (state 08): the client left, the server has not closed."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "08":
                count += 1
    return count


def post(port: int, body: dict, timeout: float) -> tuple[int | str, float]:
    """(status or error name, seconds)."""
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status: int | str = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (OSError, urllib.error.URLError) as e:
        status = type(getattr(e, "reason", e)).__name__
    return status, time.monotonic() - started


def hang_up_clients(port: int, clients: int, max_tokens: int) -> list[socket.socket]:
    socks = []
    for i in range(clients):
        body = json.dumps({"model": "demo", "messages": [{"role": "user", "content": PROMPT}],
                           "max_tokens": max_tokens, "temperature": 0.8, "seed": i}).encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        socks.append(s)
    return socks


def run_load(label: str, code_root: Path, args) -> dict:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    log = tempfile.NamedTemporaryFile("w+", prefix=f"serve-{label}-", suffix=".log", delete=False)
    cmd = [sys.executable, "-c", "import sys; from exaone_eval.cli import main; sys.exit(main())",
           "serve", "--model", "demo", "--port", str(port)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=code_root)
    peak = {"VmHWM": 0}
    stop_sampling = threading.Event()

    def sample() -> None:  # VmHWM is the kernel's own peak; sampling only keeps the last value seen
        while not stop_sampling.wait(0.25):
            peak.update(proc_status(proc.pid) or {})

    threading.Thread(target=sample, daemon=True).start()
    row: dict = {"label": label}
    try:
        deadline = time.monotonic() + args.start_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            row["error"] = f"server did not start within {args.start_timeout} s (exit {proc.poll()})"
            return row
        row["start_s"] = time.monotonic() - started
        row["rss_idle"] = proc_status(proc.pid).get("VmRSS")
        socks = hang_up_clients(port, args.clients, args.max_tokens)
        time.sleep(args.hang_up_after)  # generating by now: prefills done, tokens flowing
        row["rss_loaded"] = proc_status(proc.pid).get("VmRSS")
        # A reply already waiting means that generation ended (EOS) before the hang-up: no disconnect to see.
        row["answered_early"] = sum(bool(select.select([s], [], [], 0)[0]) for s in socks)
        for s in socks:
            s.close()
        time.sleep(1.0)
        row["close_wait"] = close_wait_sockets(port)
        status, seconds = post(port, {"model": "demo", "messages": [{"role": "user", "content": "Say hi."}],
                                      "max_tokens": args.short_max_tokens, "temperature": 0}, args.short_timeout)
        row["short_status"], row["short_s"] = status, seconds
        row["close_wait_after"] = close_wait_sockets(port)
        row["rss_after"] = proc_status(proc.pid).get("VmRSS")
        row["hwm"] = proc_status(proc.pid).get("VmHWM", peak.get("VmHWM"))
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            row["exit"] = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            row["exit"] = "killed after 60 s"
        row["stop_s"] = time.monotonic() - stopping
    finally:
        stop_sampling.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.seek(0)
        text = log.read()
        log.close()
        os.unlink(log.name)
        row["tracebacks"] = text.count("Traceback")
        row["disconnect_lines"] = sum("disconnected" in line for line in text.splitlines())
    return row


def baseline_checkout(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="serve-baseline-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), ref], check=True, timeout=120)
    return path


def revision(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=30)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def show(rows: list[dict], args) -> None:
    def cell(row: dict, key: str, fmt: str = "{}") -> str:
        value = row.get(key)
        return "-" if value is None else fmt.format(value)

    lines = [
        ("server start (s)", lambda r: cell(r, "start_s", "{:.1f}")),
        ("RSS idle (MiB)", lambda r: cell(r, "rss_idle")),
        (f"RSS with {args.clients} generating (MiB)", lambda r: cell(r, "rss_loaded")),
        ("replies before the hang-up (EOS early)", lambda r: cell(r, "answered_early")),
        ("CLOSE-WAIT sockets 1 s after hang-up", lambda r: cell(r, "close_wait")),
        (f"short request (max_tokens {args.short_max_tokens})", lambda r: f"{cell(r, 'short_status')} in {cell(r, 'short_s', '{:.1f}')} s"),
        ("CLOSE-WAIT sockets after it", lambda r: cell(r, "close_wait_after")),
        ("RSS after (MiB)", lambda r: cell(r, "rss_after")),
        ("peak RSS, VmHWM (MiB)", lambda r: cell(r, "hwm")),
        ("tracebacks / disconnect lines in log", lambda r: f"{r.get('tracebacks', '-')} / {r.get('disconnect_lines', '-')}"),
        ("SIGTERM: exit code, seconds", lambda r: f"{cell(r, 'exit')}, {cell(r, 'stop_s', '{:.1f}')}"),
        (f"target: short request < {TARGET_SHORT_S:g} s", lambda r: "met" if r.get("short_status") == 200 and r.get("short_s", 1e9) < TARGET_SHORT_S else "not met"),
    ]
    width = max(len(name) for name, _ in lines) + 2
    print(f"\n{args.clients} clients x max_tokens {args.max_tokens}, hung up after {args.hang_up_after:g} s; demo model (SmolLM2-135M), bundled engine")
    print("".ljust(width) + "".join(r["label"].ljust(28) for r in rows))
    for name, get in lines:
        print(name.ljust(width) + "".join((r["error"] if "error" in r else get(r)).ljust(28) for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-ref", help="also run the server of this git ref (e.g. the commit before the fix)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--hang-up-after", type=float, default=4.0, help="seconds the clients wait before hanging up")
    parser.add_argument("--short-max-tokens", type=int, default=8)
    parser.add_argument("--short-timeout", type=float, default=300.0, help="give up on the short request after this long")
    parser.add_argument("--start-timeout", type=float, default=180.0)
    args = parser.parse_args()

    rows = [run_load(f"this checkout ({revision(ROOT)})", ROOT, args)]
    if args.baseline_ref:
        tree = baseline_checkout(args.baseline_ref)
        try:
            rows.append(run_load(f"baseline ({revision(tree)})", tree, args))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], timeout=120)
            shutil.rmtree(tree.parent, ignore_errors=True)
    show(rows, args)


if __name__ == "__main__":
    main()
