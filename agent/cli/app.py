"""The `agent` command's application, its consoles, and what every command shares: one
sentence and exit 2 for bad input, and the options several commands take."""

from __future__ import annotations

import contextlib
from typing import Annotated, Callable, Iterator, Literal, NoReturn, Optional

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
