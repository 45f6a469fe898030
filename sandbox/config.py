"""The sandbox's one configuration object."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field

IMAGE_REPOSITORY = "repair-agent-sandbox"
LABEL = "repair-agent"


class SandboxConfig(BaseModel):
    backend: Literal["auto", "docker", "process"] = "auto"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1, le=64, description="executors kept warm")
    memory_mb: int = Field(512, ge=64, description="memory for one candidate (the container gets 128 MiB more)")
    cpus: float = Field(1.0, gt=0, description="CPU share of one container")
    pids_limit: int = Field(64, ge=8)
    scratch_mb: int = Field(64, ge=1, description="size of the per-container scratch tmpfs")
    image: str | None = Field(None, description="sandbox image; default: the one `agent sandbox build` makes")
    start_timeout: float = Field(60.0, gt=0, description="seconds to wait for a new executor")
