"""No container outlives the command that started it, however the command ends."""

import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from agent.cli import app
from sandbox.config import LABEL

OWNER = """
import signal, sys, time
from agent.cli import _terminate  # noqa: E402
from sandbox import SandboxConfig, open_sandbox
signal.signal(signal.SIGTERM, _terminate)
signal.signal(signal.SIGINT, signal.default_int_handler)  # a suite started in the background inherits SIGINT ignored
with open_sandbox(SandboxConfig(backend="docker", workers=2, spares=0), say=lambda m: None) as box:
    box.pool.release(box.pool.acquire(60), True)
    print(box.backend.session, flush=True)
    time.sleep(600)
"""


def containers(session):
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}.session={session}"],
                          capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_containers_go_when_the_owner_ends(docker_image, sig):
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    session = owner.stdout.readline().strip()
    assert session and len(containers(session)) == 2
    owner.send_signal(sig)
    owner.wait(timeout=30)
    deadline = time.monotonic() + 20
    while containers(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers(session) == []


def test_sandbox_check_describes_the_isolation(docker_image):
    result = CliRunner().invoke(app, ["sandbox", "check", "--sandbox", "docker"])
    assert result.exit_code == 0, result.output
    for fact in ("docker", "read-only root", "no network", "capabilities dropped", "passed"):
        assert fact in result.output
