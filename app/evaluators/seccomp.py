"""A small seccomp-BPF filter, installed by the sandbox worker before any user code runs.

Written with ctypes + prctl(PR_SET_SECCOMP) rather than a binding package: the filter is a
dozen instructions and the kernel ABI is stable, so a dependency would buy nothing.

The filter denies (with an errno, so Python raises a clean OSError instead of dying):
  * socket()                       -> no new network endpoints (unless network is allowed);
                                      socketpair() stays: asyncio's self-pipe needs it, and a
                                      connected AF_UNIX pair reaches nothing outside
  * io_uring_setup/enter/register  -> always: io_uring opens sockets (IORING_OP_SOCKET,
                                      CONNECT) and files without the socket() syscall, so it
                                      would walk past the socket rule; it is also a large
                                      kernel attack surface
  * pidfd_open/pidfd_getfd,        -> no taking another process's fds (the server's
    process_vm_readv/writev           listening socket) or reading its memory, should the
                                      worker share its uid (rlimits-only, not root)
  * execve()/execveat()            -> no other programs (no shell-outs, no escapes via binaries)
  * setsid()/setpgid()             -> a forked child cannot leave the process group the
                                      watchdog kills
  * namespace and mount syscalls   -> no new user namespaces (which would hand out capabilities)
  * clone() with namespace flags   -> same, through clone
  * clone3() -> ENOSYS             -> its flags live in memory BPF cannot read; glibc falls back
                                      to clone(), which the filter can inspect
  * ptrace, bpf, keyctl, perf      -> kernel attack surface an evaluator never needs
Any other architecture than the native one (e.g. int 0x80 i386 calls on x86_64) kills the
process, as do x32 syscall numbers.
"""

from __future__ import annotations

import ctypes
import errno
import platform
from dataclasses import dataclass

# struct seccomp_data offsets: int nr; u32 arch; u64 ip; u64 args[6]
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16  # little-endian low 32 bits of args[0]

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

_X32_SYSCALL_BIT = 0x40000000
_CLONE_NS_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)


@dataclass(frozen=True)
class _Arch:
    audit_arch: int
    has_x32: bool
    nr: dict[str, int]


_ARCHES: dict[str, _Arch] = {
    "x86_64": _Arch(
        audit_arch=0xC000003E,
        has_x32=True,
        nr={
            "socket": 41,
            "execve": 59,
            "execveat": 322,
            "setsid": 112,
            "setpgid": 109,
            "ptrace": 101,
            "unshare": 272,
            "setns": 308,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "chroot": 161,
            "keyctl": 250,
            "add_key": 248,
            "request_key": 249,
            "bpf": 321,
            "perf_event_open": 298,
            "userfaultfd": 323,
            "clone": 56,
            "clone3": 435,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "pidfd_open": 434,
            "pidfd_getfd": 438,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
        },
    ),
    "aarch64": _Arch(
        audit_arch=0xC00000B7,
        has_x32=False,
        nr={
            "socket": 198,
            "execve": 221,
            "execveat": 281,
            "setsid": 157,
            "setpgid": 154,
            "ptrace": 117,
            "unshare": 97,
            "setns": 268,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "chroot": 51,
            "keyctl": 219,
            "add_key": 217,
            "request_key": 218,
            "bpf": 280,
            "perf_event_open": 241,
            "userfaultfd": 282,
            "clone": 220,
            "clone3": 435,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
            "pidfd_open": 434,
            "pidfd_getfd": 438,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
        },
    ),
}

_DENIED = (
    "execve", "execveat", "setsid", "setpgid", "ptrace", "unshare", "setns", "mount",
    "umount2", "pivot_root", "chroot", "keyctl", "add_key", "request_key", "bpf",
    "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "pidfd_open", "pidfd_getfd", "process_vm_readv", "process_vm_writev",
)  # fmt: skip


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# One instruction: (code, jump-if-true label or 0, jump-if-false label or 0, k).
_Insn = tuple[int, "str | int", "str | int", int]


def supported() -> bool:
    """True when this machine's architecture has a syscall table here."""
    return platform.machine() in _ARCHES


def build_program(*, deny_network: bool) -> list[tuple[int, int, int, int]]:
    """The filter as resolved (code, jt, jf, k) tuples; labels become relative jumps."""
    arch = _ARCHES[platform.machine()]
    denied = list(_DENIED) + (["socket"] if deny_network else [])
    insns: list[_Insn] = [
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_BPF_JEQ_K, 0, "kill", arch.audit_arch),
        (_BPF_LD_W_ABS, 0, 0, _OFF_NR),
    ]
    if arch.has_x32:
        insns.append((_BPF_JGE_K, "kill", 0, _X32_SYSCALL_BIT))
    insns += [(_BPF_JEQ_K, "eperm", 0, arch.nr[name]) for name in denied]
    insns += [
        (_BPF_JEQ_K, "enosys", 0, arch.nr["clone3"]),
        (_BPF_JEQ_K, "clone", 0, arch.nr["clone"]),
        (_BPF_RET_K, 0, 0, _RET_ALLOW),
    ]
    labels = {
        "clone": len(insns),
        "eperm": len(insns) + 3,
        "enosys": len(insns) + 4,
        "kill": len(insns) + 5,
    }
    insns += [
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARG0_LO),
        (_BPF_JSET_K, "eperm", 0, _CLONE_NS_FLAGS),
        (_BPF_RET_K, 0, 0, _RET_ALLOW),
        (_BPF_RET_K, 0, 0, _RET_ERRNO | errno.EPERM),
        (_BPF_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
        (_BPF_RET_K, 0, 0, _RET_KILL_PROCESS),
    ]

    def resolve(at: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        offset = labels[target] - at - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"seccomp jump out of range: {offset}")
        return offset

    return [(code, resolve(i, jt), resolve(i, jf), k) for i, (code, jt, jf, k) in enumerate(insns)]


def install(*, deny_network: bool) -> None:
    """Install the filter on the calling thread (and every thread/process it creates).

    Sets no_new_privs first: required for an unprivileged process, and it also makes setuid
    binaries inert. Raises OSError when the kernel refuses.
    """
    program = build_program(deny_network=deny_network)
    array = (_SockFilter * len(program))(*[_SockFilter(*insn) for insn in program])
    fprog = _SockFprog(len(program), ctypes.cast(array, ctypes.POINTER(_SockFilter)))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.restype = ctypes.c_int
    zero = ctypes.c_ulong(0)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), zero, zero, zero) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {errno.errorcode.get(err, err)}")
    rc = libc.prctl(
        _PR_SET_SECCOMP,
        ctypes.c_ulong(_SECCOMP_MODE_FILTER),
        ctypes.c_void_p(ctypes.addressof(fprog)),
        zero,
        zero,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_SECCOMP): {errno.errorcode.get(err, err)}")
