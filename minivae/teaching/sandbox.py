"""Running a student's code in a process of its own: the grader's side of ``minivae.teaching.sandbox_child``.

    with Sandbox(timeout=20, memory_mb=2048) as box:     a fresh interpreter, started and ready
        names = box.load(submission)                      the student's file, executed in the child
        module = RemoteModule(box, names)                 stands for the student's module in the grader
        module.linear_forward(x, W, b)                    runs in the child; the arrays come back

What runs where, and why
------------------------
The grader's process computes the inputs, the reference, the comparison, the tolerance, the hint and the report.
The child (``python -I``, an empty temporary working directory, a memory limit, stdout and stderr captured to a
file) only runs the student's functions on the arrays the grader sends and returns what they give. So nothing a
submission does reaches the verdict: patching minivae, raising a tolerance, reading the caller's frames (the caller
is the child's message loop, which holds the inputs only) or printing a fake "Score" line all stay in the child.
A check written for a real module runs unchanged on a ``RemoteModule``: each call of a student's function is one
request and one answer.

A call that cannot finish (the time limit, the process ended by ``os._exit``, a segfault, a memory error that
killed it, an answer that is not a valid message) raises ``SandboxStopped``. It derives from BaseException, like
KeyboardInterrupt, so that no ``except Exception`` inside a check mistakes it for an ordinary wrong answer; the
grader catches it and fails the exercise with its message. An exception the student's code raised comes back by
type name, message and the student's own traceback frames, rebuilt as a ``StudentCodeError`` (or a
NotImplementedError, which the grader reads as "not done yet").
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from minivae.teaching import sandbox_child as wire

CHILD_SCRIPT = Path(wire.__file__)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the grader's minivae package
STARTUP_TIMEOUT = 60.0  # seconds for a fresh interpreter to import NumPy; beyond it the machine is the problem
OUTPUT_LIMIT = 2000  # characters of captured output kept for the report
DEFAULT_TIMEOUT = 20.0
DEFAULT_MEMORY_MB = 2048
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class SandboxStopped(BaseException):
    """The child could not answer: the time limit, a crash, the process ended, an invalid answer."""


class GraderError(RuntimeError):
    """The grader could not start a child at all: a problem of the machine, not of the submission."""


class StudentCodeError(Exception):
    """An exception raised by the student's code in the child, rebuilt from its type name and message.

    student_traceback : the frames of the student's file, formatted ("" if none)
    """

    student_traceback = ""


def rebuild_exception(error):
    """The exception the student's code raised, as an instance of a class named like the original (so a message
    reads "raised IndexError: ..."); NotImplementedError stays one, so the grader can call the exercise a TODO."""
    name = str(error.get("type", "Exception"))
    name = name if name.isidentifier() else "Exception"
    base = NotImplementedError if name == "NotImplementedError" else StudentCodeError
    cls = type(name, (base,), {"__module__": "submission", "student_traceback": ""})
    err = cls(str(error.get("message", "")))
    err.student_traceback = str(error.get("traceback", ""))
    return err


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _child_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({k: "1" for k in THREAD_VARIABLES})  # many children run at once: one thread each
    return env


class Sandbox:
    """One child process for one exercise of one submission. Use it as a context manager: it starts on enter
    (waiting until NumPy is imported) and on exit is killed with its whole process group and its folder removed.

    timeout : seconds the student's code may run in total (from ``load`` on);  memory_mb : its address space
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT, memory_mb=DEFAULT_MEMORY_MB):
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self.process = None
        self.folder = None
        self.deadline = None
        self.output_offset = 0
        self.startup_seconds = None  # wall time from spawn to ready
        self.startup_cpu = None  # CPU seconds the child spent until ready (the interpreter, NumPy)

    # ------------------------------------------------------------------------------------------ life cycle
    def start(self):
        """Spawn the child and return without waiting for it (``wait_ready`` waits)."""
        self.folder = Path(tempfile.mkdtemp(prefix="minivae-grade-"))
        work = self.folder / "work"
        work.mkdir()
        self.capture = open(self.folder / "output.txt", "wb")
        to_child, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self._spawned = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-X", "faulthandler", str(CHILD_SCRIPT), str(to_child), str(from_child_w),
                 str(int(self.memory_mb * 2**20)), str(PACKAGE_ROOT)],
                cwd=work, stdin=subprocess.DEVNULL, stdout=self.capture, stderr=subprocess.STDOUT,
                pass_fds=(to_child, from_child_w), start_new_session=True, env=_child_environment())
        finally:
            os.close(to_child)
            os.close(from_child_w)
        return self

    def wait_ready(self):
        self.deadline = time.monotonic() + STARTUP_TIMEOUT
        try:
            answer = self._receive(what="start")
        except SandboxStopped as err:
            raise GraderError(f"the grader could not start a Python process for the student's code: {err}. "
                              f"Its output: {self.output()[:500]}") from None
        self.startup_seconds = time.perf_counter() - self._spawned
        cpu = answer.get("startup_cpu")
        self.startup_cpu = float(cpu) if isinstance(cpu, (int, float)) else None
        return answer

    def __enter__(self):
        if self.process is None:
            self.start()
        if self.startup_seconds is None:
            self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Kill the child's process group, keep its output for ``output``, remove its folder."""
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        for fd in (getattr(self, "_to_child", None), getattr(self, "_from_child", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._to_child = self._from_child = None
        if self.folder is not None:
            self._output = self._read_output()
            self.capture.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # ------------------------------------------------------------------------------------------ output
    def _read_output(self):
        path = self.folder / "output.txt"
        try:
            with open(path, "rb") as f:
                data = f.read(2**20)
            size = path.stat().st_size
        except OSError:
            return b"", 0
        return data, size

    def output(self, part="calls"):
        """The captured stdout and stderr as text: part "import" (while the file was loaded) or "calls"
        (after); at most OUTPUT_LIMIT characters, with a note of how much was left out."""
        data, size = self._output if self.folder is None else self._read_output()
        offset = min(max(self.output_offset, 0), len(data))
        chunk = data[:offset] if part == "import" else data[offset:]
        total = offset if part == "import" else max(size - offset, 0)
        text = chunk.decode("utf-8", errors="replace")
        if str(CHILD_SCRIPT) in text:  # a crash dump (faulthandler) lists the child's own frames: not the student's
            text = "\n".join(line for line in text.split("\n") if str(CHILD_SCRIPT) not in line)
        if len(text) > OUTPUT_LIMIT or total > len(chunk):
            text = text[:OUTPUT_LIMIT] + f"\n[... output truncated: {total} bytes in all, the first {OUTPUT_LIMIT} " \
                                         "characters shown]"
        return text

    # ------------------------------------------------------------------------------------------ messages
    def _stopped(self, what, ended=False):
        """The SandboxStopped that says why the child did not answer: it ended (``ended``: its pipe closed) or it
        is still running past the time limit."""
        if ended:
            try:
                self.process.wait(timeout=5)  # the pipe closes a moment before the process can be reaped
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.close()
            return SandboxStopped(f"stopped after {self.timeout:g} s, the time limit of one exercise: an endless "
                                  f"loop, or far too slow (while {what})")
        code = self.process.returncode
        self.close()
        if code is not None and code < 0:
            name = _signal_name(-code)
            why = {"SIGSEGV": "a crash (segmentation fault)", "SIGKILL": "killed (out of memory?)",
                   "SIGABRT": "aborted", "SIGBUS": "a crash (bus error)"}.get(name, "killed")
            return SandboxStopped(f"the process running your code ended by {name}, {why}, while {what}")
        return SandboxStopped(f"the process running your code ended with exit code {code} while {what} (os._exit? "
                              "a graded function must return its result)")

    def _send(self, header):
        view = memoryview(wire.frame(wire.encode(header, np)))
        while view:
            if not select.select([], [self._to_child], [], self._remaining())[1]:
                raise self._stopped(f"sending the inputs of {header.get('name', 'the file')}")
            try:
                view = view[os.write(self._to_child, view):]
            except OSError:  # a broken pipe: the child is gone
                raise self._stopped("receiving the inputs", ended=True) from None

    def _remaining(self):
        return max(self.deadline - time.monotonic(), 0.0)

    def _read_exactly(self, n, what):
        chunks, got = [], 0
        while got < n:
            if self._from_child is None or not select.select([self._from_child], [], [], self._remaining())[0]:
                raise self._stopped(what)
            chunk = os.read(self._from_child, min(n - got, 2**20))
            if not chunk:
                raise self._stopped(what, ended=True)
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _receive(self, what):
        n = int.from_bytes(self._read_exactly(wire.LENGTH_BYTES, what), "big")
        if n > wire.MAX_MESSAGE:
            self.close()
            raise SandboxStopped(f"your code returned more than {wire.MAX_MESSAGE // 2**20} MB while {what}")
        data = self._read_exactly(n, what)
        try:
            return wire.decode(data, np)
        except ValueError as err:
            self.close()
            raise SandboxStopped(f"the process running your code sent an answer that is not valid while {what} "
                                 f"({err})") from None

    def request(self, header, what):
        """Send a request and wait for its answer (until the time limit); raise SandboxStopped if none comes."""
        if self.process is None or self.process.returncode is not None or self._from_child is None:
            raise SandboxStopped(f"the process running your code had already stopped (while {what})")
        self._send(header)
        return self._receive(what)

    # ------------------------------------------------------------------------------------------ the student's code
    def load(self, source, filename):
        """Execute the submission in the child; return the names of its callables. The time limit starts here.

        Raises StudentCodeError (with the student's frames) when the file raises while it is executed.
        """
        self.deadline = time.monotonic() + self.timeout
        answer = self.request({"op": "load", "source": source, "filename": filename}, "loading the file")
        if not answer.get("ok"):
            raise rebuild_exception(answer.get("error") or {})
        self.output_offset = int(answer.get("output_offset", 0))
        return [str(n) for n in answer.get("functions", [])]

    def call(self, name, args, reference=None):
        """Run the student's function ``name`` on ``args`` in the child; return (result, args after the call)."""
        answer = self.request({"op": "call", "name": name, "args": list(args), "reference": reference},
                              f"running {name}")
        if not answer.get("ok"):
            raise rebuild_exception(answer.get("error") or {})
        after = answer.get("args")
        return answer.get("result"), after if isinstance(after, list) and len(after) == len(args) else list(args)


# ======================================================================================================================
# The student's module, as the checks see it
# ======================================================================================================================


def _write_back(original, after):
    """Copy an argument's state after the call into the grader's object, so that a check sees an in-place change
    exactly as if the function had run here (arrays element-wise, dicts key by key)."""
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if after.shape == original.shape and original.flags.writeable:
            try:
                np.copyto(original, after, casting="unsafe")
            except (TypeError, ValueError):
                pass
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in list(original):
            if key not in after:
                del original[key]
        for key, value in after.items():
            if key in original and isinstance(original[key], (np.ndarray, dict)):
                _write_back(original[key], value)
            else:
                original[key] = value


class RemoteFunction:
    """A student's function that runs in the child. Calling it sends the arguments and returns the result."""

    def __init__(self, box, name, module):
        self.box, self.__name__, self.module = box, name, module

    def _reference(self):
        """The names the grader has put in place of the student's in the module (the reference building blocks
        while the VAE is graded), with the file of the reference they come from."""
        swapped = {k: v for k, v in vars(self.module).items()
                   if isinstance(v, types.FunctionType) and not isinstance(v, RemoteFunction)}
        if not swapped:
            return None
        files = {sys.modules[fn.__module__].__file__ for fn in swapped.values()}
        if len(files) != 1:
            raise RuntimeError(f"reference functions from several files put in place: {sorted(files)}")
        return {"path": files.pop(), "names": sorted(swapped)}

    def __call__(self, *args):
        result, after = self.box.call(self.__name__, args, self._reference())
        for original, new in zip(args, after):
            _write_back(original, new)
        return result

    def __repr__(self):
        return f"<the student's {self.__name__}, run in a separate process>"


class RemoteModule:
    """Stands for the student's module in the grader: one RemoteFunction per callable the file defines. A check
    may put a reference function in place of one of them (``vars(module)[name] = fn``): the child then runs that
    name's reference for the calls made meanwhile."""

    def __init__(self, box, names):
        for name in names:
            setattr(self, name, RemoteFunction(box, name, self))
