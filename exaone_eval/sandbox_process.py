"""The process plumbing of the sandbox: a slot's long-lived sandboxed process (the `ZYGOTE`,
started under bwrap or bare), the child it forks per run, the descriptors and control socket
between them and the harness, and the watchdog that reads a run's messages and output under their
caps and kills the run's session when its time or output runs out.

What a run is allowed (limits, the audit prelude, the environment) is exaone_eval/sandbox_policy.py.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exaone_eval.sandbox_policy import GUARD, INSIDE_IN, INSIDE_TMP, PRELOAD, STDERR_TAIL, Limits, Outcome, rlimits, scrubbed_env

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


RUNS_PER_SLOT = 500  # a slot's process is replaced after this many runs, as hygiene


class Slot:
    """One long-lived sandboxed process that runs one child at a time (see `Sandbox`)."""

    def __init__(self, box):
        """`box`: the Sandbox this slot serves (its isolation, bwrap binary, audit setting, python)."""
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
            # -P -s rather than -I: -I also implies -E, which would ignore scrubbed_env's PYTHONHASHSEED=0
            # and give every sandbox process its own hash seed, so a solution whose output follows
            # a set's order could pass in one run and fail in the next. The environment is
            # scrubbed_env's alone, so -E protects nothing here.
            argv = [box.python, "-P", "-s", "-S", f"{inside_in}/zygote.py", json.dumps(cfg)]
            if bwrap:
                info_r, info_w = os.pipe()
                argv = self._bwrap_argv(info_w) + argv
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         pass_fds=tuple(fd for fd in (theirs.fileno(), info_w) if fd >= 0), cwd=self.work / "tmp",
                                         env=scrubbed_env(tmp_root), start_new_session=True, close_fds=True)
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
        for key, value in scrubbed_env(INSIDE_TMP).items():
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
            cfg = {"rlimits": rlimits(limits) if self.box.isolation != "none" else {}, "audit": self.box.audit,
                   "site_packages": [], "writable": [] if self.box.isolation == "rlimits" else None}
            job = {"main": f"{inside}/main.py", "cfg": cfg, "env": scrubbed_env("")}
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
