"""The `agent` command: a thin layer that builds configs, wires parts and calls them; one
module per command (group)."""

from __future__ import annotations

import signal
import sys

# imported for the commands they register, in the order `agent --help` lists them
from agent.cli import check, sandbox_commands, solve, bench, inspect_command, reports, serving  # noqa: F401, I001
from agent.cli.app import app, clamp_workers, err

__all__ = ["app", "main", "clamp_workers"]


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
