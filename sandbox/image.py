"""Builds the sandbox image offline: no container registry is needed.

The image holds only the executor's runtime (`sandbox/runtime.py`: the interpreter, its
libraries and the standard library, made from the debootstrap root) at /opt/runtime, a
folder only root can open, with the executor and its bootstrap inside, and the usual
top-level links into /usr. A container mounts its own tmpfs at /usr, which the bootstrap
fills from /opt/runtime before it drops to the unprivileged user (`sandbox/bootstrap.py`):
no file a candidate can read is shared with another container. The image is one
`docker import` of a tar made here.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import docker
import docker.errors

from sandbox.config import IMAGE_REPOSITORY, LABEL
from sandbox.rootfs import RootfsError
from sandbox.runtime import (BOOTSTRAP_IN_RUNTIME, EXECUTOR_IN_RUNTIME, INTERPRETER, RUNTIME_VERSION, build_runtime,
                             loader_command)

EXECUTOR_PATH = Path(__file__).with_name("executor.py")
BOOTSTRAP_PATH = Path(__file__).with_name("bootstrap.py")
RUNTIME_IN_IMAGE = "/opt/runtime"
RECIPE_VERSION = "3"
# A container of the image mounts this tmpfs at /usr: the bootstrap fills it with the runtime.
RUNTIME_TMPFS = "rw,exec,nosuid,nodev,size=96m,mode=755"


def bootstrap_command(*args: str) -> list[str]:
    """The container's command: the bootstrap, run by the image's runtime, then `args` (the
    executor's, or `--program=PATH` and that script's)."""
    return [*loader_command(RUNTIME_IN_IMAGE, INTERPRETER, "-I", "-S", RUNTIME_IN_IMAGE + BOOTSTRAP_IN_RUNTIME),
            *args]


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says why and what to do."""


def image_tag() -> str:
    digest = hashlib.sha256(f"{RECIPE_VERSION}/{RUNTIME_VERSION}".encode() + EXECUTOR_PATH.read_bytes()
                            + BOOTSTRAP_PATH.read_bytes()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:12]}"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _folder(name: str, mode: int = 0o755) -> tarfile.TarInfo:
    info = _as_root(tarfile.TarInfo(name))
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info


def write_image_tar(runtime: Path, archive: Path) -> None:
    """The image's whole file system: /opt/runtime (root only), mount points, links into /usr."""
    with tarfile.open(archive, "w") as tar:
        # Docker copies a mount point's mode (and content) into the tmpfs mounted over it.
        for name in ("usr", "proc", "dev", "sys", "etc", "opt"):
            tar.addfile(_folder(name))
        tar.addfile(_folder("tmp", 0o1777))
        for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
            info = _as_root(tarfile.TarInfo(link))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        base = RUNTIME_IN_IMAGE.lstrip("/")
        tar.addfile(_folder(base, 0o700))
        for entry in sorted(runtime.iterdir()):
            if entry.name == "usr":
                tar.add(entry, arcname=f"{base}/usr", filter=_as_root)
        for source, target in ((EXECUTOR_PATH, EXECUTOR_IN_RUNTIME), (BOOTSTRAP_PATH, BOOTSTRAP_IN_RUNTIME)):
            data = source.read_bytes()
            info = _as_root(tarfile.TarInfo(f"{base}{target}"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def build_image(client: docker.DockerClient, say: Callable[[str], None] = print, force: bool = False) -> str:
    """Returns the sandbox image's tag, building what is missing."""
    tag = image_tag()
    if image_exists(client, tag) and not force:
        return tag
    try:
        runtime = build_runtime(say)
    except RootfsError as exc:
        raise ImageBuildError(str(exc)) from None
    say(f"docker import of the executor's runtime: {tag}")
    repository, version = tag.split(":")
    with tempfile.TemporaryDirectory(prefix="repair-agent-image-") as work:
        archive = Path(work) / "image.tar"
        write_image_tar(runtime, archive)
        try:
            client.api.import_image(src=str(archive), repository=repository, tag=version,
                                    changes=[f'LABEL {LABEL}="image"', "WORKDIR /tmp"])
        except docker.errors.DockerException as exc:
            raise ImageBuildError(f"docker import of the sandbox image failed: {exc}") from None
    return tag
