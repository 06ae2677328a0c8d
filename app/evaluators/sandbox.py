"""Start sandboxed worker processes: bubblewrap command line, fallbacks, process handle.

Isolation with bubblewrap (`bwrap`):
  * new ipc/pid/net/uts/cgroup namespaces — no network, no view of other processes;
  * a fresh root holding read-only binds of only what Python needs: /usr, /lib*, /bin, the
    Python install and the venv, this package (mounted as `rft_evaluators`) and the declared-
    requirements environments (<data>/evaluator-envs at /opt/rft-envs). Not the repo, not the
    rest of the data dir, not /work, not /root;
  * private /proc, minimal /dev, a 64 MiB tmpfs /tmp; --die-with-parent; --clearenv;
  * no user namespace on purpose: as root, bwrap's user namespace maps the sandbox's uid 0 to the
    host's root, with capabilities over root-owned files. Instead the worker starts with only
    CAP_SETUID/CAP_SETGID and the runner switches to a host uid of its own (one per pool
    worker), so the kernel sees an unprivileged user: RLIMIT_NPROC counts per worker and file
    permissions apply. The runner then sets rlimits and a seccomp filter (sandbox_worker.py).
Without bwrap the worker still gets rlimits, the uid switch (when root), seccomp and a clean
environment, but sees the host file system: `isolation == "rlimits-only"`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import protocol
from .limits import REPLY_FRAME_LIMIT

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
SANDBOX_RUNTIME = "/opt/rft-runtime"
SANDBOX_PACKAGE = "rft_evaluators"
SANDBOX_ENVS = "/opt/rft-envs"
_RUNNER = "from {package}.sandbox_worker import main; main()"
_UIDS = itertools.count((os.getpid() % 4096) * 1024)
_UID_BASE = 1_000_000
_READS_PER_RECEIVE = 32  # of up to 1 MiB each
_NETWORK_ETC = ("resolv.conf", "hosts", "nsswitch.conf", "gai.conf", "ssl", "ca-certificates")


def next_uid() -> int:
    """A host uid no account uses, distinct per pool worker within this server process."""
    return _UID_BASE + next(_UIDS) % (4096 * 1024)


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1 << 30
    nproc: int = 64
    fsize_bytes: int = 64 << 20
    tmp_bytes: int = 64 << 20


def _python_roots() -> list[str]:
    """Directories the interpreter and its packages live in (deduplicated, outermost)."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(os.path.realpath(sys.executable)).parent.parent),
        *site.getsitepackages(),
    }
    roots: list[str] = []
    for path in sorted(os.path.realpath(p) for p in candidates if p):
        if not any(path == r or path.startswith(r + "/") for r in ["/usr", *roots]):
            roots.append(path)
    # The venv is reached through its own (unresolved) path too: keep both spellings.
    for path in (sys.prefix, os.path.dirname(os.path.dirname(sys.executable))):
        if path not in roots and not any(path.startswith(r + "/") for r in ["/usr", *roots]):
            roots.append(path)
    return roots


def _ancestor_dirs(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def bwrap_command(bwrap: str, limits: Limits, *, network: bool, root: bool) -> list[str]:
    """The bubblewrap part of a worker's command line (ends with `--`)."""
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    args += ["--die-with-parent", "--clearenv", *_system_binds()]
    # The private /tmp first: binds below it (a checkout or venv under /tmp) land on top of it
    # instead of being hidden by it.
    args += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    binds = [("--ro-bind", root_dir, root_dir) for root_dir in _python_roots()]
    binds.append(("--ro-bind", str(PACKAGE_DIR), f"{SANDBOX_RUNTIME}/{SANDBOX_PACKAGE}"))
    if network:  # name resolution and CA certificates
        binds += [("--ro-bind-try", f"/etc/{name}", f"/etc/{name}") for name in _NETWORK_ETC]
    made: set[str] = {"/tmp"}
    for how, source, target in binds:
        for parent in _ancestor_dirs(target):
            if parent not in made and parent != "/usr" and not parent.startswith("/usr/"):
                # bwrap would create missing parents as 0700 root: unreadable after setuid.
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += [how, source, target]
    args += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": SANDBOX_RUNTIME,
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--cap-drop", "ALL"]
    if root:  # only what the runner needs to switch to its own uid, then it has nothing
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*args, "--"]


@functools.lru_cache(maxsize=4)
def bwrap_usable(bwrap: str | None) -> bool:
    """Whether bubblewrap can actually create our sandbox here (not just exists)."""
    if bwrap is None:
        return False
    command = [*bwrap_command(bwrap, Limits(), network=False, root=os.geteuid() == 0)]
    command += [sys.executable, "-c", "import sys"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("bubblewrap probe failed: %s", exc)
        return False
    if done.returncode != 0:
        log.warning("bubblewrap cannot sandbox here: %s", done.stderr.decode(errors="replace"))
    return done.returncode == 0


def _tasks_of_uid(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:  # the process ended meanwhile
                continue
    return count


class Launcher:
    """Builds worker command lines for one isolation mode."""

    def __init__(
        self, limits: Limits, use_bwrap: bool | None = None, envs_dir: str | None = None
    ) -> None:
        self.limits = limits
        self.envs_dir = envs_dir
        self.root = os.geteuid() == 0
        bwrap = shutil.which("bwrap")
        usable = bwrap_usable(bwrap) if use_bwrap is not False else False
        if use_bwrap and not usable:
            raise RuntimeError("bubblewrap was required but cannot create a sandbox here")
        self.bwrap = bwrap if usable else None
        self.isolation = "bubblewrap" if self.bwrap else "rlimits-only"

    def command(self, uid: int, progress_fd: int, *, network: bool) -> list[str]:
        runner_args = [
            "--memory", str(self.limits.memory_bytes),
            "--nproc", str(self._nproc_limit()),
            "--fsize", str(self.limits.fsize_bytes),
            "--progress-fd", str(progress_fd),
            "--uid", str(uid if self.root else -1),
        ]  # fmt: skip
        if network:
            runner_args.append("--network")
        binds, envs_args = self._declared_envs()
        runner_args += envs_args
        if self.bwrap:
            prefix = bwrap_command(self.bwrap, self.limits, network=network, root=self.root)
            prefix[-1:-1] = binds
            code = _RUNNER.format(package=SANDBOX_PACKAGE)
            return [*prefix, sys.executable, "-c", code, *runner_args]
        return [sys.executable, "-c", _RUNNER.format(package=__package__), *runner_args]

    def _declared_envs(self) -> tuple[list[str], list[str]]:
        """Evaluators' declared-requirement environments (built outside, services/
        evaluator_envs.py): the folder bound read-only at SANDBOX_ENVS (the host path without
        bubblewrap); a worker appends only its own evaluator's environment to sys.path."""
        if not self.envs_dir:
            return [], []
        os.makedirs(self.envs_dir, exist_ok=True)
        os.chmod(self.envs_dir, 0o755)  # whatever the umask (077 under `rft serve`): uid-readable
        if not self.bwrap:
            return [], ["--envs-dir", self.envs_dir]
        return ["--ro-bind", self.envs_dir, SANDBOX_ENVS], ["--envs-dir", SANDBOX_ENVS]

    def _nproc_limit(self) -> int:
        """RLIMIT_NPROC counts every task of the worker's real uid, host-wide. As root each
        worker gets a uid of its own; otherwise workers share the server's uid, so the limit
        is what that user already runs plus the allowance."""
        if self.root:
            return self.limits.nproc
        return _tasks_of_uid(os.getuid()) + self.limits.nproc

    def env(self) -> dict[str, str]:
        """Environment for the rlimits-only mode (bwrap sets its own with --clearenv)."""
        top = PACKAGE_DIR.parents[len((__package__ or "").split(".")) - 1]
        return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(top), "LANG": "C.UTF-8"}


class WorkerGone(Exception):
    """The worker process exited or broke the protocol."""


class ProtocolBroken(WorkerGone):
    """The worker sent something the protocol does not allow (its message says what)."""


class WorkerProcess:
    """One running worker: its pipes, progress block, and how to end it."""

    def __init__(self, launcher: Launcher, uid: int, *, network: bool) -> None:
        self.uid = uid
        self.network = network
        self._progress_fd = protocol.create_progress_fd()
        self.progress = protocol.ProgressReader(self._progress_fd)
        # Closed in _close(), when the worker is discarded; it outlives this method.
        self._diagnostics = tempfile.TemporaryFile()  # noqa: SIM115
        command = launcher.command(uid, self._progress_fd, network=network)
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._diagnostics,
            pass_fds=[self._progress_fd],
            env=None if launcher.bwrap else launcher.env(),
            cwd=tempfile.gettempdir() if not launcher.bwrap else None,
            start_new_session=True,  # own process group: the watchdog kills all of it
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.write_fd = self.proc.stdin.fileno()
        self.read_fd = self.proc.stdout.fileno()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.frames = protocol.FrameBuffer(REPLY_FRAME_LIMIT)

    def send(self, data: bytes, timeout_s: float = 30.0) -> None:
        """Write a frame; a worker that stops reading for `timeout_s` counts as gone."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout_s
        while view:
            try:
                written = os.write(self.write_fd, view)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerGone("stopped reading its input") from None
                select.select([], [self.write_fd], [], min(remaining, 1.0))
                continue
            except OSError as exc:  # BrokenPipeError: it died
                raise WorkerGone(str(exc)) from None
            view = view[written:]

    def receive(self) -> list[bytes]:
        """Complete frames that have arrived; WorkerGone at end of file or on a bad frame.

        Reads a bounded amount per call: a worker writing without pause must not keep the
        parent here, away from its watchdog."""
        frames: list[bytes] = []
        for _ in range(_READS_PER_RECEIVE):
            try:
                chunk = os.read(self.read_fd, 1 << 20)
            except BlockingIOError:
                return frames
            if not chunk:
                if frames:
                    return frames
                raise WorkerGone("closed its pipe")
            try:
                frames += self.frames.feed(chunk)
            except ValueError as exc:
                raise ProtocolBroken(f"broke the protocol: {exc}") from None
        return frames

    def kill(self) -> None:
        """SIGKILL the whole process group (bwrap, the runner and anything it forked)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("evaluator worker %s did not die after SIGKILL", self.proc.pid)
        self._close()

    def _close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.progress.close()
        with contextlib.suppress(OSError):
            os.close(self._progress_fd)
        self._diagnostics.close()

    def exit_reason(self) -> str:
        """Why it died, from its exit status and the tail of its stderr."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            name = signal.Signals(-code).name
            hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed; memory?)"}.get(name, "")
            reason = f"was killed by {name}{hint}"
        else:
            reason = f"exited with code {code}"
        tail = self.diagnostics_tail()
        return f"{reason}: {tail}" if tail else reason

    def diagnostics_tail(self, size: int = 2000) -> str:
        try:
            self._diagnostics.seek(0, os.SEEK_END)
            end = self._diagnostics.tell()
            self._diagnostics.seek(max(0, end - size))
            return self._diagnostics.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
