"""Large replies are decoded in worker processes, not in the judging process.

Every judging thread of `agent check` or the bench shares one interpreter lock: one
multi-megabyte reply parsed and decoded in that process would hold it for a large part
of a second, slowing every other sample judged beside it. A reply over the channel's
`INLINE_LIMIT` bytes goes to one of a few worker processes instead (plain subprocesses
running `serve()`: no multiprocessing, so no dependence on how the main program was
started); the bounded decoder runs there under the job's own deadline, and what comes
back (already checked: no hash collisions, bounded size, builtins only) is rebuilt here
by unpickling, a linear C loop."""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.executor import CodecError, DecodeTimeout, FrameError, decode, parse, write_all

WORKERS = 2
# True in a process that judges one job alone (the trusted side's child): it decodes large
# replies itself, under the same deadline, instead of starting worker processes.
INLINE = False
_HEADER = struct.Struct(">Id")  # payload size, seconds left
_SIZE = struct.Struct(">I")
_ROOT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Decoded:
    """A return's value and mutations, decoded in a worker: no JSON frame can produce one."""

    value: object
    mutated: dict[int, object]


def decode_return(message: dict, deadline: float | None) -> Decoded:
    """A return's value and mutations, decoded; the judge calls it for small replies, the
    workers for large ones. Raises CodecError (DecodeTimeout past `deadline`)."""
    if isinstance(message.get("value"), Decoded):  # decoded already, in a worker
        return message["value"]
    mutated = message.get("mutated") or {}
    if type(mutated) is not dict:
        raise CodecError("malformed mutations")
    try:
        changes = {int(i): decode(v, deadline) for i, v in mutated.items()}
    except ValueError as exc:
        raise CodecError(f"malformed mutations: {exc}") from None
    return Decoded(decode(message.get("value"), deadline), changes)


def decode_reply(payload: bytes, seconds: float) -> dict:
    """The whole reply parsed and, for a return, its value and mutations decoded in time."""
    deadline = time.monotonic() + seconds
    try:
        message = parse(payload)
    except FrameError as exc:
        raise CodecError(str(exc)) from None
    if message.get("op") == "return":
        message["value"] = decode_return(message, deadline)
        message.pop("mutated", None)
    return message


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def serve() -> None:
    """A worker's loop: requests on stdin, pickled ("ok", message) or ("error", timed_out, text) on stdout."""
    while True:
        try:
            size, seconds = _HEADER.unpack(_read_exactly(0, _HEADER.size))
            payload = _read_exactly(0, size)
        except EOFError:
            return
        try:
            reply = ("ok", decode_reply(payload, seconds))
        except DecodeTimeout as exc:
            reply = ("error", True, str(exc))
        except (CodecError, RecursionError, MemoryError) as exc:
            reply = ("error", False, str(exc) or type(exc).__name__)
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        write_all(1, _SIZE.pack(len(data)) + data)


class _Worker:
    def __init__(self) -> None:
        command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {_ROOT!r}); "
                                         "from sandbox.offload import serve; serve()"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, bufsize=0, env={})

    def ask(self, payload: bytes, seconds: float) -> tuple:
        write_all(self.process.stdin.fileno(), _HEADER.pack(len(payload), seconds) + payload)
        fd, deadline = self.process.stdout.fileno(), time.monotonic() + seconds + 1.0
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise TimeoutError
        (size,) = _SIZE.unpack(_read_exactly(fd, _SIZE.size))
        return pickle.loads(_read_exactly(fd, size))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


_idle: list[_Worker] = []
_everyone: set[_Worker] = set()
_slots = threading.BoundedSemaphore(WORKERS)
_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _lock:
        workers = list(_everyone)
        _everyone.clear()
        _idle.clear()
    for worker in workers:
        worker.kill()


def decode_large_reply(payload: bytes, deadline: float) -> dict:
    """The reply's message; for a return, its "value" is a `Decoded`.
    Raises DecodeTimeout past `deadline`, CodecError for a value that may not cross."""
    if INLINE:
        try:
            return decode_reply(payload, max(0.0, deadline - time.monotonic()))
        except (RecursionError, MemoryError) as exc:
            raise CodecError(str(exc) or type(exc).__name__) from None
    if not _slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise DecodeTimeout("no decoding worker became free before the deadline")
    worker = None
    try:
        with _lock:
            worker = _idle.pop() if _idle else None
        if worker is None:
            worker = _Worker()
            with _lock:
                _everyone.add(worker)
        seconds = deadline - time.monotonic()
        if seconds <= 0:
            raise DecodeTimeout("decoding the value ran past the deadline")
        reply = worker.ask(payload, seconds)
    except (TimeoutError, OSError, EOFError, pickle.UnpicklingError, struct.error):
        if worker is not None:  # stuck or dead: never reused
            with _lock:
                _everyone.discard(worker)
            worker.kill()
            worker = None
        raise DecodeTimeout("decoding the value ran past the deadline") from None
    finally:
        if worker is not None:
            with _lock:
                _idle.append(worker)
        _slots.release()
    if reply[0] == "ok":
        return reply[1]
    raise (DecodeTimeout if reply[1] else CodecError)(reply[2])
