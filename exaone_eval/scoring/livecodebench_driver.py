# LiveCodeBench's test driver. It runs INSIDE the sandbox only (exaone_eval/sandbox.py prepends
# its GUARD prelude, which defines `_send`); the harness never imports it. It needs the standard
# library only (numpy is pre-imported where it is installed, as lcb_runner's process has it).
#
# It reproduces lcb_runner/evaluation/testing_util.py (LiveCodeBench/LiveCodeBench @ 28fef95,
# after the 2025-05 `sys.stdin.buffer` fix): the same modules loaded before the guard, the same
# import preamble, the same wrapping of a stdin program into a function, the same entry lookup
# (compile_code: a `Solution()` instance wherever "class Solution" is in the code, reused across
# tests), the same patched stdin and captured stdout, the per-test timer, and the same
# "os.kill = None" style guard. What differs: the expected outputs never enter the sandbox. Each
# test's output (stdout text, or the returned value as tagged JSON) is sent back and the harness
# compares it (scoring/livecodebench.py), stopping the run at the first failure; so code cannot
# forge a verdict it did not earn.
import ast
import builtins
import io
import json
import os
import signal
import sys
import types

# What lcb_runner's testing process has imported before run_test calls reliability_guard: the
# top-level imports of the lcb_runner.evaluation modules (compute_code_generation_metrics.py, whose
# forked multiprocessing.Process calls run_test; testing_util.py; utils_execute.py, loaded by the
# package's __init__), in their order, but for tqdm (a progress bar, which imports fine after the
# guard). A solution's own `import numpy` is then a lookup there. It matters for numpy and
# multiprocessing: importing either after the guard fails (numpy calls os.putenv, multiprocessing
# os.getcwd at import), so without this a solution that imports them fails here and passes there.
# The sandbox's slot process preloads the same modules (sandbox_policy.PRELOAD), so these are lookups here
# too; one that is missing (not installed) is skipped.
LCB_RUNNER_IMPORTS = ("multiprocessing", "concurrent.futures", "numpy", "faulthandler", "platform",
                      "unittest.mock", "enum", "decimal", "time", "contextlib", "tempfile")
for _module in LCB_RUNNER_IMPORTS:
    try:
        __import__(_module)
    except Exception:
        pass

JOB = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "job.json"), encoding="utf-8"))
_send({"ready": True})

# The statements lcb_runner puts before every solution (its `import_string`).
PREAMBLE = "\n".join(
    [f"from {m} import *" for m in ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math",
                                     "random", "statistics", "itertools", "functools", "operator", "io", "sys",
                                     "json", "builtins", "typing")]
    + [f"import {m}" for m in ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math",
                                "random", "statistics", "itertools", "functools", "operator", "io", "sys", "json")]
    + ["sys.setrecursionlimit(50000)"]
) + "\n"


class TimeLimit(Exception):
    """Raised by the per-test timer (an Exception, as lcb_runner's TimeoutException)."""


class OutputLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit("time limit")


signal.signal(signal.SIGALRM, _alarm)


def start_timer():
    signal.setitimer(signal.ITIMER_REAL, JOB["timeout_s"])


def stop_timer():
    signal.setitimer(signal.ITIMER_REAL, 0)


def hoist_main_guard(code):
    """A trailing `if __name__ == '__main__':` block becomes plain statements (lcb_runner's clean_if_name)."""
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            code = ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def as_function(code):
    """Imports stay at module level; every other statement moves into `wrapped_function()`
    (lcb_runner's make_function). Unparsable code is left as it is and fails when compiled."""
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        others = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        function = ast.FunctionDef(name="wrapped_function", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
                                   body=others, decorator_list=[], lineno=-1)
        return PREAMBLE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:
        return code


class CappedStdout(io.StringIO):
    """sys.stdout during a test: lcb_runner's StringIO capture (no `.buffer`, close is a no-op),
    holding at most `cap` characters."""

    def __init__(self, cap):
        super().__init__()
        self.cap, self.size, self.exceeded = cap, 0, False

    def write(self, text):
        self.size += len(text)
        if self.size > self.cap:
            self.exceeded = True
            raise OutputLimit("output limit")
        return super().write(text)

    def close(self):
        pass


class StdinBuffer:
    def __init__(self, text):
        self.data = text.encode("utf-8")

    def read(self, *args):
        return self.data

    def readline(self, *args):  # lcb_runner's: always the first line
        return self.data.split(b"\n")[0] + b"\n"


class Stdin:
    """sys.stdin during a stdin test, as lcb_runner patches it."""

    def __init__(self, text):
        self.text = text
        self._io = io.StringIO(text)
        self.buffer = StdinBuffer(text)

    def read(self, *args):
        return self.text

    def readline(self, *args):
        return self._io.readline(*args)

    def readlines(self, *args):
        return self.text.split("\n")

    def __getattr__(self, name):
        return getattr(self._io, name)


def run_stdin_program(function, text):
    """One call with stdin patched as lcb_runner patches it: `sys.stdin` (with the line-iterator
    `readline`, `readlines` and `read` it sets on it) and `open` (any file reads the input; a
    StringIO stands in for unittest.mock's mock_open, which costs 45 ms of imports per run)."""
    lines = iter(text.split("\n"))
    stdin = Stdin(text)
    stdin.readline = lambda *args: next(lines)
    stdin.readlines = lambda *args: text.split("\n")
    stdin.read = lambda *args: text
    saved = sys.stdin, builtins.open
    sys.stdin, builtins.open = stdin, lambda *args, **kwargs: io.StringIO(text)
    try:
        return function()
    except SystemExit:
        pass
    finally:
        sys.stdin, builtins.open = saved


def lcb_guard():
    """lcb_runner's reliability_guard: the same names disabled, so code behaves as it would there."""
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    import shutil
    import subprocess

    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def encode(value, depth=0):
    """The returned value as JSON that keeps what `==` tells apart: lists stay lists, tuples and
    dicts are tagged, anything else is opaque (never equal to an expected JSON value)."""
    if depth > 200:
        return {"__opaque__": "nested too deep"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    item = getattr(value, "item", None)  # numpy scalars compare like the Python number
    if callable(item) and getattr(value, "shape", None) == ():
        return encode(item(), depth + 1)
    return {"__opaque__": type(value).__name__}


def report_error(index, error):
    if isinstance(error, TimeLimit):
        status = "timeout"
    elif isinstance(error, MemoryError):
        status = "memory"
    elif isinstance(error, OutputLimit):
        status = "output"
    else:
        status = "error"
    _send({"test": index, "status": status, "error": repr(error)[:500]})


def main():
    sys.set_int_max_str_digits(50000)
    code, fn_name, inputs, cap = JOB["code"], JOB["fn_name"], JOB["inputs"], JOB["output_chars"]
    lcb_guard()
    try:
        if fn_name is None:
            source, entry = as_function(hoist_main_guard(code)), "wrapped_function"
        else:
            source, entry = PREAMBLE + "\n" + code, fn_name
            arguments = [[json.loads(line) for line in text.split("\n")] for text in inputs]
        start_timer()
        try:
            # lcb_runner's compile_code, for both kinds of problem: wherever the text "class
            # Solution" occurs in the code (after a stdin program's wrapping, which drops comments),
            # the entry is looked up on a `Solution()` instance. A stdin program's top-level class
            # has moved into wrapped_function by then, so `Solution` is missing and the program
            # fails there (-4 on every test): it fails here too.
            module = types.ModuleType("tmp_sol", "")
            exec(source, module.__dict__)
            compiled = module.Solution() if "class Solution" in source else module
            function = getattr(compiled, entry)  # get_function: a missing entry is lcb_runner's -4 as well
        finally:
            stop_timer()
    except BaseException as e:  # does not compile, or its top level fails: lcb_runner's -4 for every test
        report_error(0, e)
        return
    for index, text in enumerate(inputs):
        captured = CappedStdout(cap)
        real_stdout = sys.stdout
        sys.stdout = captured
        try:
            start_timer()
            try:
                if fn_name is None:
                    run_stdin_program(function, text)
                else:
                    value = function(*arguments[index])
            finally:
                stop_timer()
        except Exception as e:
            sys.stdout = real_stdout
            report_error(index, OutputLimit("output limit") if captured.exceeded else e)
            return
        finally:
            sys.stdout = real_stdout
        if captured.exceeded:
            report_error(index, OutputLimit("output limit"))
            return
        try:
            if fn_name is None:
                payload = captured.getvalue().encode("utf-8", "surrogatepass")
            else:
                payload = json.dumps(encode(value)).encode("utf-8", "surrogatepass")
        except Exception as e:  # e.g. an int past the 50000-digit str limit, or out of memory
            report_error(index, e)
            return
        _send({"test": index, "status": "ok"}, payload)
    _send({"done": True})


main()
