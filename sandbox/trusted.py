"""The trusted side of a job in a sandbox of its own.

A problem's tests are untrusted code too: datasets come from the internet, and in
reinforcement-learning pipelines a model writes them. So they never run in the `agent`
process. A judge executor (`sandbox/executor.py --role=judge`) runs under bubblewrap on
the executor's runtime (read-only) with the judge's own modules and pydantic beside it
(`trusted_site`): no network, user nobody, new namespaces with the executor as PID 1,
the seccomp filter, a tmpfs scratch, and a fresh forked child per job that runs
`sandbox.judge` with `candidate` a proxy. The host only
relays frames between that child and the candidate's executor, and bounds the whole job:
a test that hangs, exits or breaks its channel fails its own samples, and the judge
executor is replaced. The verdict the child returns is validated here.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import time
from pathlib import Path

from pydantic import ValidationError

from sandbox.channel import Channel, ChannelClosed, readable
from sandbox.config import SandboxConfig
from sandbox.docker_backend import SandboxUnavailable, await_greeting
from sandbox.executor import CANDIDATE_TAG, CLOSED_TAG, EXECUTOR_TAG, FORWARD_TAG, FrameError, parse
from sandbox.judge import FINISH_GRACE, _finish, too_large
from sandbox.process_backend import NOBODY, BubblewrapExecutor, bubblewrap_and_runtime, isolation_args
from sandbox.rootfs import PYTHON
from sandbox.runtime import INTERPRETER, loader_command, runtime_path
from sandbox.seccomp import seccomp_program_fd
from sandbox.verdict import Job, TestResult, Verdict

PROJECT = Path(__file__).resolve().parents[1]
JUDGE_MEMORY_MB = 2048  # the trusted side decodes what candidates return: up to 2,000,000 parts
START_GRACE = 5.0  # the trusted side's own start and the candidate program's load
TEST_GRACE = 1.0  # beyond each test's timeout: the test's own work between calls


TRUSTED_MODULES = ("executor", "judge", "channel", "offload", "pycompile", "verdict")
THIRD_PARTY = ("pydantic", "pydantic_core", "typing_extensions", "annotated_types", "typing_inspection")
SITE_IN_SANDBOX = "/opt"  # an empty folder of the runtime


def trusted_site() -> Path:
    """A folder with what the trusted side imports: the judge's own modules (under a `sandbox`
    package that imports nothing else) and pydantic with its dependencies, compiled by the
    runtime's interpreter. Made once per content, beside the runtime, readable by nobody."""
    import hashlib
    import importlib
    import importlib.metadata

    sources = {name: (PROJECT / "sandbox" / f"{name}.py").read_bytes() for name in TRUSTED_MODULES}
    packages = {name: Path(importlib.import_module(name).__file__) for name in THIRD_PARTY}
    digest = hashlib.sha256()
    for name, data in sources.items():
        digest.update(name.encode() + b"\0" + data)
    for name, path in packages.items():
        digest.update(f"{name}={path}={path.stat().st_mtime_ns}".encode())
    target = runtime_path().parent / "trusted" / digest.hexdigest()[:16]
    if (target / "complete").exists():
        return target
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "sandbox").mkdir(parents=True)
    (partial / "sandbox" / "__init__.py").write_text('"""The trusted side\'s modules alone."""\n')
    for name, data in sources.items():
        (partial / "sandbox" / f"{name}.py").write_bytes(data)
    for name, path in packages.items():
        if path.name == "__init__.py":
            shutil.copytree(path.parent, partial / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(path, partial / path.name)
    subprocess.run(loader_command(runtime_path(), INTERPRETER, "-I", "-m", "compileall", "-q", "-j", "0",
                                  "-s", str(partial), "-p", SITE_IN_SANDBOX, str(partial)),
                   capture_output=True, timeout=300)
    for folder, _, files in os.walk(partial):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    (partial / "complete").touch()
    try:
        partial.rename(target)
    except OSError:  # another process made it first
        shutil.rmtree(partial, ignore_errors=True)
    return target


class TrustedBackend:
    """Starts judge executors; each is used by one job at a time, through `relay`."""

    name = "trusted"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.bwrap, self.runtime = bubblewrap_and_runtime("; a problem's tests run in it, apart from the agent")
        self.site = trusted_site()
        self.user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        # --die-with-parent follows the thread that started bubblewrap: one thread, as long as the backend
        self._parent = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="judge-parent")

    def _command(self, root_fd: int, site_fd: int, seccomp_fd: int) -> list[str]:
        return [
            self.bwrap, "--ro-bind-fd", str(root_fd), "/", "--ro-bind-fd", str(site_fd), SITE_IN_SANDBOX,
            *isolation_args(self.config, "judge", seccomp_fd),
            PYTHON, "-I", f"{SITE_IN_SANDBOX}/sandbox/executor.py", f"--site={SITE_IN_SANDBOX}", "--scratch=/tmp",
            "--kill-scope=all", f"--memory-mb={JUDGE_MEMORY_MB}", f"--nproc={self.config.pids_limit}",
            "--role=judge",
        ]

    def _launch(self) -> BubblewrapExecutor:
        root_fd = os.open(self.runtime, os.O_PATH | os.O_DIRECTORY)
        site_fd = os.open(self.site, os.O_PATH | os.O_DIRECTORY)
        seccomp_fd = seccomp_program_fd()
        try:
            process = subprocess.Popen(
                self._command(root_fd, site_fd, seccomp_fd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env={}, cwd="/", start_new_session=True, bufsize=0,
                pass_fds=(root_fd, site_fd, seccomp_fd), **self.user)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the trusted side's sandbox: {exc}") from None
        finally:
            for fd in (root_fd, site_fd, seccomp_fd):
                os.close(fd)
        return BubblewrapExecutor(process, None)

    def spawn(self) -> BubblewrapExecutor:
        executor = self._parent.submit(self._launch).result()
        return await_greeting(executor, self.config.start_timeout, "the trusted side's sandbox")

    def describe(self) -> dict[str, str]:
        return {"trusted side": (
            "a problem's tests run under bubblewrap, apart from the agent and the candidate: the executor's "
            "runtime and the judge's own modules read-only, no network, user nobody, new namespaces with the "
            "judge as PID 1, seccomp, a fresh process per job, bounded in time (5 s, plus each test's timeout "
            "and 1 s, plus 5 s)")}

    def close(self) -> None:
        self._parent.shutdown(wait=False)


def finish_trusted(channel: Channel) -> bool:
    """A judge executor after its job: it kills what the job left, wipes its scratch and
    checks itself; True when it may serve another job. Off the job's own path: the verdict
    is already known."""
    return _finish(channel)[0]


def job_budget(job: Job) -> float:
    """Seconds the whole job may take on the trusted side before it is stopped."""
    return START_GRACE + len(job.tests) * (job.timeout + TEST_GRACE) + FINISH_GRACE


class Relay:
    """One job: frames between the trusted side's child and the candidate's executor."""

    def __init__(self, job: Job, trusted: Channel, candidate: Channel) -> None:
        self.job, self.trusted, self.candidate = job, trusted, candidate
        self.candidate_clean: bool | None = None  # what the candidate executor's "finished" said

    def run(self) -> tuple[Verdict, bool, bool]:
        """(verdict, the candidate executor may serve again, the judge executor may be finished
        (`finish_trusted`) and then serve again)."""
        started = time.monotonic()
        deadline = started + job_budget(self.job)
        try:
            try:
                self.trusted.send({"op": "start", "job": self.job.model_dump(mode="json")})
            except FrameError:
                return too_large(self.job), True, True  # nothing was sent: neither executor saw it
            while True:
                if self.trusted.buffered():
                    outcome = self._from_trusted()
                    if outcome is not None:
                        return outcome
                    continue
                if self.candidate.buffered():
                    self._from_candidate()
                    continue
                watched = [self.trusted.transport] + ([] if self.candidate.closed else [self.candidate.transport])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._failed(f"the problem's test did not finish in {job_budget(self.job):.0f} s", False)
                for transport in readable(watched, remaining):
                    channel = self.trusted if transport is self.trusted.transport else self.candidate
                    try:
                        channel.fill()
                    except ChannelClosed:
                        if channel is self.trusted:
                            return self._failed("the problem's test ended its sandbox", False)
                        self._tell_closed()
        except ChannelClosed:
            return self._failed("the problem's test ended its sandbox", False)

    # -- frames ------------------------------------------------------------------------
    def _from_trusted(self) -> tuple[Verdict, bool, bool] | None:
        payload = self.trusted.receive_raw(time.monotonic())
        tag, body = payload[:1], payload[1:]
        if tag == EXECUTOR_TAG:
            message = parse(body)
            if message.get("op") == "exited":
                status = message.get("status")
                return self._failed(f"the problem's test ended its process (status {status})", True)
            return None
        if tag != CANDIDATE_TAG:
            return self._failed("the trusted side sent a frame of unknown origin", False)
        try:
            message = parse(body)
        except FrameError:
            return self._failed("the problem's test broke its channel", False)
        op = message.get("op")
        if op == "verdict":
            return self._verdict(message)
        if op not in ("start", "call", "finish", "ping"):
            return self._failed(f"the problem's test sent an unexpected {op!r} frame", False)
        if self.candidate.closed:
            self._tell_closed()
            return None
        try:
            self.candidate.send_raw(body)
        except ChannelClosed:
            self._tell_closed()
        except FrameError:
            return self._failed("the problem's test sent a frame over the size limit", False)
        return None

    def _from_candidate(self) -> None:
        try:
            payload = self.candidate.receive_raw(time.monotonic())
        except ChannelClosed:
            self._tell_closed()
            return
        tag = payload[:1]
        if tag not in (EXECUTOR_TAG, CANDIDATE_TAG):
            self.candidate.closed = True
            self._tell_closed()
            return
        if tag == EXECUTOR_TAG:
            try:
                message = parse(payload[1:])
            except FrameError:
                message = {}
            if message.get("op") == "finished":
                self.candidate_clean = message.get("tainted") == []
        self.trusted.send_raw(FORWARD_TAG + payload)

    def _tell_closed(self) -> None:
        self.trusted.send_raw(FORWARD_TAG + CLOSED_TAG)

    # -- ends --------------------------------------------------------------------------
    def _verdict(self, message: dict) -> tuple[Verdict, bool, bool]:
        try:
            verdict = Verdict.model_validate(message.get("verdict"))
        except ValidationError:
            return self._failed("the trusted side returned a malformed verdict", False)
        if [t.name for t in verdict.tests] != [t.name for t in self.job.tests]:
            return self._failed("the trusted side returned a verdict for other tests", False)
        claimed = message.get("healthy") is True
        return verdict, claimed and self.candidate_clean is True, True

    def _failed(self, reason: str, trusted_usable: bool) -> tuple[Verdict, bool, bool]:
        message = f"failed: {reason}"
        tests = [TestResult(name=t.name, passed=False, kind="sandbox", message=message,
                            observed="sandbox" if self.job.observe else None) for t in self.job.tests]
        candidate_healthy = False
        if not self.candidate.closed and self.candidate_clean is None:
            try:  # the candidate's executor was left mid-job: it cleans itself or is replaced
                candidate_healthy = _finish(self.candidate)[0]
            except ChannelClosed:
                candidate_healthy = False
        verdict = Verdict(passed=False, result=message, tests=tests)
        return verdict, candidate_healthy, trusted_usable and not self.trusted.closed
