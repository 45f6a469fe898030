"""The host's end of the executor channel: framed messages with deadlines."""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections import deque
from typing import Protocol

from sandbox.executor import (CANDIDATE_TAG, CLOSED_TAG, EXECUTOR_TAG, MAX_FRAME, FrameError, FrameReader, pack,
                              parse)

INLINE_LIMIT = 64 * 1024  # candidate frames above this many bytes are decoded out of process


class ChannelClosed(ConnectionError):
    """The executor went away (it exited, crashed or was killed)."""


class ChannelTimeout(TimeoutError):
    """No frame arrived before the deadline."""


class TransportLost(RuntimeError):
    """This process closed a transport under a running job (its descriptor is gone). The
    candidate cannot cause it, so it is never a verdict: the job runs again elsewhere."""


def readable(transports: list, timeout: float | None) -> list:
    """The transports with something to read within `timeout` seconds."""
    try:
        return select.select(transports, [], [], timeout)[0]
    except ValueError:  # a descriptor of -1: closed here, not by the executor
        raise TransportLost("a sandbox channel was closed while its job ran") from None


class Transport(Protocol):
    """Raw bytes to and from one executor."""

    def fileno(self) -> int: ...
    def write(self, data: bytes) -> None: ...
    def read(self) -> bytes: ...  # b"" at end of stream; call only when readable
    def close(self) -> None: ...


class PipeTransport:
    """An executor that is a local child process: its stdin and stdout pipes, owned here
    (Popen's file objects, unbuffered) and closed once."""

    def __init__(self, stdin, stdout) -> None:
        self._stdin, self._stdout = stdin, stdout
        self._write_fd, self._read_fd = stdin.fileno(), stdout.fileno()

    def fileno(self) -> int:
        return self._read_fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._write_fd, view) :]

    def read(self) -> bytes:
        return os.read(self._read_fd, 1 << 20)

    def close(self) -> None:
        for stream in (self._stdin, self._stdout):
            try:
                stream.close()
            except OSError:
                pass


class SocketTransport:
    """The trusted side's end inside a judge executor: its socket to that executor, which the
    host relays to and from the candidate's executor."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read(self) -> bytes:
        return self._sock.recv(1 << 20)

    def close(self) -> None:
        self._sock.close()


_DOCKER_HEADER = struct.Struct(">BxxxI")


class DockerAttachTransport:
    """A container's attached stdin/stdout: Docker multiplexes stdout and stderr
    into frames with an 8-byte header; stderr is kept (its tail) for diagnostics."""

    def __init__(self, sock: socket.socket, keep: object = None) -> None:
        self._sock = sock
        # docker-py hangs the HTTP response on the object it returns: once that is collected,
        # the response's connection may close this socket under a running job.
        self._keep = keep
        self._pending = bytearray()
        self.stderr_tail = b""

    def fileno(self) -> int:
        return self._sock.fileno()

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def read(self) -> bytes:
        data = self._sock.recv(1 << 20)
        if not data:
            return b""
        self._pending += data
        out = bytearray()
        while len(self._pending) >= 8:
            stream, size = _DOCKER_HEADER.unpack_from(self._pending)
            if len(self._pending) < 8 + size:
                break
            chunk = bytes(self._pending[8 : 8 + size])
            del self._pending[: 8 + size]
            if stream == 1:
                out += chunk
            else:
                self.stderr_tail = (self.stderr_tail + chunk)[-4096:]
        if not out:
            # Only a partial or a stderr frame arrived: report "nothing yet", not EOF.
            return _NOTHING
        return bytes(out)

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._keep is not None and hasattr(self._keep, "close"):
            self._keep.close()  # its reference to the socket, which the socket's own close waits for
        self._sock.close()


class _Nothing(bytes):
    """Data was read but none of it was the executor's stdout."""


_NOTHING = _Nothing()


class Channel:
    """Sends requests to an executor and receives its tagged frames, with deadlines."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._reader = FrameReader(max_frame=16 * 1024 * 1024 + 1)
        self._frames: deque[bytes] = deque()
        self.closed = False

    def send(self, message: dict) -> None:
        if self.closed:
            raise ChannelClosed("the executor channel is closed")
        try:
            self.transport.write(pack(message))
        except OSError as exc:
            self.closed = True
            raise ChannelClosed(f"cannot write to the executor: {exc}") from None

    def receive(self, deadline: float) -> tuple[str, dict]:
        """Next frame as (who, message): who is "executor" or "candidate".

        A candidate frame that is not valid JSON is returned as ("candidate", {"op": "garbage"}); one
        over INLINE_LIMIT bytes unparsed, as ("candidate", {"op": "large", "payload": bytes}).
        """
        payload = self.receive_raw(deadline)
        tag, body = payload[:1], payload[1:]
        if tag == EXECUTOR_TAG:
            try:
                return "executor", parse(body)
            except FrameError as exc:
                self.closed = True
                raise ChannelClosed(f"the executor sent a malformed frame: {exc}") from None
        if tag == CANDIDATE_TAG:
            if len(body) > INLINE_LIMIT:  # parsed and decoded in a worker process (sandbox/offload.py)
                return "candidate", {"op": "large", "payload": body}
            try:
                return "candidate", parse(body)
            except FrameError:
                return "candidate", {"op": "garbage"}
        self.closed = True
        if tag == CLOSED_TAG:  # relayed: the candidate's executor went away
            raise ChannelClosed("the executor closed the channel")
        raise ChannelClosed("a frame with an unknown origin arrived")

    def receive_raw(self, deadline: float) -> bytes:
        """The next frame as it came: its origin byte and its body."""
        while not self._frames:
            if self.closed:
                raise ChannelClosed("the executor channel is closed")
            remaining = max(0.0, deadline - time.monotonic())
            # Once the deadline has passed, one last look with no wait: an answer already waiting
            # is taken, so a stall of this process (another sample's work) never becomes a timeout
            # of this candidate's; at worst a late answer is accepted during such a stall.
            if not readable([self.transport], remaining):
                if remaining == 0.0:
                    raise ChannelTimeout("no answer from the sandbox before the deadline")
                continue
            self.fill()
        return self._frames.popleft()

    def fill(self) -> None:
        """Reads what one read returns (call when readable); marks the channel closed at its end."""
        try:
            data = self.transport.read()
        except OSError:
            self._lost()
            data = b""
        if isinstance(data, _Nothing):
            return
        if not data:
            self.closed = True
            raise ChannelClosed("the executor closed the channel")
        try:
            self._frames.extend(self._reader.feed(data))
        except FrameError as exc:
            self.closed = True
            raise ChannelClosed(f"the executor broke the framing: {exc}") from None

    def buffered(self) -> bool:
        """A whole frame is waiting (receive_raw returns it without reading)."""
        return bool(self._frames)

    def send_raw(self, payload: bytes) -> None:
        """One frame of `payload` as it is (at most MAX_FRAME + 2 bytes)."""
        if self.closed:
            raise ChannelClosed("the executor channel is closed")
        if len(payload) > MAX_FRAME + 2:
            raise FrameError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME + 2}")
        try:
            self.transport.write(struct.pack(">I", len(payload)) + payload)
        except OSError as exc:
            self._lost()
            self.closed = True
            raise ChannelClosed(f"cannot write to the executor: {exc}") from None

    def _lost(self) -> None:
        """Raises TransportLost where this process closed the transport (not the executor)."""
        try:
            gone = self.transport.fileno() < 0
        except (OSError, ValueError):
            gone = True
        if gone:
            self.closed = True
            raise TransportLost("a sandbox channel was closed while its job ran")

    def peek_closed(self) -> bool:
        """True when the executor is known to be gone; never blocks."""
        if self.closed:
            return True
        try:
            while select.select([self.transport], [], [], 0)[0]:
                data = self.transport.read()
                if isinstance(data, _Nothing):
                    continue
                if not data:
                    self.closed = True
                    break
                self._frames.extend(self._reader.feed(data))
        except (OSError, ValueError, FrameError):  # ValueError: the transport's descriptor was closed (-1)
            self.closed = True
        return self.closed

    def close(self) -> None:
        self.closed = True
        self.transport.close()
