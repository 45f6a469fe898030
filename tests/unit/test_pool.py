"""The pool's recycling logic with a fake backend (no containers needed)."""

import itertools
import threading

import pytest

from sandbox.docker_backend import SandboxUnavailable
from sandbox.pool import Pool


class FakeChannel:
    def __init__(self):
        self.closed = False

    def peek_closed(self):
        return self.closed


class FakeExecutor:
    def __init__(self, number):
        self.name, self.channel, self.destroyed = f"fake-{number}", FakeChannel(), threading.Event()

    def destroy(self):
        self.destroyed.set()


class FakeBackend:
    name = "fake"

    def __init__(self, fail=False):
        self.spawned, self.fail, self.closed = [], fail, False

    def spawn(self):
        if self.fail:
            raise SandboxUnavailable("engine is down")
        executor = FakeExecutor(len(self.spawned))
        self.spawned.append(executor)
        return executor

    def describe(self):
        return {}

    def close(self):
        self.closed = True


def test_healthy_executors_are_reused():
    backend = FakeBackend()
    pool = Pool(backend, 1)
    first = pool.acquire(5)
    pool.release(first, True)
    assert pool.acquire(5) is first and len(backend.spawned) == 1


def test_unhealthy_executors_are_destroyed_and_replaced():
    backend = FakeBackend()
    pool = Pool(backend, 1)
    first = pool.acquire(5)
    pool.release(first, False)
    second = pool.acquire(5)
    assert second is not first and first.destroyed.wait(5) and pool.recycled == 1


def test_an_executor_that_died_while_idle_is_skipped():
    backend = FakeBackend()
    pool = Pool(backend, 1)
    first = pool.acquire(5)
    pool.release(first, True)
    first.channel.closed = True
    assert pool.acquire(5) is not first


def test_close_destroys_everything():
    backend = FakeBackend()
    pool = Pool(backend, 3)
    held = pool.acquire(5)
    pool.close()
    assert backend.closed and held.destroyed.is_set()
    assert all(e.destroyed.is_set() for e in backend.spawned)


def test_a_dead_engine_is_one_clear_error():
    pool = Pool(FakeBackend(fail=True), 1)
    with pytest.raises(SandboxUnavailable, match="engine is down"):
        pool.acquire(5)


def test_a_key_never_meets_the_same_executor_twice():
    backend = FakeBackend()
    pool = Pool(backend, 1)
    first = pool.acquire(5, key="task-a")
    pool.release(first, True)
    other = pool.acquire(5, key="task-b")  # another task may follow on the same executor
    assert other is first
    pool.release(other, True)
    again = pool.acquire(5, key="task-a")
    assert again is not first and first.destroyed.wait(5)
    assert pool.retired_for_isolation == 1


def test_an_idle_executor_that_has_not_seen_the_key_is_preferred():
    backend = FakeBackend()
    pool = Pool(backend, 2)
    a = pool.acquire(5, key="k")
    b = pool.acquire(5, key="j")
    pool.release(a, True)
    pool.release(b, True)
    assert pool.acquire(5, key="k") is b and pool.retired_for_isolation == 0


def test_executors_are_replaced_after_their_job_quota():
    backend = FakeBackend()
    pool = Pool(backend, 1, max_jobs=2)
    first = pool.acquire(5)
    pool.release(first, True)
    assert pool.acquire(5) is first
    pool.release(first, True)
    assert pool.acquire(5) is not first and first.destroyed.wait(5)


def test_a_crashing_spawn_is_a_clear_error_not_a_dead_thread():
    class Broken(FakeBackend):
        def spawn(self):
            raise OSError(9, "Bad file descriptor")

    with pytest.raises(SandboxUnavailable, match="Bad file descriptor"):
        Pool(Broken(), 1).acquire(5)


def test_a_failed_start_does_not_fail_a_job_that_a_busy_executor_can_serve():
    class Flaky(FakeBackend):
        calls = itertools.count()

        def spawn(self):
            if next(self.calls):  # every start after the first fails
                raise SandboxUnavailable("engine hiccup")
            return super().spawn()

    pool = Pool(Flaky(), 2)
    first = pool.acquire(5)
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire(5)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # waits for the busy executor rather than raising the failed start
    pool.release(first, True)
    waiter.join(5)
    assert got == [first]
