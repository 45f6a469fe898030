"""The model server the e2e tests share: the embedded default on port 8000, reused when
one already answers there, else started once for the session."""

from __future__ import annotations

import pytest

from agent.llm.serve import ServerConfig, healthy, start_server


@pytest.fixture(scope="session")
def base_url():
    config = ServerConfig()
    server = None if healthy(config.base_url) else start_server(config, say=lambda m: None)
    yield config.base_url
    if server is not None:
        server.stop()
