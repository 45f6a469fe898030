"""A seccomp filter for the bubblewrap sandbox, as the classic BPF program `bwrap --seccomp` loads.

It denies (EPERM) what a candidate could use against its executor or another process of
the same user, `ptrace` and `process_vm_readv`/`process_vm_writev`, and, as a second
layer behind the private runtime copies, the page-cache probes `fadvise64` and `mincore`.
Every other system call of the x86-64 ABI is allowed; the 32-bit and x32 ABIs are denied
whole, so no other system call number reaches the same kernel code.

Written by hand (ten instructions) rather than with libseccomp: the project's environment
has no libseccomp binding, and the program is small enough to read in full below.
"""

from __future__ import annotations

import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
DENIED = {"ptrace": 101, "mincore": 27, "fadvise64": 221, "process_vm_readv": 310, "process_vm_writev": 311}

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_EPERM = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
_ARCH_OFFSET, _NR_OFFSET = 4, 0  # struct seccomp_data


def _instruction(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_program() -> bytes:
    """The filter as `struct sock_filter` entries, native byte order."""
    numbers = sorted(DENIED.values())
    body = [(_LD_W_ABS, 0, 0, _ARCH_OFFSET)]
    # the instructions after the arch test: load nr, x32 test, one test per number, allow, deny
    after_arch = 2 + len(numbers) + 1
    body.append((_JEQ_K, 0, after_arch, AUDIT_ARCH_X86_64))
    body.append((_LD_W_ABS, 0, 0, _NR_OFFSET))
    tests = [(_JGE_K, X32_SYSCALL_BIT)] + [(_JEQ_K, number) for number in numbers]
    for index, (code, value) in enumerate(tests):
        to_deny = len(tests) - index  # skip the rest of the tests and the allow
        body.append((code, to_deny, 0, value))
    body.append((_RET_K, 0, 0, _ALLOW))
    body.append((_RET_K, 0, 0, _EPERM))
    return b"".join(_instruction(*entry) for entry in body)


def seccomp_program_fd() -> int:
    """A readable descriptor holding the program, for `bwrap --seccomp FD` (the caller closes it)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        raise OSError(f"the seccomp filter is written for x86-64, not {platform.machine()}")
    fd = os.memfd_create("repair-agent-seccomp", 0)
    os.write(fd, seccomp_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
