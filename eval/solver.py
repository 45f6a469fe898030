"""The seam between the bench and whatever solves problems: `eval` defines it, the CLI
hands the agent in. `eval` imports from `agent` only plain data: the solver's
configuration and description, and the trace's schema."""

from __future__ import annotations

from typing import Awaitable, Callable, Protocol

from agent.config import SolverDescription

from eval.problems import Problem
from eval.records import RoundRecord, SampleResult

__all__ = ["RoundRecord", "SampleResult", "Solver"]


class Solver(Protocol):
    async def solve_samples(self, problem: Problem, samples: list[int],
                            on_sample: Callable[[SampleResult], Awaitable[None]]) -> None:
        """Runs the given independent samples of `problem` and awaits `on_sample` as each finishes.
        An exception means the environment failed (server, sandbox); the bench stops cleanly."""
        ...

    def has_capacity(self) -> bool:
        """Whether starting another problem now would find the model server idle capacity."""
        ...

    def describe(self) -> SolverDescription:
        """What decides the solver's answers (model, family, policy settings): run.json records it."""
        ...
