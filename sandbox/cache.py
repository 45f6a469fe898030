"""Where repair-agent keeps what it downloads and builds: one user cache folder (the model,
the model server's environment, the sandbox's root file system)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "REPAIR_AGENT_CACHE"


def cache_dir(override: str | Path | None = None) -> Path:
    """--cache-dir, else $REPAIR_AGENT_CACHE, else $XDG_CACHE_HOME/repair-agent (~/.cache/repair-agent)."""
    if override:
        root = Path(override)
    elif os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "repair-agent"
    root = root.expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root
