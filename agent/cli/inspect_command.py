"""`agent inspect`: what the agent would see of a problem, without a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.panel import Panel
from rich.syntax import Syntax

from agent.cli.app import app, count, fail, out
from eval.datasets import DatasetFormat


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(metavar="PROBLEM.json|DATASET.jsonl", help="one problem, or a dataset file")],
    task: Annotated[Optional[str], typer.Option(help="a dataset's task_id; default: every problem")] = None,
    format: Annotated[Optional[DatasetFormat], typer.Option(help="the dataset file's format; default: detected")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per problem instead of the report")] = False,
) -> None:
    """The prompt, signature, visible tests, the search's inputs and the harness: what the agent will judge by."""
    from eval.inspection import inspect_problem

    problems = _problems(path, format)
    if task is not None:
        problems = [p for p in problems if p.task_id == task]
        if not problems:
            fail(f"{path} holds no task {task!r}")
    for problem in problems:
        seen = inspect_problem(problem)
        if as_json:
            out.print(json.dumps(seen.model_dump()), highlight=False, soft_wrap=True, markup=False)
        else:
            _show(seen)
    if not as_json and len(problems) > 1:
        without = sum(not inspect_problem(p).visible_tests for p in problems)
        out.print(f"{count(len(problems), 'problem')}; {without} without any visible test", highlight=False)


def _problems(path: Path, format: Optional[str]):
    from eval.datasets import read_dataset
    from eval.problems import ProblemError, load_problem_file

    try:
        if path.suffix == ".json":
            return [load_problem_file(path)]
        return read_dataset(path, format).problems
    except ProblemError as exc:
        fail(str(exc))


def _show(seen) -> None:
    out.print(Panel(Syntax(seen.prompt, "python"), title=f"{seen.task_id or seen.entry_point} · {seen.signature}"))
    out.print(f"[bold]visible tests[/] ({len(seen.visible_tests)}, {seen.visible_from}):", highlight=False)
    for test in seen.visible_tests:
        out.print(f"  {test}", markup=False, highlight=False)
    out.print(f"[bold]search inputs[/] ({len(seen.inputs)}, before the model's own):", highlight=False)
    for made in seen.inputs:
        out.print(f"  {made['source']:<9} {made['call']}", markup=False, highlight=False)
    harness = seen.harness
    out.print(f"[bold]harness[/]: {harness.program}, then {harness.call} in a sandbox of its own"
              + (f"; imports: {harness.imports}" if harness.imports else ""), highlight=False)
    if harness.expected_outputs:
        out.print(f"expected outputs: {harness.expected_outputs}", highlight=False)
