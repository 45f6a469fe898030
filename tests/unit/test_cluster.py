"""The Ray bench's parts that need no cluster: the endpoint gate's accounting, reading an
address, and that the default path never imports Ray."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cluster.address import ClusterUnreachable, check_reachable, resolve
from agent.cluster.gate import Gate

ROOT = Path(__file__).resolve().parents[2]


def test_the_gate_sends_each_request_to_the_least_loaded_endpoint_and_caps_each():
    async def scenario():
        gate = Gate(endpoints=2, capacity=2)
        first = await gate.acquire("a", 1)
        second = await gate.acquire("a", 1)
        assert {first, second} == {0, 1}  # balanced by load, not both on one
        await gate.acquire("b", 1)
        await gate.acquire("b", 1)
        assert await gate.load() == [2, 2]
        waiting = asyncio.ensure_future(gate.acquire("b", 1))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # both endpoints full
        await gate.drop("a")  # a node died: its leases come back
        assert await asyncio.wait_for(waiting, 1) in (0, 1)
        assert sum(await gate.load()) == 3
        await gate.release("b", 0, 5)  # never below what the holder holds
        assert min(await gate.load()) >= 0

    asyncio.run(scenario())


def test_addresses_are_read_or_refused_in_one_sentence(monkeypatch, tmp_path):
    assert resolve("10.0.0.1:6379") == "10.0.0.1:6379" and resolve("ray://head:10001") == "ray://head:10001"
    with pytest.raises(ClusterUnreachable, match="give auto, HOST:PORT"):
        resolve("head")
    monkeypatch.setattr("agent.cluster.address.local_address", lambda: None)
    with pytest.raises(ClusterUnreachable, match="no Ray cluster runs on this machine"):
        resolve("auto")
    with pytest.raises(ClusterUnreachable, match="cannot be reached"):
        check_reachable("127.0.0.1:9", timeout=2)


def test_the_default_path_never_imports_ray():
    code = ("import sys; from typer.testing import CliRunner; from agent.cli import app; "
            "CliRunner().invoke(app, ['bench', '--help']); import eval.bench, agent.solver; "
            "print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
