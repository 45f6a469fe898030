"""Builds the sandbox image offline: no container registry is needed.

The sandbox's root file system (`sandbox/rootfs.py`: a minimal Debian with Python,
made with debootstrap) is imported as the base image; the executor is added on top in
a registry-free `docker build`. Where a registry is reachable and debootstrap is not,
a slim Python image is pulled as the base instead.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import docker
import docker.errors

from sandbox.config import IMAGE_REPOSITORY, LABEL
from sandbox.rootfs import RootfsError, build_rootfs

EXECUTOR_PATH = Path(__file__).with_name("executor.py")
EXECUTOR_IN_IMAGE = "/opt/repair-agent/executor.py"
BASE_IMAGE = "repair-agent-base:bookworm-python3.11"
RECIPE_VERSION = "1"


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says why and what to do."""


def image_tag() -> str:
    digest = hashlib.sha256(RECIPE_VERSION.encode() + EXECUTOR_PATH.read_bytes()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:12]}"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _build_base_debootstrap(client: docker.DockerClient, say: Callable[[str], None], force: bool) -> None:
    try:
        root = build_rootfs(say, force=force)
    except RootfsError as exc:
        raise ImageBuildError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="repair-agent-rootfs-") as work:
        archive = Path(work) / "root.tar"
        say("docker import of the root file system")
        subprocess.run(["tar", "-C", str(root), "-cf", str(archive), "."], check=True)
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image(src=str(archive), repository=repository, tag=tag)


def _build_base_pull(client: docker.DockerClient, say: Callable[[str], None]) -> None:
    say("pulling python:3.11-slim as the base image")
    image = client.images.pull("python", tag="3.11-slim")
    repository, tag = BASE_IMAGE.split(":")
    image.tag(repository, tag)


def build_image(client: docker.DockerClient, say: Callable[[str], None] = print, force: bool = False) -> str:
    """Returns the sandbox image's tag, building what is missing."""
    tag = image_tag()
    if image_exists(client, tag) and not force:
        return tag
    if force or not image_exists(client, BASE_IMAGE):
        try:
            _build_base_debootstrap(client, say, force)
        except ImageBuildError as first:
            try:
                _build_base_pull(client, say)
            except docker.errors.DockerException:
                raise first from None
    say(f"adding the executor: {tag}")
    dockerfile = (
        f"FROM {BASE_IMAGE}\n"
        f"COPY executor.py {EXECUTOR_IN_IMAGE}\n"
        "RUN python3 -I -c 'import ctypes, resource, json, socket, select'\n"
        "USER 65534:65534\n"
        "WORKDIR /tmp\n"
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile.encode()), ("executor.py", EXECUTOR_PATH.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, pull=False, labels={LABEL: "image"})
    except docker.errors.BuildError as exc:
        raise ImageBuildError(f"docker build of the sandbox image failed: {exc}") from None
    return tag
