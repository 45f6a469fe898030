"""The page cache carries nothing from one job to another.

Every process that reads one file shares its cached pages. A candidate that can read a
file another sandbox also reads can keep a ledger there: a page it read is cached, and a
later job tells a cached page (a few microseconds) from one that is not (tens or
hundreds) by timing a read. Each executor reads only its own copy of the runtime, so
the ledger stays in the executor that wrote it, which the pool never gives another job
of the same task. The positive controls run the same learner where files are shared
(the unshared process backend reads the host's own Python) and where one executor
serves every job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.problems import hidden_job
from sandbox import SandboxConfig
from sandbox.sandbox import open_sandbox
from tests.integration.hostile_cases import SECRET_COPIES
from tests.integration.test_hostile import SECRET, open_box

# The ledger: page 12*i of the standard library's largest rarely read file is cached once
# the i-th job ran. A read that never waits (RWF_NOWAIT) tells a cached page without caching
# it; a plain read then stores. Monotone (no eviction needed): it works where fadvise is denied.
PAGE_CACHE_LEARNER = """    import errno, os, time
    import pydoc_data
    path = os.path.join(os.path.dirname(pydoc_data.__file__), 'topics.py')
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    except OSError:
        pass

    def cached(offset):
        try:  # a read that never waits for the disk: fails on a page that is not cached, caching nothing
            return os.preadv(fd, [bytearray(1)], offset, os.RWF_NOWAIT) == 1
        except OSError as exc:
            if exc.errno != errno.EAGAIN:  # no such read here: time one instead
                started = time.perf_counter_ns()
                os.pread(fd, 1, offset)
                return time.perf_counter_ns() - started < 30000
            return False

    n = 0
    while n < 14 and cached(n * 12 * 4096):
        n += 1
    os.pread(fd, 1, n * 12 * 4096)
    os.close(fd)
    return n
"""

# What a job can read outside /proc, /sys and /dev, printed (the output comes back whole up to
# 64 KiB): each readable file's device and inode, and those on an overlay file system.
READABLE_FILES = """    import json, os
    mounts = {}
    for line in open('/proc/self/mountinfo'):
        left, right = line.split(' - ')
        mounts[left.split()[4]] = right.split()[0]
    ids, overlay, topics = [], [], False
    for top in sorted(os.listdir('/')):
        if top in ('proc', 'sys', 'dev'):
            continue
        for folder, dirs, files in os.walk('/' + top):
            for name in files:
                path = os.path.realpath(os.path.join(folder, name))
                try:
                    with open(path, 'rb') as handle:
                        handle.read(1)
                        status = os.fstat(handle.fileno())
                except OSError:
                    continue
                mount = max((m for m in mounts if path == m or path.startswith(m.rstrip('/') + '/')), key=len)
                ids.append([status.st_dev, status.st_ino])
                topics = topics or path.endswith('/pydoc_data/topics.py')
                if mounts[mount] == 'overlay':
                    overlay.append(path)
    print(json.dumps({'ids': ids, 'overlay': overlay[:20], 'topics': topics}))
    return None
"""


def _evict_host_ledger() -> None:
    """The host's copies of the ledger file uncached, the state a rarely read file is in: this
    Python's, and the system's (which an executor dropped to nobody may run instead)."""
    import pydoc_data

    for path in {Path(pydoc_data.__file__).with_name("topics.py"), *Path("/usr/lib").glob("python3*/pydoc_data/topics.py")}:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_page_cache_ledger_learns_nothing_across_jobs(docker_image, backend):
    _evict_host_ledger()
    job = hidden_job(SECRET, PAGE_CACHE_LEARNER)
    with open_box(backend, workers=2) as box:
        assert box.run(hidden_job(SECRET, "    return 7\n")).passed
        verdicts = [box.run(job) for _ in range(SECRET_COPIES)]
        assert box.run(hidden_job(SECRET, "    return 7\n")).passed
    assert not any(v.passed for v in verdicts), [v.tests[0].got for v in verdicts]


def test_the_page_cache_ledger_learns_where_files_are_shared(docker_image):
    """Positive control: executors that read the host's own Python share its pages, and the
    learner passes, as it did on both backends before each executor had its own copy."""
    _evict_host_ledger()
    job = hidden_job(SECRET, PAGE_CACHE_LEARNER)
    config = SandboxConfig(backend="process", workers=1, spares=1, allow_weak_isolation=True)
    from sandbox.process_backend import UnsharedProcessBackend
    from sandbox.sandbox import PooledSandbox

    with PooledSandbox(UnsharedProcessBackend(config), config.pool_size) as box:
        verdicts = [box.run(job) for _ in range(SECRET_COPIES)]
    assert any(v.passed for v in verdicts), [v.tests[0].got for v in verdicts]


def _readable(box) -> dict:
    import json

    from eval.problems import Problem

    problem = Problem(prompt='def files():\n    """What can be read."""\n', entry_point="files", task_id="files",
                      test="def check(candidate):\n    assert candidate() is None\n")
    verdict = box.run(hidden_job(problem, READABLE_FILES).model_copy(update={"timeout": 30}))
    assert verdict.passed, verdict.result
    return json.loads(verdict.output)


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_two_executors_share_no_readable_file(docker_image, backend):
    with open_sandbox(SandboxConfig(backend=backend, workers=1, spares=1), say=lambda m: None) as box:
        first, second = _readable(box), _readable(box)  # the same tests: two executors
    assert len(first["ids"]) > 300 and first["topics"], "the walk found too little to mean anything"
    shared = {tuple(i) for i in first["ids"]} & {tuple(i) for i in second["ids"]}
    assert not shared, f"{len(shared)} files are read by both executors"
    # The image's layers (an overlay's lower layers) are shared by every container: nothing of
    # them is readable. Docker writes these two into the container's own upper layer.
    assert set(first["overlay"]) <= {"/etc/hosts", "/etc/resolv.conf"}, first["overlay"]
