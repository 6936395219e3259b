"""The process that runs a student's code: it loads the submission, calls the functions the grader asks for on the
arrays the grader sends, and sends back what they return. It never sees an expected answer and decides nothing.

Where this runs
---------------
``minivae.teaching.sandbox`` starts this file as a script of a fresh interpreter, ``python -I -X faulthandler
sandbox_child.py READ_FD WRITE_FD MEMORY_BYTES PACKAGE_ROOT``, in an empty temporary working directory, with its
stdout and stderr going to a capture file. It imports nothing of minivae (``-I`` ignores PYTHONPATH and the user's
site folder, and it would cost start-up time): only the standard library and NumPy. The module is also imported by
the grader, for the message format below (``encode`` / ``decode``), which both sides share.

Limits, set before any student code runs: the address space (RLIMIT_AS, MEMORY_BYTES), the size of a file it
writes (16 MiB, so a flood of prints cannot fill the disk), no core files. The time limit is the grader's: it
kills the process group.

Messages
--------
Both ways a message is an 8-byte big-endian length and an ``.npz`` archive: the entry ``__header__`` holds JSON
(as uint8), the entries ``a0``, ``a1``, ... the arrays the JSON refers to. Only numeric arrays, numbers, strings,
None, tuples, lists and dicts with string keys travel; anything else becomes ``{"t": "other", "type": name}``. The
grader reads the child's messages with ``np.load(allow_pickle=False)`` and ``json.loads``: nothing the child
sends is ever unpickled or executed.

Requests (grader -> child) and answers (child -> grader):

    {"op": "load", "source", "filename"}          -> {"ok": true, "functions": [names], "output_offset"}
    {"op": "call", "name", "args": [...], "reference": {"path", "names"}}
                                                  -> {"ok": true, "result", "args"} (args after the call)
    either may answer {"ok": false, "error": {"type", "message", "traceback"}} (the student's frames only)
"""
import io
import json
import os
import sys
import time

LENGTH_BYTES = 8
MAX_MESSAGE = 64 * 2**20  # a message larger than this is refused (the grader's inputs are a few kilobytes)
MAX_NODES = 10_000  # values in one message, so a deeply nested return value cannot exhaust the grader
MAX_DEPTH = 20
FILE_SIZE_LIMIT = 16 * 2**20

# ======================================================================================================================
# The message format, shared with the grader
# ======================================================================================================================


def _encode(value, arrays, depth, np):
    """One value as a JSON node; arrays go to the dict ``arrays`` under a0, a1, ..."""
    if len(arrays) > MAX_NODES or depth > MAX_DEPTH:
        raise ValueError("the value is too large or too deeply nested to send")
    if value is None or isinstance(value, (bool, str)):
        return {"t": "plain", "v": value[:10_000] if isinstance(value, str) else value}
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return {"t": "plain", "v": value} if isinstance(value, float) or abs(value) < 2**53 else \
            {"t": "plain", "v": float(value)}
    if isinstance(value, (tuple, list)):
        return {"t": type(value).__name__, "v": [_encode(v, arrays, depth + 1, np) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"t": "other", "type": "dict with keys that are not strings"}
        return {"t": "dict", "k": list(value), "v": [_encode(v, arrays, depth + 1, np) for v in value.values()]}
    if isinstance(value, (np.ndarray, np.generic, complex)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            return {"t": "other", "type": f"array of {array.dtype}"}
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"t": "array", "k": key, "scalar": not isinstance(value, np.ndarray)}
    return {"t": "other", "type": type(value).__name__}


def encode(header, np):
    """The bytes of one message: ``header`` (JSON-able, may hold values under "result" / "args") as npz."""
    arrays = {}
    header = dict(header)
    for key in ("result", "args"):
        if key in header:
            header[key] = _encode(header[key], arrays, 0, np)
    buffer = io.BytesIO()
    raw = json.dumps(header).encode("utf-8")
    np.savez(buffer, __header__=np.frombuffer(raw, dtype=np.uint8), **arrays)
    return buffer.getvalue()


class Unsendable:
    """What stands for a returned value that cannot travel (an object of the student's own class, a generator...);
    its class is named after the original type, so a message reads "got a Foo"."""


def _decode(node, archive, np, depth=0):
    kind = node.get("t") if isinstance(node, dict) else None
    if depth > MAX_DEPTH:
        raise ValueError("too deeply nested")
    if kind == "plain":
        value = node.get("v")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
    elif kind in ("tuple", "list"):
        items = [_decode(v, archive, np, depth + 1) for v in node["v"]]
        return tuple(items) if kind == "tuple" else items
    elif kind == "dict" and len(node["k"]) == len(node["v"]) and all(isinstance(k, str) for k in node["k"]):
        return {k: _decode(v, archive, np, depth + 1) for k, v in zip(node["k"], node["v"])}
    elif kind == "array" and isinstance(node.get("k"), str) and node["k"].startswith("a"):
        array = archive[node["k"]]
        return array[()] if node.get("scalar") else array
    elif kind == "other":
        name = "".join(c for c in str(node.get("type", "object")) if c.isalnum() or c == "_")[:60] or "object"
        return type(name, (Unsendable,), {})()
    raise ValueError(f"not a valid value: {str(node)[:100]}")


def decode(data, np):
    """The header of a message, with "result" / "args" turned back into values. Raises ValueError when the bytes
    are not a valid message. Arrays are read with allow_pickle=False."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            header = json.loads(archive["__header__"].tobytes().decode("utf-8"))
            if not isinstance(header, dict):
                raise ValueError("the header is not a dict")
            arrays = {k: archive[k] for k in archive.files if k != "__header__"}
            for key in ("result", "args"):
                if key in header:
                    header[key] = _decode(header[key], arrays, np)
    except (OSError, KeyError, UnicodeDecodeError, json.JSONDecodeError, TypeError, AttributeError,
            RecursionError, EOFError) as err:
        raise ValueError(f"not a valid message ({type(err).__name__}: {err})") from err
    return header


def frame(data):
    return len(data).to_bytes(LENGTH_BYTES, "big") + data


# ======================================================================================================================
# The child's side
# ======================================================================================================================


def _set_limits(memory_bytes):
    import resource
    import signal

    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError instead of killing


def _read_exactly(fd, n):
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 2**20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(fd, np):
    n = int.from_bytes(_read_exactly(fd, LENGTH_BYTES), "big")
    return decode(_read_exactly(fd, n), np)


def _send(fd, header, np):
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        data = encode(header, np)
    except (ValueError, RecursionError) as err:
        data = encode({"ok": False, "error": {"type": "ValueError", "message": f"the value returned could not be "
                                              f"sent to the grader: {err}", "traceback": ""}}, np)
    view = memoryview(frame(data))
    while view:
        view = view[os.write(fd, view):]


def _error(err, filename):
    """The exception as the grader reports it: its type, its message, and the frames of the student's file."""
    import traceback

    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == filename]
    text = "".join(traceback.format_list(frames)) if frames else ""
    if isinstance(err, SyntaxError):
        text += "".join(traceback.format_exception_only(type(err), err))
    try:
        message = str(err)
    except BaseException:  # noqa: BLE001 - a student's exception whose __str__ raises
        message = "(its message could not be shown)"
    return {"type": type(err).__name__, "message": message[:2000], "traceback": text[-4000:]}


class Child:
    """The state of the child between requests: the student's module and, once asked for, the reference one."""

    def __init__(self, np):
        self.np = np
        self.module = None
        self.filename = None
        self.reference = {}  # path -> the namespace of a reference file, loaded on first use

    def load(self, request):
        import linecache
        import types

        self.filename = request["filename"]
        source = request["source"]
        linecache.cache[self.filename] = (len(source), None, source.splitlines(True), self.filename)  # for tracebacks
        module = types.ModuleType("submission")
        module.__file__ = self.filename
        sys.modules["submission"] = module  # dataclasses and friends look their module up
        exec(compile(source, self.filename, "exec"), module.__dict__)
        self.module = module
        names = sorted(k for k, v in module.__dict__.items() if callable(v) and not k.startswith("__"))
        sys.stdout.flush()
        sys.stderr.flush()
        return {"ok": True, "functions": names, "output_offset": os.lseek(1, 0, os.SEEK_CUR)}

    def _reference_namespace(self, path):
        if path not in self.reference:
            namespace = {"__name__": "reference", "__file__": path}
            with open(path, encoding="utf-8") as f:
                exec(compile(f.read(), path, "exec"), namespace)
            self.reference[path] = namespace
        return self.reference[path]

    def call(self, request):
        """Call one function; the names in request["reference"] are the reference's for the duration."""
        namespace = self.module.__dict__
        reference = request.get("reference") or {}
        saved = {}
        if reference.get("names"):
            ref = self._reference_namespace(reference["path"])
            saved = {name: namespace.get(name, Child) for name in reference["names"]}
            namespace.update({name: ref[name] for name in reference["names"]})
        args = request["args"]
        try:
            result = namespace[request["name"]](*args)
        finally:
            for name, fn in saved.items():
                if fn is Child:
                    namespace.pop(name, None)
                else:
                    namespace[name] = fn
        return {"ok": True, "result": result, "args": args}


def main(argv):
    started = time.perf_counter()
    read_fd, write_fd, memory_bytes = int(argv[1]), int(argv[2]), int(argv[3])
    _set_limits(memory_bytes)
    sys.path.insert(0, argv[4])  # the grader's own minivae, for a submission that imports it (-I dropped it)
    import numpy as np

    child = Child(np)
    _send(write_fd, {"ok": True, "ready": True, "startup": time.perf_counter() - started,
                     "startup_cpu": time.process_time()}, np)
    while True:
        try:
            request = _receive(read_fd, np)
        except EOFError:
            return
        if request.get("op") == "exit":
            return
        try:
            answer = child.load(request) if request.get("op") == "load" else child.call(request)
        except BaseException as err:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, MemoryError: all reported
            answer = {"ok": False, "error": _error(err, child.filename)}
        _send(write_fd, answer, np)


if __name__ == "__main__":
    main(sys.argv)
