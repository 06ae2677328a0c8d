"""Small helpers shared by tests that run the real `rft` command."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_rft(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_rft(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def running_worker(
    env: dict[str, str], models_dir: Path, queues: str = "gpu,cpu"
) -> Iterator[None]:
    """A real `rft worker` (as `rft serve` starts one) on the models in ``models_dir``."""
    process = start_rft(["worker", "--queues", queues], {**env, "RFT_MODELS_DIR": str(models_dir)})
    try:
        yield
    finally:
        process.kill()
        process.wait(timeout=30)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def demo_model(pretrain_steps: int) -> Path:
    """The demo model pre-trained ``pretrain_steps`` steps, as `rft demo` builds it; kept in
    .cache/test-models so later runs skip the build."""
    from app.core.paths import ROOT
    from app.services import demo
    from worker.training.demo_model import build_with_status

    folder = ROOT / ".cache" / "test-models" / f"pretrain-{pretrain_steps}"
    build_with_status(folder, demo.DEMO_MODEL, steps=pretrain_steps)
    return folder
