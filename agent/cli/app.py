"""The `agent` command's application, its consoles, and what every command shares: one
sentence and exit 2 for bad input, and the options several commands take."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated, Any, Callable, Coroutine, Iterator, Literal, NoReturn, Optional, TypeVar

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="repair-agent: a small code model, a Docker sandbox, repair rounds and honest pass@k.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Build and inspect the sandbox.")
app.add_typer(sandbox_app, name="sandbox")
model_app = typer.Typer(no_args_is_help=True, help="Provide the model weights.")
app.add_typer(model_app, name="model")

out = Console()
err = Console(stderr=True)

SandboxBackend = Literal["auto", "docker", "process"]
WEAK_HELP = "where neither Docker nor bubblewrap works, accept a plain unshared process (weaker isolation)"
SandboxOption = Annotated[SandboxBackend, typer.Option(help="docker, process (bubblewrap) or auto")]
WeakOption = Annotated[bool, typer.Option(help=WEAK_HELP)]
BaseUrlOption = Annotated[Optional[str], typer.Option(help="OpenAI-compatible server; default: $AGENT_BASE_URL "
                                                           "or the embedded default")]
ModelOption = Annotated[Optional[str], typer.Option(help="model name; default: $AGENT_MODEL or the bundled model")]
CacheOption = Annotated[Optional[str], typer.Option("--cache-dir", help="cache folder; default $REPAIR_AGENT_CACHE "
                                                                        "or ~/.cache/repair-agent")]


T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, where SIGTERM stops the work as Ctrl-C does: by cancelling it, so that
    its clean-up (a bench's grace for finished samples, closing the sandbox) always runs in
    the same order, wherever the signal lands; then the process exits 143."""
    terminated = False

    async def main() -> T:
        nonlocal terminated
        loop, task = asyncio.get_running_loop(), asyncio.current_task()

        def on_sigterm() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        previous = signal.getsignal(signal.SIGTERM)
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGTERM)  # which leaves the default action: put back ours
            signal.signal(signal.SIGTERM, previous)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if terminated:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def say(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


def invalid_option(exc: ValueError) -> str:
    """One sentence for a configuration that pydantic refused, naming the flag."""
    first = exc.errors()[0]  # type: ignore[attr-defined]
    where = f"--{str(first['loc'][0]).replace('_', '-')}: " if first["loc"] else ""
    return f"invalid option {where}{first['msg'].removeprefix('Value error, ')}"


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def clamp_workers(workers: int, most: int = 64) -> int:
    if workers > most:
        say(f"--workers {workers} is more than the sandbox runs at once; using {most}")
    return min(workers, most)


@contextlib.contextmanager
def clean_errors(before: Callable[[], None] = lambda: None) -> Iterator[None]:
    """A failing service, or a run directory that cannot be used, ends the command with its one sentence."""
    from agent.wiring import SERVICE_ERRORS
    from eval.run_dir import RunDirError

    try:
        yield
    except (*SERVICE_ERRORS, RunDirError) as exc:
        before()
        fail(str(exc))
