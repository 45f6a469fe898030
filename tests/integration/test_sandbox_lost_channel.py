"""A channel this process closes under a running job (as a collected docker-py response
once did, at random) is the host's fault, never the candidate's: the job runs again on
fresh executors and its verdict is the candidate's own, not a failure."""

from __future__ import annotations

import threading

import pytest

from sandbox import SandboxConfig, open_sandbox
from tests.conftest import make_docker_sandbox
from tools.calls import checks_job

SLOW_BUT_RIGHT = "def answer():\n    import time\n    time.sleep(2.5)\n    return 42\n"


def sandbox_of(kind: str, image: str):
    """relay: the production path (the tests judged in a sandbox of their own, this process
    relaying); in-process: the judge in this process (the weak fallback's way)."""
    if kind == "relay":
        return open_sandbox(SandboxConfig(backend="docker", workers=2, image=image), say=lambda m: None)
    return make_docker_sandbox(image, workers=2)


@pytest.mark.parametrize("kind", ["relay", "in-process"])
def test_a_channel_closed_here_under_a_job_reruns_the_job(docker_image, kind):
    box = sandbox_of(kind, docker_image)
    try:
        acquired = []
        original = box.pool.acquire

        def spy(*args, **kwargs):
            executor = original(*args, **kwargs)
            acquired.append(executor)
            return executor

        box.pool.acquire = spy
        def lose() -> None:  # what the collected response did: the socket's last holders close it
            transport = acquired[0].channel.transport
            transport._keep.close()
            transport._sock.close()

        closer = threading.Timer(1.0, lose)
        closer.start()
        verdict = box.run(checks_job("", "answer", SLOW_BUT_RIGHT, ["assert answer() == 42"], "", timeout=10))
        closer.join()
        assert verdict.passed, verdict
        assert len(acquired) == 2  # the first executor's channel was lost; a second one judged
    finally:
        box.close()


def test_the_attach_socket_lives_as_long_as_its_executor(docker_image):
    """docker-py's response is kept with the socket: collecting garbage closes nothing."""
    import gc

    box = make_docker_sandbox(docker_image, workers=1)
    try:
        executor = box.pool.acquire(30)
        assert executor.channel.transport._keep is not None
        gc.collect()
        assert executor.channel.transport.fileno() >= 0
        box.pool.release(executor, True)
        assert box.run(checks_job("", "answer", "def answer():\n    return 42\n", ["assert answer() == 42"], "")).passed
    finally:
        box.close()
