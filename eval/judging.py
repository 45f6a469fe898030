"""The hidden-test verdict of each round a sample reached, shared by the bench and `agent solve`."""

from __future__ import annotations

from typing import Awaitable, Callable

from eval.problems import Problem, hidden_job


def base_problem(problem: Problem) -> Problem | None:
    """An evalplus problem judged on its base inputs only (None for other problems)."""
    base_test = (problem.model_extra or {}).get("base_test")
    return None if base_test is None else problem.model_copy(update={"test": base_test})
from eval.records import RoundRecord, SampleResult
from sandbox.verdict import Job, Verdict


async def judge_rounds(problem: Problem, result: SampleResult, run: Callable[[Job], Awaitable[Verdict]],
                       timeout: float) -> list[RoundRecord]:
    """`result`'s rounds with the program, their hidden verdict (each distinct completion
    judged once), the last one marked final and carrying the stop reason; a search round
    also counts how many of the candidates it drew pass (what the judge could have found)."""
    verdicts: dict[str, Verdict] = {}
    for completion in dict.fromkeys(c for record in result.rounds for c in (record.completion, *record.drawn)):
        verdicts[completion] = await run(hidden_job(problem, completion, timeout))
    base = base_problem(problem)  # evalplus: the base inputs alone, a second verdict
    base_verdicts = {c: await run(hidden_job(base, c, timeout)) for c in dict.fromkeys(
        r.completion for r in result.rounds)} if base is not None else {}
    last = len(result.rounds) - 1
    judged = []
    for index, record in enumerate(result.rounds):
        verdict = verdicts[record.completion]
        failure = verdict.first_failure
        judged.append(record.model_copy(update={
            "code": problem.prompt + record.completion, "hidden_passed": verdict.passed,
            "hidden_result": verdict.result, "error_kind": failure.kind if failure else "passed",
            "final": index == last, "stop_reason": result.stop_reason if index == last else None,
            "base_passed": base_verdicts[record.completion].passed if base_verdicts else None,
            "drawn_passed": sum(verdicts[c].passed for c in record.drawn) if record.drawn else None}))
    return judged
