"""Finds a model server for commands that need one (`solve`, `bench`): the given URL,
else $AGENT_BASE_URL, else a healthy server on the default port, else the embedded
default started here (and stopped by the caller)."""

from __future__ import annotations

import os
from typing import Callable

from agent.llm.serve import RunningServer, ServerConfig, healthy, start_server


def ensure_server(base_url: str | None, say: Callable[[str], None] = print,
                  config: ServerConfig | None = None) -> tuple[str, RunningServer | None]:
    """(base URL, the server this call started or None)."""
    url = base_url or os.environ.get("AGENT_BASE_URL")
    if url:
        return url, None
    config = config or ServerConfig()
    if healthy(config.base_url):
        say(f"using the model server already running at {config.base_url}")
        return config.base_url, None
    say(f"no --base-url given and nothing answers at {config.base_url}: starting the embedded default "
        f"({config.model} on vLLM)")
    server = start_server(config, say)
    return server.base_url, server
