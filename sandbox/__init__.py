"""Running untrusted code: the `Sandbox` seam, the Docker and process backends, the verdict protocol."""

from sandbox.config import SandboxConfig
from sandbox.docker_backend import SandboxUnavailable
from sandbox.sandbox import PooledSandbox, Sandbox, make_backend, open_sandbox
from sandbox.verdict import Job, TestCase, TestResult, Verdict

__all__ = [
    "Job", "PooledSandbox", "Sandbox", "SandboxConfig", "SandboxUnavailable", "TestCase", "TestResult",
    "Verdict", "make_backend", "open_sandbox",
]
