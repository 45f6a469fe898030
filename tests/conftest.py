"""Shared fixtures. Integration and e2e tests need a real Docker engine: they fail,
never skip, when none answers (the README's test command starts one)."""

from __future__ import annotations

import pytest

from sandbox import SandboxConfig
from sandbox.docker_backend import DockerBackend, docker_client
from sandbox.image import build_image
from sandbox.sandbox import PooledSandbox


LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        layer = item.path.parent.name
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))
    # Fast layers first; in e2e the serving tests first, as they need port 8000 free before
    # the shared server (tests/e2e/conftest.py) starts there for the rest.
    items.sort(key=lambda item: (LAYERS.index(item.path.parent.name) if item.path.parent.name in LAYERS else -1,
                                 item.path.name != "test_serving.py"))


@pytest.fixture(scope="session")
def docker_image() -> str:
    return build_image(docker_client(), say=lambda message: None)


def make_docker_sandbox(image: str, workers: int) -> PooledSandbox:
    config = SandboxConfig(backend="docker", workers=workers, image=image)
    return PooledSandbox(DockerBackend(config), config.pool_size)
