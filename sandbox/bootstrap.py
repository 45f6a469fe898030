"""Starts the executor in a container on its own private copy of the runtime. Standard library only.

It runs as the container's PID 1, as root without capabilities other than SETUID and
SETGID, from the image's shared copy of the runtime at /opt/runtime (a folder only root
can open). It copies that runtime into the container's own tmpfs at /usr, drops to the
unprivileged user for good, and replaces itself with the executor run by the private
interpreter. From then on nothing the candidate can read is shared with another
container, so no page of a shared file can carry a bit between jobs (the page cache is
shared by every reader of one file).
"""

from __future__ import annotations

import os
import shutil
import sys

SOURCE = "/opt/runtime/usr"
TARGET = "/usr"
PYTHON = "/usr/bin/python3.11"
EXECUTOR = "/usr/lib/repair-agent/executor.py"
NOBODY = 65534


def main(argv: list[str]) -> None:
    """`--program=PATH` first runs that script instead of the executor (the reference harness)."""
    program = EXECUTOR
    if argv and argv[0].startswith("--program="):
        program, argv = argv[0].partition("=")[2], argv[1:]
    shutil.copytree(SOURCE, TARGET, symlinks=True, dirs_exist_ok=True)
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    os.execv(PYTHON, [PYTHON, "-I", program, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
