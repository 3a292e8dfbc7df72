"""A seccomp filter, as classic BPF bytes for `bwrap --seccomp FD`, refusing what a tool server never needs.

Written by hand instead of through libseccomp: the app's own Python may not have the bindings (Debian ships
them for its system Python only), and the program is small enough to read in full. It is an allow-by-default
denylist, as Docker's profile is at heart: mounting, namespaces, tracing or reaching into other processes,
loading kernels, modules and BPF programs, the kernel keyring, io_uring, and a few host-wide knobs get EPERM.
`clone` is refused only when it asks for a new namespace; `clone3` (whose flags sit behind a pointer BPF cannot
read) gets ENOSYS so that libc falls back to `clone`. Anything not x86_64 is killed: a 32-bit or x32 call could
bypass the table.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR_OFFSET, _ARCH_OFFSET, _ARG0_LOW_OFFSET = 0, 4, 16
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000

# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED_X86_64 = {
    "ptrace": 101,
    "syslog": 103,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,  # io_uring runs operations that no system call filter sees
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
}
_CLONE_X86_64 = 56
_CLONE3_X86_64 = 435


class SeccompUnavailable(Exception):
    """No filter exists for this machine's architecture."""


def _instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes:
    """The filter for `machine` (default: this one), as the bytes bwrap reads from its --seccomp fd."""
    machine = machine or platform.machine()
    if machine not in ("x86_64", "amd64"):
        raise SeccompUnavailable(f"no seccomp filter for the {machine} architecture (only x86_64)")
    denied = sorted(DENIED_X86_64.values())
    # Layout: arch check, x32 check, one jump per denied call, clone, clone3, allow, clone's flag check, returns.
    # Jumps are relative to the next instruction; the return block sits at the end, so offsets count down.
    program: list[tuple[int, int, int | str, int | str]] = [
        (_LD_W_ABS, _ARCH_OFFSET, 0, 0),
        (_JEQ_K, _AUDIT_ARCH_X86_64, 0, "kill"),
        (_LD_W_ABS, _NR_OFFSET, 0, 0),
        (_JGE_K, _X32_SYSCALL_BIT, "kill", 0),
        *((_JEQ_K, nr, "eperm", 0) for nr in denied),
        (_JEQ_K, _CLONE_X86_64, "clone", 0),
        (_JEQ_K, _CLONE3_X86_64, "enosys", 0),
        (_RET_K, _RET_ALLOW, 0, 0),
    ]
    labels: dict[str, int] = {"clone": len(program)}
    program += [
        (_LD_W_ABS, _ARG0_LOW_OFFSET, 0, 0),
        (_JSET_K, NAMESPACE_FLAGS, "eperm", 0),
        (_RET_K, _RET_ALLOW, 0, 0),
    ]
    labels["eperm"] = len(program)
    program.append((_RET_K, _RET_ERRNO | errno.EPERM, 0, 0))
    labels["enosys"] = len(program)
    program.append((_RET_K, _RET_ERRNO | errno.ENOSYS, 0, 0))
    labels["kill"] = len(program)
    program.append((_RET_K, _RET_KILL_PROCESS, 0, 0))

    def offset(position: int, target: int | str) -> int:
        if isinstance(target, int):
            return target
        distance = labels[target] - position - 1
        if not 0 <= distance <= 255:
            raise AssertionError(f"jump to {target} out of range ({distance})")
        return distance

    return b"".join(_instruction(code, k, offset(i, jt), offset(i, jf)) for i, (code, k, jt, jf) in enumerate(program))
