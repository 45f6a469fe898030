"""`agent solve`: one problem, from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.app import BaseUrlOption, ModelOption, SandboxOption, WeakOption, app, clean_errors, count, fail, \
    out, run_async, say
from agent.cli.solver_options import SolverChoice, solver_config, solver_options
from agent.config import SolverConfig

ORACLE_WARNING = ("[bold yellow]oracle feedback:[/] the model sees the hidden tests; the result is an upper bound, "
                  "not an honest score")


@app.command()
@solver_options()
def solve(
    problem_path: Annotated[Path, typer.Argument(metavar="PROBLEM.json", help="the problem (format: ARCHITECTURE.md)")],
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="folder for result.json and trace.jsonl")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print result.json instead of the report")] = False,
    sandbox: SandboxOption = "auto",
    allow_weak_sandbox: WeakOption = False,
    *,
    solver: SolverChoice,
) -> None:
    """Solve one problem: generate, test in the sandbox, repair; exit 0 solved, 1 not solved, 2 bad input."""
    from agent.llm.client import ClientConfig
    from agent.wiring import model_server
    from eval.problems import ProblemError, load_problem_file
    from sandbox import SandboxConfig

    try:
        problem = load_problem_file(problem_path)
    except ProblemError as exc:
        fail(str(exc))
    config = solver_config(solver)
    target = _solve_folder(out_dir, problem.task_id or problem.entry_point)
    if config.feedback == "hidden":
        say(ORACLE_WARNING)
    boxes = SandboxConfig(backend=sandbox, workers=min(64, max(2, config.candidates)),
                          allow_weak_isolation=allow_weak_sandbox)
    with clean_errors(), model_server(base_url, say) as url:
        client = ClientConfig.from_options(base_url=url, model=model)
        result = run_async(_solve(problem, config, client, boxes, target))
    (target / "result.json").write_text(result.model_dump_json(indent=2) + "\n")
    _show_solved(result, problem, as_json)
    say(f"result: {target / 'result.json'}  trace: {target / 'trace.jsonl'}  page: {_page(target)}")
    raise typer.Exit(0 if result.solved else 1)


def _solve_folder(out_dir: Optional[Path], name: str) -> Path:
    target = out_dir or Path("runs") / f"solve-{time.strftime('%Y%m%d-%H%M%S')}-{name.replace('/', '_')}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / "trace.jsonl").write_text("")
    except OSError as exc:
        fail(f"cannot write to {target}: {exc.strerror}")
    return target


def _page(target: Path) -> Path | str:
    """The solve's page (`agent view`), beside its trace; a page that cannot be written is no failure."""
    from agent.view import ViewError, view

    try:
        return view([target])
    except (ViewError, OSError) as exc:
        return f"not written ({exc})"


async def _solve(problem, config: SolverConfig, client, boxes, target: Path):
    from agent.solver import Solver
    from agent.trace import Tracer
    from agent.wiring import connected

    async with connected(client, boxes, say) as (llm, box):
        tracer = Tracer(target / "trace.jsonl", run=target.name, task=problem.task_id or problem.entry_point)
        return await Solver(llm, box, config, client.model).solve(problem, tracer)


def _round_line(r, feedback: str) -> str:
    hidden = "" if r.hidden_passed is None else f"  hidden: {'pass' if r.hidden_passed else 'fail'}"
    kept = "  (kept the earlier answer)" if r.kept_previous else ""
    if r.selected_by is not None:
        drawn = "" if r.drawn_passed is None else f", {r.drawn_passed} passing"
        return (f"round {r.round}  {r.action:<13} {len(r.drawn)} drawn{drawn}; answer: {r.feedback_passed}/"
                f"{r.feedback_total} examples, {r.cluster_size} alike of {r.clusters} clusters, by "
                f"{r.selected_by}{hidden}{kept}")
    tool = f" {r.tool}" if r.tool else ""
    return (f"round {r.round}  {r.action + tool:<8} {r.feedback_passed}/{r.feedback_total} {feedback} "
            f"tests  {r.feedback_error or 'untested'}{hidden}{kept}")


def _show_solved(result, problem, as_json: bool) -> None:
    """Each round's answer and verdicts, the final code once, and the verdict."""
    from rich.syntax import Syntax

    from agent.extract import readable_program

    if as_json:
        out.print_json(result.model_dump_json())
        return
    for r in result.rounds:
        out.print(_round_line(r, result.feedback), highlight=False)
    shown = readable_program(problem.prompt, result.final_completion, problem.entry_point)
    if out.is_terminal:
        out.print(Syntax(shown, "python", line_numbers=False))
    else:
        out.print(shown, markup=False, highlight=False)
    label = "oracle " if result.oracle else ""
    verdict = "SOLVED" if result.solved else "NOT SOLVED"
    out.print(f"[bold]{verdict}[/] on the {result.judged_on} tests ({label}{result.feedback} feedback, "
              f"{count(len(result.rounds), 'round')}, {count(result.usage.completion_tokens, 'token')}, "
              f"{result.seconds:.1f} s; stop: {result.stop_reason})")
