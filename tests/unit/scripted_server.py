"""A scripted OpenAI-compatible chat server on a local port (for in-process CLI tests of
the controller's wiring; never a stand-in for the real model in a test of quality)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self, replies: list[str], model: str = "scripted", default: str = "no more script",
                 delay: float = 0.0, root: str | None = None) -> None:
        self.replies, self.model, self.requests, self.default = list(replies), model, [], default
        self.root = root  # the model folder /v1/models reports, as vLLM does
        self.delay = delay  # seconds each chat request takes
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                card = {"id": server.model, "object": "model", "owned_by": "test"}
                if server.root is not None:
                    card["root"] = server.root
                self._send({"object": "list", "data": [card]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(request)
                time.sleep(server.delay)
                text = server.replies.pop(0) if server.replies else server.default
                choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                           for i in range(request.get("n", 1))]
                self._send({"id": "x", "object": "chat.completion", "created": 0, "model": server.model,
                            "choices": choices, "usage": {"prompt_tokens": 50, "completion_tokens": 10 * len(choices),
                                                          "total_tokens": 50 + 10 * len(choices)}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
