"""The `Sandbox` seam and its pooled implementation over a backend."""

from __future__ import annotations

import atexit
import threading
from typing import Callable, Protocol

from sandbox.channel import TransportLost
from sandbox.config import SandboxConfig
from sandbox.docker_backend import DockerBackend, SandboxUnavailable, docker_client
from sandbox.image import ImageBuildError, build_image, image_exists, image_tag
from sandbox.judge import judge
from sandbox.pool import Backend, Pool
from sandbox.process_backend import BubblewrapBackend, UnsharedProcessBackend
from sandbox.trusted import Relay, TrustedBackend, finish_trusted
from sandbox.verdict import Job, Verdict


class Sandbox(Protocol):
    backend_name: str

    def run(self, job: Job) -> Verdict: ...
    def describe(self) -> dict[str, str]: ...
    def close(self) -> None: ...


_OPEN: set["PooledSandbox"] = set()
_OPEN_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    with _OPEN_LOCK:
        sandboxes = list(_OPEN)
    for sandbox in sandboxes:
        sandbox.close()


class PooledSandbox:
    """Runs jobs on a warm pool of executors; thread-safe, one job per executor at a time.

    With a `trusted` backend (the default everywhere but the weak unshared fallback), each
    job's tests run in a judge executor of their own (`sandbox/trusted.py`) and this process
    only relays; without one, they run here, in this process."""

    ACQUIRE_TIMEOUT = 120.0
    LOST_ATTEMPTS = 3

    def __init__(self, backend: Backend, size: int, max_jobs: int = 256, trusted: Backend | None = None,
                 trusted_size: int | None = None) -> None:
        self.backend = backend
        self.backend_name = backend.name
        self.pool = Pool(backend, size, max_jobs)
        self.trusted_pool = Pool(trusted, trusted_size or size, max_jobs) if trusted is not None else None
        with _OPEN_LOCK:
            _OPEN.add(self)

    def run(self, job: Job) -> Verdict:
        """The job's verdict. A job whose channel this process lost (never the candidate's
        doing) runs again on fresh executors, at most LOST_ATTEMPTS times in all."""
        for attempt in range(self.LOST_ATTEMPTS):
            try:
                return self._run_once(job)
            except TransportLost as exc:
                if attempt == self.LOST_ATTEMPTS - 1:
                    raise SandboxUnavailable(f"{exc}, {self.LOST_ATTEMPTS} times") from None
        raise AssertionError("unreachable")

    def _run_once(self, job: Job) -> Verdict:
        executor = self.pool.acquire(self.ACQUIRE_TIMEOUT, key=job.isolation_key())
        if self.trusted_pool is None:
            try:
                verdict, healthy = judge(job, executor.channel)
            except BaseException:
                self.pool.release(executor, False)
                raise
            self.pool.release(executor, healthy)
            return verdict
        try:
            judge_executor = self.trusted_pool.acquire(self.ACQUIRE_TIMEOUT)
        except BaseException:
            self.pool.release(executor, True)
            raise
        try:
            verdict, healthy, judge_healthy = Relay(job, judge_executor.channel, executor.channel).run()
        except BaseException:
            self.pool.release(executor, False)
            self.trusted_pool.release(judge_executor, False)
            raise
        self.pool.release(executor, healthy)
        if judge_healthy:  # its clean-up and self-check run beside the next job
            threading.Thread(target=self._finish_trusted, args=(judge_executor,), daemon=True).start()
        else:
            self.trusted_pool.release(judge_executor, False)
        return verdict

    def _finish_trusted(self, judge_executor) -> None:
        try:
            healthy = finish_trusted(judge_executor.channel)
        except BaseException:  # noqa: BLE001 - a judge executor that cannot finish is replaced
            healthy = False
        self.trusted_pool.release(judge_executor, healthy)

    def describe(self) -> dict[str, str]:
        described = self.backend.describe()
        if self.trusted_pool is not None:
            described.update(self.trusted_pool.backend.describe())
        else:
            described["trusted side"] = "in the agent's own process (weaker isolation was accepted): a problem's " \
                                        "tests run with the user's rights"
        return described

    def close(self) -> None:
        with _OPEN_LOCK:
            if self not in _OPEN:
                return
            _OPEN.discard(self)
        pools = [self.pool] + ([self.trusted_pool] if self.trusted_pool is not None else [])
        threads = [threading.Thread(target=pool.close, daemon=True) for pool in pools]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=40)

    def __enter__(self) -> "PooledSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_backend(config: SandboxConfig, say: Callable[[str], None] = print) -> Backend:
    """Docker where an engine answers (building the image once if needed), else bubblewrap;
    where neither works, the unshared process backend only if weaker isolation was accepted.
    `backend="docker"` never falls back; `backend="process"` never uses Docker."""
    reasons = []
    if config.backend in ("auto", "docker"):
        try:
            client = docker_client()
            if config.image is None and not image_exists(client, image_tag()):
                say("building the sandbox image (once; about a minute)")
                try:
                    build_image(client, say)
                except ImageBuildError as exc:
                    raise SandboxUnavailable(str(exc)) from None
            return DockerBackend(config, client)
        except SandboxUnavailable as exc:
            if config.backend == "docker":
                raise
            reasons.append(str(exc))
    try:
        backend = BubblewrapBackend(config)
        if config.backend == "auto":
            say(f"{reasons[0]}; using the bubblewrap process sandbox")
        return backend
    except SandboxUnavailable as exc:
        reasons.append(str(exc))
    if not config.allow_weak_isolation:
        raise SandboxUnavailable(
            f"no sandbox can run here ({'; '.join(reasons)}); fix one of these, or pass --allow-weak-sandbox "
            "to accept a plain unshared process with weaker isolation")
    weak = UnsharedProcessBackend(config)
    say(weak.warning())
    return weak


def make_trusted(config: SandboxConfig, backend: Backend) -> Backend | None:
    """Where a problem's tests run: bubblewrap on the host's Python; in this process only on
    the weak unshared fallback, which the user accepted explicitly."""
    if isinstance(backend, UnsharedProcessBackend):
        return None
    return TrustedBackend(config)


def open_sandbox(config: SandboxConfig | None = None, say: Callable[[str], None] = print) -> PooledSandbox:
    config = config or SandboxConfig()
    backend = make_backend(config, say)
    try:
        trusted = make_trusted(config, backend)
    except SandboxUnavailable:
        backend.close()
        raise
    return PooledSandbox(backend, config.pool_size, config.max_jobs, trusted, config.workers + 1)
