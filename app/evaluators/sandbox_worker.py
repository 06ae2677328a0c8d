"""Sandbox worker process: lock itself down, then score rows sent over a pipe until EOF.

Started by sandbox.py as `python -c "...runner.main()"` (inside bubblewrap when available).
Order matters: rlimits, then dropping to the worker's own uid, then the seccomp filter — all
before the first byte of user code is read.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time
from typing import Any

from . import environment, protocol, seccomp
from .capture import OutputCapture
from .limits import FLUSH_BYTES, approx_size, bound_result
from .runtime import Runtime, install_reward_kit
from .values import SampleResult

_FLUSH_EVERY_S = 0.005  # results leave at least this often while rows keep finishing
CPU_BUDGET_S = 3600  # hard RLIMIT_CPU: CPU seconds one worker may use in its whole life
_RECYCLE_AFTER_S = CPU_BUDGET_S // 2  # then it asks to be replaced between chunks


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="evaluator-runner")
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--nproc", type=int, required=True)
    parser.add_argument("--fsize", type=int, required=True)
    parser.add_argument("--progress-fd", type=int, required=True)
    parser.add_argument("--network", action="store_true")
    parser.add_argument("--envs-dir", default=None)
    return parser.parse_args(argv)


def _set_limits(args: argparse.Namespace) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (args.memory, args.memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (args.nproc, args.nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    # The hard CPU limit is the worker's lifetime budget; after the uid switch (or without
    # root) nothing in the process can raise it. The soft limit moves per row (_CpuGuard).
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_BUDGET_S, CPU_BUDGET_S))
    # Past the file size limit, writes fail with EFBIG instead of killing the worker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _keep_import_paths(uid: int) -> None:
    """Keep lazy imports working after the switch to `uid`, without opening anything else.

    Without bubblewrap the worker sees the host's file system, where the interpreter may live
    under a directory other users cannot enter (pyenv under /root, mode 0700): after the switch
    every lazy `import fractions` would fail. So each import directory the new uid cannot reach
    is opened now, while still root, and named `/proc/self/fd/N` in sys.path (and in loaded
    packages' __path__): a process may always follow its own fd links, and lookups from there
    check only the directories below. Only directories that are themselves world-readable are
    kept this way; files keep their own permissions, and the data dir is never opened."""
    if uid < 0 or os.geteuid() != 0:
        return
    moved: dict[str, str] = {}
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and real not in moved and os.path.isdir(real) and _needs_fd(real):
            moved[real] = f"/proc/self/fd/{os.open(real, os.O_RDONLY | os.O_DIRECTORY)}"
    if not moved:
        return
    sys.path[:] = [moved.get(os.path.realpath(e), e) if e else e for e in sys.path]
    sys.path_importer_cache.clear()  # the cached finders stat the old, now unreachable, paths
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [_moved_path(p, moved) for p in search]


def _needs_fd(directory: str) -> bool:
    """Whether `directory` is world-readable but sits under one other users cannot enter."""
    if os.stat(directory).st_mode & 0o005 != 0o005:
        return False  # not meant for everyone: stays out of reach
    parent = os.path.dirname(directory)
    while parent != directory:
        if not os.stat(parent).st_mode & 0o001:
            return True
        directory, parent = parent, os.path.dirname(parent)
    return False


def _moved_path(path: str, moved: dict[str, str]) -> str:
    real = os.path.realpath(path)
    for old, new in moved.items():
        if real == old or real.startswith(old + os.sep):
            return new + real[len(old) :]
    return path


def _drop_privileges(uid: int) -> list[str]:
    """Become the worker's own unprivileged uid/gid (only possible when started as root)."""
    if uid < 0:
        return []
    if os.geteuid() != 0:
        return [f"cannot switch to uid {uid}: not started as root"]
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("failed to drop root privileges")
    return []


def _redirect_stdio() -> tuple[int, int]:
    """Move the protocol off fds 0/1 so stray C-level writes cannot corrupt frames."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # fd 1 output lands in the worker's diagnostics file
    os.close(devnull)
    return proto_in, proto_out


class _CpuGuard:
    """Keeps RLIMIT_CPU's soft limit a little above 'now + timeout' (a backstop: the parent's
    wall-clock watchdog normally acts first). Touches the limit only when headroom runs low."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.soft = 0.0

    def check(self) -> None:
        used = time.process_time()
        if used + self.timeout_s + 1 > self.soft:
            self.soft = used + 2 * self.timeout_s + 2
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
            limit = int(self.soft) + 1
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


class _Progress:
    def __init__(self, writer: protocol.ProgressWriter, guard: _CpuGuard) -> None:
        self.writer = writer
        self.guard = guard

    def load(self) -> None:
        self.guard.check()
        self.writer.set(protocol.LOADING)

    def row(self, pos: int) -> None:
        self.guard.check()
        self.writer.set(protocol.ROW, pos)

    def group(self, pos: int, count: int) -> None:
        self.guard.check()
        self.writer.set(protocol.GROUP, pos, count)

    def idle(self) -> None:
        self.writer.set(protocol.IDLE)


class _Outbox:
    """Buffers results and flushes them in frames: per row while rows are slow, in bulk when
    they are fast."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.positions: list[int] = []
        self.results: list[SampleResult] = []
        self.size = 0
        self.last_flush = time.monotonic()

    def emit(self, pos: int, result: SampleResult) -> None:
        result = bound_result(result)  # the parent caps too; this keeps frames small
        self.positions.append(pos)
        self.results.append(result)
        self.size += approx_size(result)
        if self.size >= FLUSH_BYTES or time.monotonic() - self.last_flush >= _FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.positions:
            self._send(protocol.Results(self.positions, self.results))

    def finish(self, *, recycle: bool) -> None:
        """The chunk's last frame (possibly without results): tells the parent we are idle."""
        self._send(protocol.Results(self.positions, self.results, done=True, recycle=recycle))

    def _send(self, message: protocol.Results) -> None:
        protocol.write_all(self.fd, protocol.encode(message))
        self.positions, self.results, self.size = [], [], 0
        self.last_flush = time.monotonic()


def _leftovers() -> bool:
    """Reap finished children; True if user code left live children or extra threads."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            return True
    try:
        return len(os.listdir("/proc/self/task")) > 1
    except OSError:
        return False


def _serve(runtime: Runtime, proto_in: int, outbox: _Outbox, guard: _CpuGuard) -> None:
    while True:
        body = protocol.read_frame(proto_in)
        if body is None:
            return
        sys.stdout = sys.stderr = runtime.capture  # in case user code replaced them
        request = protocol.request_decoder.decode(body)
        guard.timeout_s = request.timeout_s
        payload: dict[str, Any] | None = None
        if request.payload is not None:
            p = request.payload
            payload = {"entry": p.entry, "code": p.code, "grader": p.grader}
        runtime.run(
            request.key,
            payload,
            request.rows,
            request.timeout_s,
            outbox.emit,
            request.llm,
            async_group=request.async_group,
        )
        outbox.finish(recycle=_leftovers() or time.process_time() > _RECYCLE_AFTER_S)


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    proto_in, proto_out = _redirect_stdio()
    # Map the progress block before RLIMIT_NOFILE: its inherited fd number may be high.
    writer = protocol.ProgressWriter(args.progress_fd)
    os.close(args.progress_fd)
    _set_limits(args)
    _keep_import_paths(args.uid)
    problems = _drop_privileges(args.uid)
    seccomp_on = False
    if seccomp.supported():
        seccomp.install(deny_network=not args.network)
        seccomp_on = True
    else:
        problems.append("seccomp: unsupported architecture")
    install_reward_kit()
    environment.ENVS_DIR = args.envs_dir
    capture = OutputCapture()
    guard = _CpuGuard(10.0)
    progress = _Progress(writer, guard)
    protocol.write_all(
        proto_out, protocol.encode(protocol.Hello(os.getuid(), seccomp_on, problems))
    )
    _serve(Runtime(progress, capture), proto_in, _Outbox(proto_out), guard)
