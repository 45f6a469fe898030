"""The executor's private runtime: everything a candidate can read, copied per executor.

The page cache is shared by every process that reads one file (one inode): a candidate
that can read a file shared with other sandboxes can cache a page of it, evict it with
`posix_fadvise(DONTNEED)` and later time a read to see whether another job touched it,
a ledger that crosses executors. So no executor reads a file another one reads: each
gets its own copy of a small runtime (the interpreter, the shared libraries it and the
standard library's extension modules load, the standard library compiled, and `sh`),
and nothing else of a shared root is mounted or readable (Docker: a tmpfs over /usr
filled at start by a bootstrap running as root, the shared copy then unreadable;
bubblewrap: a copy made by the host is the sandbox's whole root).

The runtime is made once from the sandbox's root file system (`sandbox/rootfs.py`) with
the root's own dynamic loader listing each program's libraries (no root rights needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from sandbox.rootfs import RootfsError, build_rootfs, rootfs_path

RUNTIME_VERSION = "3"
PYTHON_VERSION = "3.11"
LIB_DIR = "usr/lib/x86_64-linux-gnu"
LOADER = "ld-linux-x86-64.so.2"
INTERPRETER = f"usr/bin/python{PYTHON_VERSION}"
EXECUTOR_IN_RUNTIME = "/usr/lib/repair-agent/executor.py"
BOOTSTRAP_IN_RUNTIME = "/usr/lib/repair-agent/bootstrap.py"
# Test and demo modules of the standard library: never needed by a candidate.
_SKIPPED_MODULES = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__")
# Libraries that programs load by name (ctypes) though the interpreter needs none; libgcc_s for
# compiled extensions of the trusted side (pydantic_core).
_GLIBC_EXTRAS = ("librt.so.1", "libpthread.so.0", "libdl.so.2", "libutil.so.1", "libgcc_s.so.1")
_SKIPPED_EXTENSIONS = ("_test", "_ctypes_test", "_xxtestfuzz", "_xxsubinterpreters", "xxlimited")


def runtime_path() -> Path:
    root = rootfs_path()
    return root.with_name(f"{root.name}-runtime-{RUNTIME_VERSION}")


def runtime_ready(path: Path | None = None) -> bool:
    path = path or runtime_path()
    return (path / INTERPRETER).exists() and path.with_name(path.name + ".complete").exists()


def loader_command(base: Path | str, program: str, *args: str) -> list[str]:
    """Runs `program` of the runtime at `base` through that runtime's own loader and
    libraries, whatever the paths outside it hold."""
    base = str(base).rstrip("/")
    return [f"{base}/{LIB_DIR}/{LOADER}", "--inhibit-cache", "--library-path", f"{base}/{LIB_DIR}",
            f"{base}/{program}", *args]


def _needed(root: Path, files: list[Path]) -> set[str]:
    """Library names (sonames) the files load, resolved in the root's own library folder."""
    names: set[str] = set()
    loader = root / LIB_DIR / LOADER
    for path in files:
        done = subprocess.run([str(loader), "--inhibit-cache", "--library-path", str(root / LIB_DIR), "--list",
                               str(path)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RootfsError(f"cannot list the libraries of {path}: {done.stderr.strip()[-200:]}")
        for line in done.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and parts[parts.index("=>") + 1].startswith("/"):
                names.add(Path(parts[0]).name)
    return names


def _inside(root: Path, path: str) -> Path:
    """`path` as seen from inside `root`: its symbolic links resolved there, not on the host."""
    current = Path("/")
    parts = list(Path(path).parts[1:])
    for _ in range(64):
        if not parts:
            return root / current.relative_to("/")
        part = parts.pop(0)
        candidate = root / (current / part).relative_to("/")
        if candidate.is_symlink():
            target = os.readlink(candidate)
            parts = list(Path(target).parts[1:] if target.startswith("/") else Path(target).parts) + parts
            current = Path("/") if target.startswith("/") else current
        elif part == "..":
            current = current.parent
        else:
            current = current / part
    raise RootfsError(f"too many symbolic links in {path} inside {root}")


def _copy_stdlib(source: Path, target: Path) -> None:
    def skipped(folder: str, names: list[str]) -> set[str]:
        drop = {n for n in names if n in _SKIPPED_MODULES} if Path(folder) == source else {"__pycache__"} & set(names)
        if Path(folder).name == "lib-dynload":
            drop |= {n for n in names if n.startswith(_SKIPPED_EXTENSIONS)}
        return drop

    shutil.copytree(source, target, symlinks=True, ignore=skipped)


def build_runtime(say: Callable[[str], None] = print, force: bool = False) -> Path:
    """Returns the runtime's folder, making it from the root file system when missing."""
    path = runtime_path()
    if runtime_ready(path) and not force:
        return path
    root = build_rootfs(say)
    say("the executor's private runtime: interpreter, libraries, standard library (compiled)")
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "usr/bin").mkdir(parents=True)
    (partial / LIB_DIR).mkdir(parents=True)
    (partial / "usr/lib64").mkdir(parents=True)
    (partial / "usr/lib/repair-agent").mkdir(parents=True)
    for mount_point in ("proc", "dev", "tmp", "opt", "etc"):
        (partial / mount_point).mkdir()
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        os.symlink(target, partial / link)
    stdlib = f"usr/lib/python{PYTHON_VERSION}"
    _copy_stdlib(root / stdlib, partial / stdlib)
    shutil.copy2(root / INTERPRETER, partial / INTERPRETER)
    os.symlink(f"python{PYTHON_VERSION}", partial / "usr/bin/python3")
    shutil.copy2(root / "usr/bin/dash", partial / "usr/bin/dash")
    os.symlink("dash", partial / "usr/bin/sh")
    programs = [root / INTERPRETER, root / "usr/bin/dash",
                *sorted((partial / stdlib / "lib-dynload").glob("*.so"))]
    for name in sorted(_needed(root, programs) | {LOADER, *_GLIBC_EXTRAS}):
        shutil.copyfile(_inside(root, f"/{LIB_DIR}/{name}"), partial / LIB_DIR / name)
        os.chmod(partial / LIB_DIR / name, 0o755)
    os.symlink(f"../lib/x86_64-linux-gnu/{LOADER}", partial / "usr/lib64" / LOADER)
    # Compiled once here: a private copy cannot be written, and compiling at every start is slow.
    done = subprocess.run(loader_command(partial, INTERPRETER, "-I", "-m", "compileall", "-q", "-j", "0",
                                         "-s", str(partial), "-p", "/", str(partial / stdlib)),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RootfsError(f"compiling the runtime's standard library failed: {done.stderr.strip()[-300:]}")
    for folder, dirs, files in os.walk(partial):
        os.chmod(folder, 0o755)
    marker = path.with_name(path.name + ".complete")
    marker.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)
    marker.touch()
    return path


def runtime_size(path: Path | None = None) -> int:
    """Bytes of the runtime's files (what each executor's private copy costs)."""
    total = 0
    for folder, _, files in os.walk(path or runtime_path()):
        for name in files:
            item = Path(folder) / name
            if not item.is_symlink():
                total += item.stat().st_size
    return total
