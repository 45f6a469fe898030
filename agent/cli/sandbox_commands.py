"""`agent sandbox build` and `agent sandbox check`."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from agent.cli.app import SandboxOption, WeakOption, fail, out, sandbox_app, say


@sandbox_app.command("build")
def sandbox_build(force: Annotated[bool, typer.Option(help="rebuild even if the image exists")] = False) -> None:
    """Build the sandbox's root file system, the executor's runtime and the Docker image offline (once; reused)."""
    from sandbox.docker_backend import SandboxUnavailable, docker_client
    from sandbox.image import ImageBuildError, build_image
    from sandbox.rootfs import RootfsError, build_rootfs
    from sandbox.runtime import build_runtime

    problems = []
    try:
        out.print(f"sandbox root file system ready: {build_rootfs(say=say, force=force)}", highlight=False)
        out.print(f"executor runtime ready: {build_runtime(say=say, force=force)}", highlight=False)
    except RootfsError as exc:
        problems.append(f"no root file system for the bubblewrap sandbox: {exc}")
    try:
        out.print(f"sandbox image ready: {build_image(docker_client(), say=say, force=force)}", highlight=False)
    except (SandboxUnavailable, ImageBuildError) as exc:
        problems.append(f"no Docker image: {exc}")
    if len(problems) == 2:
        fail("; ".join(problems))
    for problem in problems:
        say(f"warning: {problem}")


@sandbox_app.command("check")
def sandbox_check(sandbox: SandboxOption = "auto", allow_weak_sandbox: WeakOption = False) -> None:
    """Show the backend, engine, image and isolation in force, and prove the pool works."""
    from sandbox import SandboxConfig, SandboxUnavailable, open_sandbox
    from sandbox.verdict import Job, TestCase

    try:
        with open_sandbox(SandboxConfig(backend=sandbox, workers=1, allow_weak_isolation=allow_weak_sandbox),
                          say=say) as box:
            facts = box.describe()
            probe = Job(program="def f(x):\n    return x + 1\n", entry_point="f",
                        tests=[TestCase(name="probe", source="assert f(1) == 2")])
            started = time.monotonic()
            verdict = box.run(probe)
            latency = (time.monotonic() - started) * 1000
    except SandboxUnavailable as exc:
        fail(str(exc))
    table = Table(show_header=False, title="repair-agent sandbox")
    table.add_column(style="bold")
    table.add_column()
    for key in ("backend", "engine", "image", "isolation", "trusted side"):
        table.add_row(key, facts[key])
    table.add_row("probe", f"{'passed' if verdict.passed else 'FAILED: ' + verdict.result} in {latency:.1f} ms")
    out.print(table)
    if not verdict.passed:
        raise typer.Exit(2)
