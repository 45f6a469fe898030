"""A warm pool of executors: lease one per job, recycle any that may be tainted."""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from sandbox.channel import Channel
from sandbox.docker_backend import SandboxUnavailable


class Executor(Protocol):
    name: str
    channel: Channel

    def destroy(self) -> None: ...


class Backend(Protocol):
    name: str

    def spawn(self) -> Executor: ...
    def describe(self) -> dict[str, str]: ...
    def close(self) -> None: ...


class Pool:
    """Keeps `size` executors warm. Replacements start in the background, so a job
    never waits for a container to boot unless all of them are being recycled."""

    SPAWN_ATTEMPTS = 3

    def __init__(self, backend: Backend, size: int) -> None:
        self.backend, self.size = backend, size
        self._ready: queue.Queue[Executor | BaseException] = queue.Queue()
        self._lock = threading.Lock()
        self._all: set[Executor] = set()
        self._closed = False
        self.recycled = 0
        for _ in range(size):
            self._spawn_async()

    def _spawn(self) -> None:
        error: BaseException | None = None
        for _ in range(self.SPAWN_ATTEMPTS):
            if self._closed:
                return
            try:
                executor = self.backend.spawn()
            except SandboxUnavailable as exc:
                error = exc
                continue
            with self._lock:
                if self._closed:
                    executor.destroy()
                    return
                self._all.add(executor)
            self._ready.put(executor)
            return
        self._ready.put(error or SandboxUnavailable("the sandbox could not start an executor"))

    def _spawn_async(self) -> None:
        threading.Thread(target=self._spawn, name="sandbox-spawn", daemon=True).start()

    def acquire(self, timeout: float | None = None) -> Executor:
        try:
            item = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise SandboxUnavailable("no sandbox executor became free in time") from None
        if isinstance(item, BaseException):
            self._spawn_async()  # keep trying for the next caller
            raise item
        if item.channel.peek_closed():
            self.release(item, False)  # died while idle (engine restart, OOM of a stray): not a job's fault
            return self.acquire(timeout)
        return item

    def release(self, executor: Executor, healthy: bool) -> None:
        if healthy and not self._closed and not executor.channel.closed:
            self._ready.put(executor)
            return
        self.recycled += 1
        self._discard(executor)
        if not self._closed:
            self._spawn_async()

    def _discard(self, executor: Executor) -> None:
        with self._lock:
            self._all.discard(executor)
        threading.Thread(target=executor.destroy, name="sandbox-destroy", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executors = list(self._all)
            self._all.clear()
        threads = [threading.Thread(target=e.destroy, daemon=True) for e in executors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        self.backend.close()
