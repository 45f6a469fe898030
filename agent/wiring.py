"""The one way `solve` and `bench` reach their services: a model server (the given one,
a running one, or the embedded default started here and stopped afterwards), a checked
client, and the sandbox pool."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator, Callable, Iterator

from agent.llm.client import ClientConfig, LLMClient, LLMError
from agent.llm.gate import GatedLLM
from agent.llm.launcher import ensure_server
from agent.llm.serve import ServeError
from agent.llm.server_env import ServerEnvError
from sandbox import SandboxConfig, SandboxUnavailable, open_sandbox
from sandbox.sandbox import Sandbox

SERVICE_ERRORS = (LLMError, SandboxUnavailable, ServeError, ServerEnvError)
"""What a failing service raises; each carries one sentence for the user."""


@contextlib.contextmanager
def model_server(base_url: str | None, say: Callable[[str], None]) -> Iterator[str]:
    """The server's base URL; a server started here is stopped on the way out, however it ends."""
    url, server = ensure_server(base_url, say=say)
    try:
        yield url
    finally:
        if server is not None:
            server.stop()


@contextlib.asynccontextmanager
async def connected(client: ClientConfig, sandbox: SandboxConfig, say: Callable[[str], None],
                    concurrency: int | None = None) -> AsyncIterator[tuple[LLMClient | GatedLLM, Sandbox]]:
    """A client that has reached the server (gated to `concurrency` sequences if given) and
    an open sandbox pool."""
    llm: LLMClient | GatedLLM = LLMClient(client)
    if concurrency is not None:
        llm = GatedLLM(llm, concurrency)
    try:
        await llm.models()
        with open_sandbox(sandbox, say=say) as box:
            yield llm, box
    finally:
        await llm.close()
