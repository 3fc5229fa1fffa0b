"""What one sandboxed run gets, whatever runs it: its limits (`Limits`), how it ended
(`Outcome`), the isolation kinds, the prelude every driver runs first inside the sandbox
(`GUARD`: rlimits, then the audit hook that refuses process creation, sockets and ctypes), the
scrubbed environment, and the modules a slot preloads.

The processes that enforce it are exaone_eval/sandbox_process.py; the public face (`Sandbox`,
choosing the isolation, the scoring pool) is exaone_eval/sandbox.py, whose docstring says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


# Modules the slot's process imports once, so a run starts without paying for them: the GUARD
# prelude's and a code driver's usual ones, and the standard modules contest code imports; then
# what LiveCodeBench's driver imports before its guard, as lcb_runner does (its LCB_RUNNER_IMPORTS:
# numpy alone takes ~0.1 s, and one that is not installed is skipped).
PRELOAD = ("json", "ast", "io", "signal", "selectors", "re", "string", "datetime", "collections", "heapq", "bisect",
           "copy", "math", "random", "statistics", "itertools", "functools", "operator", "typing", "decimal",
           "fractions", "array", "types",
           "multiprocessing", "concurrent.futures", "numpy", "faulthandler", "platform", "unittest.mock", "enum", "time",
           "contextlib", "tempfile")


def rlimits(limits: Limits) -> dict[str, int]:
    return {
        "RLIMIT_AS": limits.memory_mb << 20,
        "RLIMIT_CPU": max(1, int(limits.cpu_s)),
        "RLIMIT_NPROC": limits.processes,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_FSIZE": limits.file_size_mb << 20,
        "RLIMIT_CORE": 0,
    }


def scrubbed_env(tmp: str) -> dict[str, str]:
    """The whole environment the code sees: nothing of the harness's (keys, tokens, proxies)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp, "TMPDIR": tmp,
            "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}


def limits_record(limits: Limits) -> dict:
    return asdict(limits)
