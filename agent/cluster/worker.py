"""The actor each node runs: its own sandbox pool and model client, the agent, and the
hidden verdicts of what the agent returns. It writes nothing; the driver does."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

import ray
from pydantic import BaseModel

from agent.config import SolverConfig
from agent.llm.client import ClientConfig
from agent.trace_events import TraceEvent
from eval.bench import judge_with_retries
from eval.judging import judge_rounds
from eval.problems import Problem
from eval.records import RoundRecord, SampleResult
from sandbox import SandboxConfig


class NodeServices(BaseModel):
    """What every node's actor builds its agent from."""

    solver: SolverConfig
    client: ClientConfig
    sandbox: SandboxConfig
    model: str
    run_name: str


class FinishedSample(BaseModel):
    lines: list[RoundRecord]
    trace: list[TraceEvent]


def node_name() -> str:
    """address:node id (8 hex digits): unique even for several nodes on one host."""
    return f"{ray.util.get_node_ip_address()}:{ray.get_runtime_context().get_node_id()[:8]}"


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=10_000)
class NodeWorker:
    def __init__(self, services: NodeServices, gate: Any) -> None:
        self.services, self.gate = services, gate
        self.node = node_name()
        self._open = contextlib.ExitStack()
        self.solver: Any = None
        self.sandbox: Any = None

    async def start(self) -> str:
        """Opens the node's sandbox pool (building its image on first use) and the agent;
        raises with one sentence where the node cannot run the sandbox."""
        from agent.cluster.gate import GatedEndpoints
        from agent.solver import Solver
        from sandbox import open_sandbox

        config = self.services.sandbox
        if "workers" not in config.model_fields_set:
            config = config.model_copy(update={"workers": os.cpu_count() or 1})
        self.sandbox = self._open.enter_context(open_sandbox(config, say=lambda message: None))
        llm = GatedEndpoints(self.services.client, self.gate, self.node)
        self.solver = Solver(llm, self.sandbox, self.services.solver, self.services.model,
                             run_name=self.services.run_name)
        return f"{self.node} ({socket.gethostname()}, {config.workers} sandbox workers)"

    async def run(self, problem: Problem, samples: list[int]) -> list[FinishedSample]:
        """The samples of one problem, each with its hidden verdicts and trace."""
        finished: list[FinishedSample] = []

        async def judged(result: SampleResult) -> None:
            lines = await judge_rounds(problem, result, self._judge, self.services.solver.timeout)
            finished.append(FinishedSample(lines=[line.model_copy(update={"node": self.node}) for line in lines],
                                           trace=result.trace))

        await self.solver.solve_samples(problem, samples, judged)
        return finished

    async def _judge(self, job):
        return await judge_with_retries(self.sandbox, job)

    def stop(self) -> None:
        self._open.close()
