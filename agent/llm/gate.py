"""Keeps about `sequences` sequences in flight on the model server: a request for `n`
choices counts `n`, and starts while fewer than `sequences` are in flight (so a large
request never waits for the server to drain). The bench starts new work only while
nobody waits here, so the server stays saturated without a pile of half-done problems
that a kill would throw away."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.llm.client import Completion


class GatedLLM:
    def __init__(self, llm: Any, sequences: int) -> None:
        self.llm, self.capacity = llm, max(1, sequences)
        self.in_use = 0
        self.waiting = 0
        self._changed = asyncio.Condition()

    @property
    def config(self):
        return self.llm.config

    def has_capacity(self) -> bool:
        return self.waiting == 0 and self.in_use < self.capacity

    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion:
        weight = max(1, int(options.get("n", 1)))
        async with self._changed:
            self.waiting += 1
            try:
                await self._changed.wait_for(lambda: self.in_use < self.capacity)
            finally:
                self.waiting -= 1
            self.in_use += weight
        try:
            return await self.llm.chat(messages, **options)
        finally:
            async with self._changed:
                self.in_use -= weight
                self._changed.notify_all()

    async def models(self) -> list[str]:
        return await self.llm.models()

    async def close(self) -> None:
        await self.llm.close()
