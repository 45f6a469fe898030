"""`agent report`, `agent export` and `agent trace`: reading what runs left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from agent.cli.app import app, count, fail, out, say
from agent.cli.summaries import print_summary

ExportFormat = Literal["sft", "preference"]
ExportVerifier = Literal["hidden", "visible"]
ExportSplit = Literal["all", "dev", "held-out"]


def _require_runs(run_dirs: list[Path]) -> None:
    for run_dir in run_dirs:
        if not (run_dir / "run.json").is_file():
            fail(f"{run_dir} is not a bench run directory (no run.json)")


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", help="bench run directories, or one sweep folder")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="where report.md and plots/ go; default: the run directory (one run) or ./report")] = None,
) -> None:
    """report.md and plots for one or several bench runs (honest against oracle, single-shot against repair), or a sweep."""
    from eval.report import load_summary, write_report
    from eval.run_dir import RunDirError
    from eval.sweep import SweepError, is_sweep, write_sweep_report

    if len(run_dirs) == 1 and is_sweep(run_dirs[0]):
        try:
            say(f"report: {write_sweep_report(run_dirs[0])}")
        except (SweepError, RunDirError) as exc:
            fail(str(exc))
        return
    _require_runs(run_dirs)
    target = out_dir or (run_dirs[0] if len(run_dirs) == 1 else Path("report"))
    try:
        path = write_report(run_dirs, target)
    except RunDirError as exc:
        fail(str(exc))
    except (OSError, ValueError, KeyError) as exc:
        fail(f"cannot write the report: {exc}")
    for run_dir in run_dirs:
        print_summary(load_summary(run_dir / "summary.json"))
    say(f"report: {path}")


@app.command()
def export(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", help="bench run directories")],
    out_path: Annotated[Path, typer.Option("--out", help="the JSONL file to write")],
    format: Annotated[ExportFormat, typer.Option(help="sft: passing conversations; preference: chosen/rejected pairs")] = "sft",
    verified_by: Annotated[ExportVerifier, typer.Option(help="what judges an answer: the hidden tests or the visible examples")] = "hidden",
    min_round: Annotated[int, typer.Option(min=0, help="sft: only answers written in this round or later (1: repairs)")] = 0,
    split: Annotated[ExportSplit, typer.Option(help="all tasks, only the run's development split, or only the rest")] = "all",
    dedupe: Annotated[bool, typer.Option(help="drop examples whose code (normalized) was already exported for the task")] = True,
) -> None:
    """A run's trajectories as training data (OpenAI chat JSONL; schema: README, "Training data")."""
    from agent.export import ExportError, ExportOptions, export_runs
    from eval.run_dir import RunDirError

    _require_runs(run_dirs)
    options = ExportOptions(format=format, verified_by=verified_by, min_round=min_round, split=split, dedupe=dedupe)
    try:
        summary = export_runs(run_dirs, options, out_path)
    except (ExportError, RunDirError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out_path}: {exc.strerror}")
    noun = "conversation" if format == "sft" else "pair"
    out.print(f"{count(summary.examples, noun)} from {count(summary.samples, 'sample')} of "
              f"{count(summary.runs, 'run')} ({summary.duplicates_dropped} duplicates dropped), "
              f"{summary.characters} characters (about {summary.approximate_tokens} tokens); verified by the "
              f"{verified_by} tests; {out_path}", highlight=False)


@app.command()
def trace(
    path: Annotated[Path, typer.Argument(help="trace.jsonl, or a folder holding one (a solve --out or a bench run)")],
    task: Annotated[Optional[str], typer.Option(help="only this task_id")] = None,
    sample: Annotated[Optional[int], typer.Option(help="only this sample")] = None,
) -> None:
    """Render a trace for a person: rounds, nodes, tool calls, verdicts, tokens and times."""
    from agent.trace_events import TraceError
    from agent.trace_view import render

    file = path / "trace.jsonl" if path.is_dir() else path
    if not file.is_file():
        fail(f"no trace at {file}")
    try:
        render(file, out, task, sample)
    except TraceError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"{file} is not a trace: {exc}")


@app.command()
def view(
    paths: Annotated[list[Path], typer.Argument(metavar="RUN_DIR...", help="a bench run directory, several to compare, a sweep folder, or a solve's --out folder")],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="the HTML file to write; default: view.html in the one folder given, else ./view.html")] = None,
) -> None:
    """One self-contained HTML page (no server, no network) to click through a run: pass@k, cost, every task's rounds and code."""
    from agent.view import ViewError, view as write_view

    for path in paths:
        if not path.is_dir():
            fail(f"{path} is not a folder (give a bench run directory, a sweep folder or a solve's --out folder)")
    try:
        page = write_view(paths, out_path)
    except ViewError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the page: {exc.strerror or exc}")
    say(f"page: {page}  (open it in a browser; it needs no network)")
