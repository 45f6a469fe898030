"""Shared fixtures. Integration and e2e tests need a real Docker engine: they fail,
never skip, when none answers (the README's test command starts one)."""

from __future__ import annotations

import pytest

from sandbox import SandboxConfig
from sandbox.docker_backend import DockerBackend, docker_client
from sandbox.image import build_image
from sandbox.sandbox import PooledSandbox


def pytest_collection_modifyitems(items):
    for item in items:
        layer = item.path.parent.name
        if layer in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def docker_image() -> str:
    return build_image(docker_client(), say=lambda message: None)


def make_docker_sandbox(image: str, workers: int) -> PooledSandbox:
    config = SandboxConfig(backend="docker", workers=workers, image=image)
    return PooledSandbox(DockerBackend(config), workers)
