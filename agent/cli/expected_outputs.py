"""Evalplus problems' expected outputs for the commands that judge: from the cache, else
computed once in the sandbox with a progress bar (eval.expected)."""

from __future__ import annotations

from typing import Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.cli.app import clean_errors, count, err, fail, say


def with_expected_outputs(problems: list, boxes, skip_bad: bool = False) -> tuple[list, list[str]]:
    """`problems` with every test written (one sentence and exit 2 where a canonical solution
    fails, unless `skip_bad`: then those problems are left out, each with its sentence)."""
    from eval.expected import ExpectedCache, complete_expected, reference_of
    from eval.problems import ProblemError
    from sandbox import open_sandbox
    from sandbox.cache import cache_dir

    if not any(reference_of(p) is not None and p.test is None for p in problems):
        return problems, []
    bar = Progress(TextColumn("expected outputs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True)

    def progress(total: int) -> Callable[[], None]:
        bar.start()
        task = bar.add_task("expected", total=total)
        return lambda: bar.advance(task)

    try:
        with clean_errors(bar.stop):
            completed, skipped = complete_expected(problems, ExpectedCache(cache_dir() / "expected"),
                                                   lambda: open_sandbox(boxes, say=say), boxes.workers,
                                                   skip_bad, say, progress)
    except ProblemError as exc:
        bar.stop()
        fail(str(exc))
    bar.stop()
    for message in skipped:
        say(f"skipped {message}")
    if skipped:
        say(f"{count(len(skipped), 'problem')} left out (--skip-bad); {len(completed)} problems remain")
    return completed, skipped
