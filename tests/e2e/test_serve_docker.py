"""`agent serve --docker`: the real vLLM server in the project's own container image
(built offline here), answering a chat and a `solve`, and no container of it left behind
after SIGTERM, nor after SIGKILL of `serve` (its reaper removes it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from agent.llm.container import container_name
from tests.e2e.test_serving import ask, free_port

ROOT = Path(__file__).resolve().parents[2]
AGENT = [sys.executable, "-m", "agent"]


def server_containers(port: int) -> list:
    client = docker.from_env()
    return [c for c in client.containers.list(all=True, filters={"label": "repair-agent=server"})
            if c.name == container_name(port)]


def start_serve(port: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([*AGENT, "serve", "--docker", "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    line = process.stdout.readline()  # blocks until healthy (or the command ends)
    match = re.search(r"at (http://\S+/v1)", line)
    if not match:
        process.kill()
        pytest.fail(f"no URL printed: {line!r} {process.stderr.read()[-3000:]}")
    return process, match.group(1)


def wait_gone(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not server_containers(port):
            return True
        time.sleep(1)
    return False


@pytest.fixture(scope="module")
def model_pulled() -> None:
    pulled = subprocess.run([*AGENT, "model", "pull"], capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert pulled.returncode == 0, pulled.stderr[-2000:]


def test_the_containerised_server_serves_a_solve_and_leaves_nothing(model_pulled, tmp_path):
    port = free_port()
    process, url = start_serve(port)
    try:
        [container] = server_containers(port)
        assert container.labels["repair-agent"] == "server"
        bindings = container.attrs["HostConfig"]["PortBindings"]["8000/tcp"]
        assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/model"]["RW"] is False
        assert container.attrs["State"]["Health"]["Status"] in ("starting", "healthy")

        reply, usage = ask(url, messages=[{"role": "user", "content": "Write a Python function `add(a, b)` that "
                                           "returns the sum. Only code."}], max_tokens=128)
        assert "def add" in reply.choices[0].text and usage["chat"].completion_tokens > 0

        done = subprocess.run([*AGENT, "solve", str(ROOT / "examples" / "is_even.json"), "--out", str(tmp_path),
                               "--base-url", url], capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert json.loads((tmp_path / "result.json").read_text())["solved"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    assert not server_containers(port), "SIGTERM must remove the server's container"


def test_a_killed_serve_leaves_no_container(model_pulled):
    port = free_port()
    process, _ = start_serve(port)
    assert server_containers(port)
    os.killpg(process.pid, signal.SIGKILL)  # no cleanup of its own can run
    process.wait()
    assert wait_gone(port, 30), "the reaper must remove the container of a killed serve"
