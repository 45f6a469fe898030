"""What the agent would see of a problem, without a model: `agent inspect`."""

from __future__ import annotations

import ast

from pydantic import BaseModel, Field

from agent.inputs import gather_inputs
from eval.expected import reference_of
from eval.problems import Problem, harness_imports
from tools.visible_tests import function_of, visible_tests_of


class Harness(BaseModel):
    """How the bench judges an answer, after the agent returned (the agent never sees it)."""

    program: str = Field("prompt + completion", description="what runs as the candidate")
    call: str = Field(description="what the problem's test runs, in a sandbox of its own")
    imports: str = Field(description="the test's top-level imports, which the candidate's program also gets")
    test: str | None = Field(description="the hidden test")
    expected_outputs: str | None = Field(None, description="evalplus: where the test's expected outputs come from")


class Inspection(BaseModel):
    task_id: str | None
    entry_point: str
    signature: str
    prompt: str
    visible_tests: list[str] = Field(description="the tests the agent judges with: given, or read from the docstring")
    visible_from: str = Field(description='"given" or "docstring"')
    inputs: list[dict] = Field(description="the search policy's inputs, without the model's proposals")
    harness: Harness


def inspect_problem(problem: Problem, inputs: int = 16) -> Inspection:
    visible = visible_tests_of(problem.prompt, problem.entry_point, problem.visible_tests)
    function = function_of(problem.prompt, problem.entry_point)
    signature = f"def {problem.entry_point}({ast.unparse(function.args)})" if function else problem.entry_point
    made = gather_inputs(problem.prompt, problem.entry_point, visible, [], inputs)
    return Inspection(
        task_id=problem.task_id, entry_point=problem.entry_point, signature=signature, prompt=problem.prompt,
        visible_tests=visible, visible_from="given" if problem.visible_tests else "docstring",
        inputs=[i.model_dump(exclude_none=True) for i in made],
        harness=_harness(problem))


def _harness(problem: Problem) -> Harness:
    call = f"check({problem.entry_point})"
    reference = reference_of(problem)
    if problem.test is not None or reference is None:
        return Harness(call=call, imports=harness_imports(problem.test or ""), test=problem.test)
    shape = reference.tests([None] * len(reference.inputs))[0]  # the test's form, outputs not yet known
    return Harness(call=call, imports=harness_imports(shape), test=None, expected_outputs=(
        f"the canonical solution's outputs on {len(reference.inputs)} inputs ({reference.base_count} base), "
        "computed once in the sandbox when first judged, then cached"))
