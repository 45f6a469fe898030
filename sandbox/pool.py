"""A warm pool of executors: lease one per job, recycle any that may be tainted, and
never let two jobs with the same secret meet in one executor."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
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


@dataclass
class _History:
    jobs: int = 0
    keys: set[str] = field(default_factory=set)


class Pool:
    """Keeps `size` executors warm; replacements start in the background.

    An executor serves at most `max_jobs` jobs, and never two jobs with the same secret
    key: whatever one job of a task leaves in an executor (an IPC object, a process or
    inode counter, a cgroup statistic, any channel nobody has listed yet), no later job of
    that task runs there to read it. A job whose key every idle executor has seen retires
    one of them and takes a fresh one."""

    SPAWN_ATTEMPTS = 3

    def __init__(self, backend: Backend, size: int, max_jobs: int = 256) -> None:
        self.backend, self.size, self.max_jobs = backend, size, max_jobs
        self._cond = threading.Condition()
        self._idle: list[Executor] = []
        self._history: dict[Executor, _History] = {}
        self._starting = 0
        self._unfit_waiters = 0
        self._error: BaseException | None = None
        self._closed = False
        self.recycled = 0  # executors retired after a timeout, crash, taint or their job quota
        self.retired_for_isolation = 0  # executors retired because every idle one had seen the job's key
        for _ in range(size):
            self._spawn_async()

    # -- starting and retiring executors ----------------------------------------------
    def _spawn_async(self) -> None:
        with self._cond:
            self._starting += 1
        threading.Thread(target=self._spawn, name="sandbox-spawn", daemon=True).start()

    def _spawn(self) -> None:
        error: BaseException | None = None
        for _ in range(self.SPAWN_ATTEMPTS):
            if self._closed:
                break
            try:
                executor = self.backend.spawn()
            except SandboxUnavailable as exc:
                error = exc
                continue
            except Exception as exc:  # noqa: BLE001 - one executor's failed start never takes the pool down
                error = SandboxUnavailable(f"the sandbox could not start an executor: {exc}")
                continue
            with self._cond:
                if not self._closed:
                    self._starting -= 1
                    self._history[executor] = _History()
                    self._idle.append(executor)
                    self._error = None
                    self._cond.notify_all()
                    return
            # started after the pool closed: gone before close() stops waiting for it
            executor.destroy()
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self._error = error or SandboxUnavailable("the sandbox could not start an executor")
            self._cond.notify_all()

    def _retire(self, executor: Executor) -> None:
        """Destroys `executor` in the background and starts its replacement; holds the lock."""
        self._history.pop(executor, None)
        threading.Thread(target=executor.destroy, name="sandbox-destroy", daemon=True).start()
        if not self._closed:
            self._spawn_async()

    # -- leasing ---------------------------------------------------------------------
    def acquire(self, timeout: float | None = None, key: str | None = None) -> Executor:
        """An idle executor that has never served a job with `key`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting_unfit = False
        with self._cond:
            try:
                while True:
                    if self._closed:
                        raise SandboxUnavailable("the sandbox is closed")
                    fit = next((e for e in self._idle if key is None or key not in self._history[e].keys), None)
                    if fit is not None:
                        self._idle.remove(fit)
                        if fit.channel.peek_closed():  # died while idle: not a job's fault
                            self.recycled += 1
                            self._retire(fit)
                            continue
                        if key is not None:
                            self._history[fit].keys.add(key)
                        return fit
                    if not waiting_unfit:
                        waiting_unfit = True
                        self._unfit_waiters += 1
                    if self._idle and self._starting < self._unfit_waiters:
                        # every idle executor has seen this key: retire the most used one
                        worn = max(self._idle, key=lambda e: self._history[e].jobs)
                        self._idle.remove(worn)
                        self.retired_for_isolation += 1
                        self._retire(worn)
                        continue
                    if self._error is not None and not self._starting and not self._history:
                        # nothing alive, nothing starting: the backend is down (busy executors would come back)
                        error, self._error = self._error, None
                        self._spawn_async()  # keep trying for the next caller
                        raise error
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise SandboxUnavailable("no sandbox executor became free in time")
                    self._cond.wait(remaining)
            finally:
                if waiting_unfit:
                    self._unfit_waiters -= 1

    def release(self, executor: Executor, healthy: bool) -> None:
        with self._cond:
            history = self._history.get(executor)
            if history is None:
                return
            history.jobs += 1
            if healthy and not self._closed and not executor.channel.closed and history.jobs < self.max_jobs:
                self._idle.append(executor)
                self._cond.notify_all()
                return
            self.recycled += 1
            self._retire(executor)

    def close(self, wait: float = 5.0) -> None:
        """Destroys every executor, and waits (at most `wait` seconds, so that a stop stays
        quick) for those still starting, which destroy themselves as soon as they have
        started: none outlives the pool for long, and none outlives the process (bubblewrap
        dies with it, a container's executor with its closed stdin)."""
        with self._cond:
            self._closed = True
            executors = list(self._history)
            self._history.clear()
            self._idle.clear()
            self._cond.notify_all()
        started = time.monotonic()
        threads = [threading.Thread(target=e.destroy, daemon=True) for e in executors]
        for thread in threads:
            thread.start()
        # the wait for those still starting runs beside the destroys, not after them
        with self._cond:
            while self._starting and time.monotonic() < started + wait:
                self._cond.wait(started + wait - time.monotonic())
        for thread in threads:
            thread.join(timeout=max(0.0, started + 15 - time.monotonic()))
        self.backend.close()
