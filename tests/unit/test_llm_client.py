"""The client's retry, timeout and error paths against a real local HTTP server that
misbehaves on purpose; tool-call parsing on the wire format vLLM uses."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.llm.client import ClientConfig, LLMClient, LLMError, ServerUnavailable, tool_calls_in_text


def completion(choices: list[dict]) -> dict:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", **c}}
                    for i, c in enumerate(choices)],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
    }


class Misbehaving(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        mode = self.path.split("/")[1]
        Misbehaving.hits[mode] = Misbehaving.hits.get(mode, 0) + 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if mode == "hang":
            time.sleep(2)
            return
        if mode == "flaky" and Misbehaving.hits[mode] <= 2:
            return self.reply(500, {"error": {"message": "engine hiccup"}})
        if mode == "bad":
            return self.reply(400, {"error": {"message": "max_tokens is too large"}})
        if mode == "tools":
            call = {"id": "c1", "type": "function", "function": {"name": "run_tests", "arguments": '{"code": "x"}'}}
            broken = {"id": "c2", "type": "function", "function": {"name": "submit", "arguments": "{not json"}}
            return self.reply(200, completion([{"content": None, "tool_calls": [call, broken]}]))
        return self.reply(200, completion([{"content": f"answer {i}"} for i in range(body.get("n", 1))]))

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def client(url: str, **options) -> LLMClient:
    return LLMClient(ClientConfig(base_urls=[url], model="m", retries=2, backoff=0.01, timeout=0.5, **options))


def chat(llm: LLMClient, **options):
    async def go():
        try:
            return await llm.chat([{"role": "user", "content": "hi"}], **options)
        finally:
            await llm.close()

    return asyncio.run(go())


def test_dropped_connections_are_retried_then_one_clear_error(server):
    Misbehaving.hits.clear()
    with pytest.raises(ServerUnavailable, match=r"unreachable after 3 attempts; start one with `agent serve`"):
        chat(client(f"{server}/drop/v1"))
    assert Misbehaving.hits["drop"] == 3


def test_5xx_is_retried_until_it_succeeds(server):
    Misbehaving.hits.clear()
    result = chat(client(f"{server}/flaky/v1"))
    assert result.choices[0].text == "answer 0" and Misbehaving.hits["flaky"] == 3


def test_a_server_that_never_answers_times_out(server):
    Misbehaving.hits.clear()
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="timed out after 3 attempts"):
        chat(client(f"{server}/hang/v1"))
    assert time.monotonic() - started < 10 and Misbehaving.hits["hang"] == 3


def test_4xx_is_not_retried(server):
    Misbehaving.hits.clear()
    with pytest.raises(LLMError, match="answered 400: max_tokens is too large"):
        chat(client(f"{server}/bad/v1"))
    assert Misbehaving.hits["bad"] == 1


def test_nobody_listening_names_the_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServerUnavailable, match=f"127.0.0.1:{port}"):
        chat(client(f"http://127.0.0.1:{port}/v1"))


def test_n_samples_and_usage_per_site(server):
    llm = client(f"{server}/ok/v1")
    result = chat(llm, n=3, site="generate")
    assert [c.text for c in result.choices] == ["answer 0", "answer 1", "answer 2"]
    assert llm.usage["generate"].calls == 1 and llm.usage["generate"].completion_tokens == 5


def test_tool_calls_are_typed_and_bad_arguments_reported(server):
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("run_tests", "submit")]
    result = chat(client(f"{server}/tools/v1"), tools=tools, tool_choice="required")
    good, broken = result.choices[0].tool_calls
    assert (good.name, good.arguments, good.error) == ("run_tests", {"code": "x"}, None)
    assert broken.name == "submit" and broken.error.startswith("arguments are not valid JSON")


@pytest.mark.parametrize("text", [
    'Sure:\n```json\n{"name": "run_tests", "arguments": {"code": "def f(): pass"}}\n```',
    '<tool_call>\n{"name": "run_tests", "arguments": {"code": "def f(): pass"}}\n</tool_call>',
    '{"name": "run_tests", "arguments": "{\\"code\\": \\"def f(): pass\\"}"}',
])
def test_json_tool_calls_in_plain_content(text):
    (call,) = tool_calls_in_text(text, {"run_tests"})
    assert call.name == "run_tests" and call.arguments == {"code": "def f(): pass"}


def test_plain_prose_has_no_tool_calls():
    assert tool_calls_in_text("def f():\n    return 1\n", {"run_tests"}) == []
    assert tool_calls_in_text('{"name": "rm_rf", "arguments": {}}', {"run_tests"}) == []


def test_the_gate_keeps_about_the_given_sequences_in_flight():
    from agent.llm.gate import GatedLLM

    class Slow:
        config = None

        def __init__(self):
            self.now = self.peak = 0
            self.seen_at_start = []

        async def chat(self, messages, **options):
            self.seen_at_start.append(self.now)
            self.now += options.get("n", 1)
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.02)
            self.now -= options.get("n", 1)
            return options.get("n", 1)

    inner = Slow()
    gate = GatedLLM(inner, 4)

    async def main():
        assert gate.has_capacity()
        await asyncio.gather(*(gate.chat([], n=n) for n in (3, 1, 2, 4, 1, 9, 1)))

    asyncio.run(main())
    assert all(now < 4 for now in inner.seen_at_start), "a request starts only below the cap"
    assert 4 <= inner.peak <= 3 + 9
    assert gate.in_use == 0 and gate.waiting == 0
