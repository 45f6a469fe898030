"""The sandbox's one configuration object."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field

IMAGE_REPOSITORY = "repair-agent-sandbox"
LABEL = "repair-agent"


class SandboxConfig(BaseModel):
    backend: Literal["auto", "docker", "process"] = "auto"
    allow_weak_isolation: bool = Field(
        False, description="where neither Docker nor bubblewrap works, run candidates in a plain unshared process")
    workers: int = Field(default_factory=lambda: min(64, os.cpu_count() or 2), ge=1, le=64,
                         description="jobs judged at once")
    memory_mb: int = Field(512, ge=64, description="memory for one candidate (the container gets 128 MiB more)")
    cpus: float = Field(1.0, gt=0, description="CPU share of one container")
    pids_limit: int = Field(64, ge=8)
    scratch_mb: int = Field(64, ge=1, description="size of the per-container scratch tmpfs")
    image: str | None = Field(None, description="sandbox image; default: the one `agent sandbox build` makes")
    start_timeout: float = Field(60.0, gt=0, description="seconds to wait for a new executor")
    spares: int | None = Field(None, ge=0, le=64, description="executors kept warm beyond `workers`, so that a job "
                               "usually finds one that has never seen its tests; default: max(2, workers)")
    max_jobs: int = Field(256, ge=1, description="jobs one executor serves before it is replaced")

    @property
    def pool_size(self) -> int:
        return self.workers + (max(2, self.workers) if self.spares is None else self.spares)
