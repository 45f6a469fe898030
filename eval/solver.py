"""The seam between the bench and whatever solves problems: `eval` defines it, the CLI
hands the agent in. `eval` imports from `agent` only the solver's configuration (plain
data that the bench's configuration holds)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol

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

    def describe(self) -> dict[str, Any]:
        """What decides the solver's answers (model, family, policy settings): run.json records it."""
        ...
