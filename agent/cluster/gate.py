"""The cluster's model endpoints: a gate actor that keeps at most `capacity` sequences in
flight on each endpoint and gives each request the least loaded one, and the client each
node's actor uses through it."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

import ray

from agent.llm.client import ClientConfig, Completion, LLMClient


class Gate:
    """Sequences in flight per endpoint, leased per holder (a node's actor), so the leases
    of a node that died can be given back."""

    def __init__(self, endpoints: int, capacity: int) -> None:
        self.in_use = [0] * endpoints
        self.capacity = max(1, capacity)
        self.leases: dict[str, Counter] = defaultdict(Counter)
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def acquire(self, holder: str, weight: int) -> int:
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: min(self.in_use) < self.capacity)
            index = min(range(len(self.in_use)), key=self.in_use.__getitem__)
            self.in_use[index] += weight
            self.leases[holder][index] += weight
            return index

    async def release(self, holder: str, index: int, weight: int) -> None:
        changed = self._condition()
        async with changed:
            taken = min(weight, self.leases[holder][index])
            self.leases[holder][index] -= taken
            self.in_use[index] -= taken
            changed.notify_all()

    async def drop(self, holder: str) -> None:
        """Gives back every lease of a holder that is gone."""
        changed = self._condition()
        async with changed:
            for index, weight in self.leases.pop(holder, Counter()).items():
                self.in_use[index] -= weight
            changed.notify_all()

    async def load(self) -> list[int]:
        return list(self.in_use)


EndpointGate = ray.remote(num_cpus=0, max_restarts=0)(Gate)


class GatedEndpoints:
    """The LLM a node's solver talks to: one client per endpoint, each request sent where
    the gate says."""

    def __init__(self, config: ClientConfig, gate: Any, holder: str) -> None:
        self.clients = [LLMClient(config.model_copy(update={"base_urls": [url]})) for url in config.base_urls]
        self.gate, self.holder = gate, holder
        self.config = config

    async def chat(self, messages: list[dict[str, Any]], **options: Any) -> Completion:
        weight = max(1, int(options.get("n", 1)))
        index = await self.gate.acquire.remote(self.holder, weight)
        try:
            return await self.clients[index].chat(messages, **options)
        finally:
            self.gate.release.remote(self.holder, index, weight)

    async def models(self) -> list[str]:
        return await self.clients[0].models()

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
