"""Root file systems made offline with debootstrap from the machine's own Debian mirror
(no container registry needed). The sandbox's is a minimal Debian with Python 3.11 and
nothing else: Docker imports it as the base of the sandbox image, and the process backend
mounts it read-only under bubblewrap. The model server's image adds what vLLM needs on
CPU (`SERVER_RECIPE`). Built once, kept in the cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, NamedTuple

from sandbox.cache import CACHE_ENV, cache_dir



class RootfsRecipe(NamedTuple):
    name: str  # the folder's name: change it when the packages change
    packages: tuple[str, ...]
    what: str


SANDBOX_RECIPE = RootfsRecipe("bookworm-python3.11-1", ("python3-minimal", "libpython3.11-stdlib"),
                              "a minimal Debian bookworm with Python 3.11")
SERVER_RECIPE = RootfsRecipe(
    "bookworm-vllm-cpu-2", ("python3.11", "libpython3.11-dev", "g++", "openssl", "libnuma1"),
    # torch.compile's inductor builds C++ kernels at start-up (g++, Python's headers) and
    # checksums them with the openssl command; vLLM's CPU kernels link libnuma.
    "Debian bookworm with Python 3.11, its headers, g++, openssl and libnuma for the model server")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PYTHON = "/usr/bin/python3"
SYSTEM_CACHE = Path("/var/cache/repair-agent")


class RootfsError(RuntimeError):
    """The root file system could not be built; the message says why and what to do."""


def rootfs_path(recipe: RootfsRecipe = SANDBOX_RECIPE) -> Path:
    """In the user cache; for root in /var/cache, since bubblewrap then runs as nobody and
    must reach the folder (root's home is closed to other users)."""
    base = SYSTEM_CACHE if os.geteuid() == 0 and not os.environ.get(CACHE_ENV) else cache_dir()
    return base / "sandbox-rootfs" / recipe.name


def rootfs_ready(path: Path | None = None) -> bool:
    path = path or rootfs_path()
    return (path / PYTHON.lstrip("/")).exists() and _marker(path).exists()


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".complete")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (reachable here), or the default."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text()
        except OSError:
            continue
        match = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+\S+", text, re.M
        )
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def build_rootfs(say: Callable[[str], None] = print, force: bool = False,
                 recipe: RootfsRecipe = SANDBOX_RECIPE) -> Path:
    """Returns the root file system's folder, building it when missing (needs root)."""
    path = rootfs_path(recipe)
    if rootfs_ready(path) and not force:
        return path
    if shutil.which("debootstrap") is None:
        raise RootfsError("debootstrap is not installed (apt-get install -y debootstrap)")
    if os.geteuid() != 0:
        raise RootfsError(f"building {recipe.what} with debootstrap needs root "
                          "(run the command with sudo)")
    mirror = debian_mirror()
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    say(f"debootstrap: {recipe.what} from {mirror} (about a minute)")
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}",
               "bookworm", str(partial), mirror]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise RootfsError(f"debootstrap failed: {' / '.join(tail)}")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(partial / cache, ignore_errors=True)
    _marker(path).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)
    _marker(path).touch()
    return path
