"""The bubblewrap sandbox's seccomp program: every denied number leads to the EPERM return,
anything else on x86-64 to the allow, and another ABI is denied whole."""

from __future__ import annotations

import struct

from sandbox.seccomp import AUDIT_ARCH_X86_64, DENIED, X32_SYSCALL_BIT, seccomp_program


def run(program: bytes, arch: int, nr: int) -> int:
    """A tiny interpreter of the classic BPF subset the program uses."""
    code = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    data = {0: nr, 4: arch}
    pc, accumulator = 0, 0
    while True:
        op, jt, jf, k = code[pc]
        if op == 0x20:
            accumulator = data[k]
            pc += 1
        elif op in (0x15, 0x35):
            hit = accumulator == k if op == 0x15 else accumulator >= k
            pc += 1 + (jt if hit else jf)
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected instruction {op:#x}")


def test_denied_calls_get_eperm_and_the_rest_pass():
    program = seccomp_program()
    eperm, allow = 0x00050001, 0x7FFF0000
    for number in DENIED.values():
        assert run(program, AUDIT_ARCH_X86_64, number) == eperm
    for number in (0, 1, 2, 9, 56, 57, 59, 60, 62, 231, 435):  # read, write, open, mmap, clone, fork, execve, ...
        assert run(program, AUDIT_ARCH_X86_64, number) == allow
    assert run(program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 101) == eperm
    assert run(program, 0x40000003, 101) == eperm  # i386
