"""`agent bench` and `agent sweep`: pass@k on the hidden tests, one run or a grid of runs
against one model server and one sandbox pool."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal, NamedTuple, Optional

import typer
from pydantic import BaseModel, ConfigDict
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agent.cli.app import BaseUrlOption, ModelOption, SandboxBackend, SandboxOption, WeakOption, app, clamp_workers, \
    clean_errors, count, err, fail, invalid_option, run_async, say
from agent.cli.summaries import finish_report, report_partial
from agent.cli.solver_options import SolverChoice, given_options, solver_config, solver_options
from eval.datasets import DatasetFormat

if TYPE_CHECKING:
    from eval.bench import BenchConfig

ORACLE_WARNING = ("[bold yellow]oracle feedback:[/] the model sees the hidden tests while repairing; later rounds "
                  "are an upper bound, not an honest score")


class RunOptions(BaseModel):
    """What one bench run measures, besides the solver."""

    out_dir: Path
    dataset: str
    format: Optional[DatasetFormat]
    skip_bad: bool
    challenge_tests: bool
    limit: Optional[int]
    n: int
    k: str


class SharedOptions(BaseModel):
    """What every point of a sweep shares: one server, one client, one sandbox pool."""

    model_config = ConfigDict(extra="forbid")

    base_url: Optional[str]
    model: Optional[str]
    concurrency: int
    sandbox: SandboxBackend
    allow_weak_sandbox: bool
    workers: Optional[int]
    ray: Optional[str] = None
    ray_samples_per_node: int = 16


@app.command()
@solver_options(temperature=0.8)
def bench(
    out_dir: Annotated[Path, typer.Option("--out", help="the run directory; rerunning on it resumes")],
    dataset: Annotated[str, typer.Option(help="humaneval, or a dataset file (JSONL or JSONL.gz; README: Datasets)")] = "humaneval",
    format: Annotated[Optional[DatasetFormat], typer.Option(help="the dataset file's format; default: detected from its records")] = None,
    skip_bad: Annotated[bool, typer.Option(help="leave out records that break the format (each is reported) instead of stopping")] = False,
    challenge_tests: Annotated[bool, typer.Option(help="mbpp: judge with challenge_test_list too")] = False,
    limit: Annotated[Optional[int], typer.Option(help="the first N problems only")] = None,
    n: Annotated[int, typer.Option("--n", help="independent agent runs (samples) per problem")] = 10,
    k: Annotated[str, typer.Option("--k", help="comma-separated k for pass@k (k <= n)")] = "1,5,10",
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="sequences in flight on the model server")] = 64,
    sandbox: SandboxOption = "auto",
    allow_weak_sandbox: WeakOption = False,
    workers: Annotated[Optional[int], typer.Option(min=1, help="sandbox executors; default: CPU count (of each node, with --ray)")] = None,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", help="run across a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (README: Ray)")] = None,
    ray_samples_per_node: Annotated[int, typer.Option(min=1, help="--ray: samples in flight on each node")] = 16,
    *,
    solver: SolverChoice,
) -> None:
    """pass@k single-shot and after every repair round on the hidden tests; resumable."""
    run = RunOptions(out_dir=out_dir, dataset=dataset, format=format, skip_bad=skip_bad,
                     challenge_tests=challenge_tests, limit=limit, n=n, k=k)
    plan = bench_plan(run, solver)
    shared = SharedOptions(base_url=base_url, model=model, concurrency=concurrency, sandbox=sandbox,
                           allow_weak_sandbox=allow_weak_sandbox, workers=workers, ray=ray,
                           ray_samples_per_node=ray_samples_per_node)
    run_benches([plan], shared, BenchDisplay())
    finish_report(out_dir)


class BenchPlan(NamedTuple):
    config: "BenchConfig"
    problems: list
    digest: str
    out_dir: Path
    format: str
    skipped: list[str]


def bench_plan(run: RunOptions, solver: SolverChoice) -> BenchPlan:
    """The bench's configuration and problems from its command-line values (one sentence on a bad one)."""
    from eval.bench import BenchConfig, load_dataset
    from eval.problems import ProblemError

    config_solver = solver_config(solver)
    try:
        config = BenchConfig(dataset=run.dataset, format=run.format, skip_bad=run.skip_bad,
                             challenge_tests=run.challenge_tests, limit=run.limit, n=run.n,
                             ks=parse_ks(run.k, run.n), solver=config_solver)
    except ValueError as exc:
        fail(invalid_option(exc))
    try:
        loaded = load_dataset(config)
    except ProblemError as exc:
        fail(str(exc))
    for message in loaded.skipped:
        say(f"skipped {message}")
    if loaded.skipped:
        say(f"{count(len(loaded.skipped), 'record')} left out (--skip-bad); {len(loaded.problems)} problems remain")
    if config.oracle:
        say(ORACLE_WARNING)
    return BenchPlan(config, loaded.problems, loaded.digest, run.out_dir, loaded.format, loaded.skipped)


_WARNED: set = set()


def parse_ks(k: str, n: int) -> list[int]:
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
        if not ks or min(ks) < 1:
            raise ValueError
    except ValueError:
        fail(f"--k must be comma-separated positive integers, not {k!r}")
    if [x for x in ks if x > n] and (k, n) not in _WARNED:
        _WARNED.add((k, n))
        say(f"pass@k for k > n ({', '.join(str(x) for x in ks if x > n)}) cannot be estimated from {n} samples; skipped")
    return ks


def run_benches(plans: list[BenchPlan], shared: SharedOptions, display: "BenchDisplay", sequential: bool = False) -> None:
    """Runs the plans against one model server, one client and one sandbox pool: at once
    (interleaved), or one after another."""
    from agent.llm.client import ClientConfig
    from agent.wiring import model_server
    from eval.bench import BenchStopped
    from sandbox import SandboxConfig

    boxes = SandboxConfig(backend=shared.sandbox, allow_weak_isolation=shared.allow_weak_sandbox,
                          **({"workers": clamp_workers(shared.workers)} if shared.workers else {}))
    plans = [_with_expected_outputs(plan, boxes) for plan in plans]
    with clean_errors(display.stop), model_server(shared.base_url, say) as url:
        client = ClientConfig.from_options(base_url=url, model=shared.model, timeout=900.0, retries=5, backoff=1.0)
        try:
            if shared.ray:
                from agent.cli.ray_bench import ray_benches

                ray_benches(plans, client, boxes, shared, display)
            else:
                run_async(_bench_all(plans, client, boxes, shared.concurrency, display, sequential))
        except BenchStopped as exc:
            display.stop()
            for plan in plans:
                report_partial(plan.out_dir)
            where = plans[0].out_dir if len(plans) == 1 else plans[0].out_dir.parent
            fail(f"the run stopped: {exc}; everything finished is saved in {where}, "
                 "run the same command again to resume")
    display.stop()


def _with_expected_outputs(plan: BenchPlan, boxes) -> BenchPlan:
    """The plan with its evalplus problems' expected outputs written into their tests."""
    from agent.cli.expected_outputs import with_expected_outputs

    problems, skipped = with_expected_outputs(plan.problems, boxes, plan.config.skip_bad)
    if not problems:
        fail(f"no problem of {plan.config.dataset} is left to run")
    return plan._replace(problems=problems, skipped=plan.skipped + skipped)


async def _bench_all(plans: list[BenchPlan], client, boxes, concurrency: int, display,
                     sequential: bool = False) -> None:
    from agent.wiring import connected
    from eval.bench import BenchStopped

    async with connected(client, boxes, say, concurrency) as (llm, box):
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
    from eval.bench import Bench

    solver = Solver(llm, box, plan.config.solver, client.model, run_name=plan.out_dir.name)
    run_dir = await asyncio.to_thread(prepare_run, plan, solver.describe(), client, concurrency)
    await Bench(plan.config, plan.problems, solver, box, run_dir, on_progress=display.bar(plan)).run()


def prepare_run(plan: BenchPlan, described, client, concurrency: int, **extra: Any):
    """The plan's run directory, made or checked against the experiment; says when resuming."""
    from agent.llm.served import served_model
    from eval.bench import experiment_of
    from eval.environment import git_revision, machine
    from eval.problems import dev_split
    from eval.run_dir import RunDir

    config, run_dir = plan.config, RunDir(plan.out_dir)
    command = " ".join(["agent", *sys.argv[1:]])
    served = served_model(client.base_urls[0], client.model, client.api_key).model_dump()
    experiment = experiment_of(config, plan.digest, described, plan.format)
    resuming = run_dir.prepare(experiment, {
        "ks": config.ks, "problems_total": len(plan.problems), "dev_split": dev_split(config.dataset),
        "skipped_records": len(plan.skipped),
        "command": command, "machine": machine(), "revision": git_revision(),
        "base_url": ",".join(client.base_urls), "concurrency": concurrency, "served": served,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra})
    run_dir.update_info(ks=config.ks, last_command=command, served=served, **extra)
    if resuming:
        say(f"resuming the run in {plan.out_dir}")
    return run_dir


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


Schedule = Literal["interleaved", "sequential"]


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="the sweep's folder: one run directory per point; rerunning resumes")],
    grid: Annotated[list[str], typer.Option(help="OPTION=VALUE,VALUE... (a bench option; repeat for more axes)")],
    schedule: Annotated[Schedule, typer.Option(help="interleaved: all points at once, a new problem of any point "
                                               "whenever the server has room (measured faster); sequential: one "
                                               "point after another")] = "interleaved",
) -> None:
    """A grid of bench runs against one model server and one sandbox pool, then one comparison.

    Bench options for every point follow `--`, for example:
    agent sweep --out sweeps/t --grid temperature=0,0.4,0.8 -- --n 5 --rounds 2 --limit 40
    """
    from eval.sweep import SweepError, SweepManifest, parse_grid, points_of, write_manifest, write_sweep_report

    bench_command = typer.main.get_command(app).commands["bench"]  # type: ignore[attr-defined]
    known = {o.lstrip("-") for param in bench_command.params for o in param.opts if o.startswith("--")}
    shared = {name.replace("_", "-") for name in SharedOptions.model_fields} | {"out"}
    try:
        axes = parse_grid(grid, known, shared)
        points = points_of(axes)
        parsed = [_bench_args(bench_command, [*ctx.args, *_as_flags(p.settings), "--out", str(out_dir / p.name)])
                  for p in points]
        plans = [bench_plan(run, choice) for run, choice, _ in parsed]
        write_manifest(out_dir, SweepManifest(grid=axes, points=points, command=" ".join(["agent", *sys.argv[1:]])))
    except SweepError as exc:
        fail(str(exc))
    say(f"{count(len(plans), 'point')}: {', '.join(p.name for p in points)}")
    run_benches(plans, parsed[0][2], BenchDisplay(), sequential=schedule == "sequential")
    say(f"report: {write_sweep_report(out_dir)}")


def _as_flags(settings: dict[str, str]) -> list[str]:
    return [item for key, value in settings.items() for item in (f"--{key}", value)]


def _bench_args(command, args: list[str]) -> tuple[RunOptions, SolverChoice, SharedOptions]:
    """The bench's parsed values for `args`, checked by the bench's own parser."""
    from agent.config import SolverConfig

    try:
        with command.make_context("bench", list(args)) as context:
            params: dict[str, Any] = dict(context.params)
            given = given_options(context, SolverConfig.model_fields)
    except typer.TyperException as exc:  # typer's own parser refused them
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        fail(f"bench options: {message}")
    pick = lambda model: {name: params[name] for name in model.model_fields}  # noqa: E731
    return (RunOptions(**pick(RunOptions)), SolverChoice(pick(SolverConfig), given),
            SharedOptions(**pick(SharedOptions)))
