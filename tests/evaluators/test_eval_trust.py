"""The trust boundary between the pool and its workers (issue 11, findings 2, 3 and 8).

Everything a worker writes comes from untrusted code: the progress record, frames on any fd,
result texts. None of it may extend a deadline or grow the parent's memory without bound.
"""

from __future__ import annotations

import os
import platform
import stat
from pathlib import Path

import pytest

from app.core import checks
from app.core.config import Settings
from app.evaluators import EvaluatorPool, Sample
from app.evaluators.limits import METRICS_LIMIT, REASON_LIMIT
from app.evaluators.pool import SandboxUnavailable, isolation_in_force
from tests.evaluators.support import TIMEOUT_S, chat_row

# Finds the runner's own protocol module and progress writer wherever the sandbox mounted them.
_FIND_RUNNER = """
import ctypes
import gc
import os
import sys
import threading
import time

def _runner_protocol():
    for name, module in list(sys.modules.items()):
        if name.endswith(".protocol") and hasattr(module, "Hello"):
            return module
    raise RuntimeError("no protocol module")

PROTOCOL = _runner_protocol()

def _writers():
    return [o for o in gc.get_objects() if type(o).__name__ == "ProgressWriter"]

def _shared_maps():
    # Every shared mapping of the process (the progress memfd among them), by address.
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            span, perms = fields[0], fields[1]
            if perms.startswith("rw") and perms[3] == "s":
                start, end = (int(x, 16) for x in span.split("-"))
                found.append((start, end - start))
    return found
"""

WRITES_EVERYWHERE = (
    _FIND_RUNNER
    + """
def _forge_forever(stop):
    writers = _writers()
    maps = _shared_maps()
    idle = PROTOCOL.encode(PROTOCOL.Results([], []))  # a valid frame that carries nothing
    seq = 2
    while not stop.is_set():
        for writer in writers:  # "row 0 has just started", again and again
            writer.set(PROTOCOL.ROW, 0)
        for address, size in maps:  # the same, written straight into shared memory
            seq += 2
            record = PROTOCOL._PROGRESS.pack(seq, PROTOCOL.ROW, 0, 0, time.monotonic_ns())
            ctypes.memmove(address, record, len(record))
        for fd in range(3, 64):
            try:
                os.write(fd, idle * 64)
            except OSError:
                pass
        time.sleep(0.001)

def evaluate(messages, **kw):
    stop = threading.Event()
    threading.Thread(target=_forge_forever, args=(stop,), daemon=True).start()
    time.sleep(SLEEP_S)
    stop.set()
    return 0.99
"""
)


def test_nothing_the_worker_writes_extends_its_deadline() -> None:
    """Finding 2: refreshing the shared progress record (and writing frames to every fd)
    kept a row running far past its limit, and it was scored."""
    code = WRITES_EVERYWHERE.replace("SLEEP_S", str(4 * TIMEOUT_S))
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S) as fresh:
        (result,) = fresh.score(code, [Sample(chat_row(), "x")])
        assert not result.is_score_valid
        assert result.score is None
        assert result.reason == f"timed out after {TIMEOUT_S:g} s"
        assert [
            r.score
            for r in fresh.score(
                "def evaluate(messages, **kw):\n    return 0.5\n", [Sample(chat_row(), "x")]
            )
        ] == [0.5]


FORGED_FRAME = (
    _FIND_RUNNER
    + """
def evaluate(messages, **kw):
    frame = FRAME
    for fd in range(3, 64):
        try:
            os.write(fd, frame)
        except OSError:
            pass
    time.sleep(0.5)
    return 0.99
"""
)


def _score_forger(frame_expr: str) -> str | None:
    code = FORGED_FRAME.replace("FRAME", frame_expr)
    rows = [Sample(chat_row(), "x") for _ in range(3)]
    with EvaluatorPool(size=1, timeout_s=10.0) as fresh:
        results = fresh.score(code, rows)
        assert all(not r.is_score_valid for r in results)
        return results[0].reason


def test_a_second_hello_breaks_the_protocol() -> None:
    reason = _score_forger("PROTOCOL.encode(PROTOCOL.Hello(0, True, []))")
    assert reason == "evaluator process broke the protocol: a second hello"


def test_a_result_out_of_turn_breaks_the_protocol() -> None:
    forged = "PROTOCOL.encode(PROTOCOL.Results([2], [PROTOCOL.SampleResult(score=0.99)]))"
    reason = _score_forger(forged)
    assert reason == "evaluator process broke the protocol: a result for row 2 out of turn"


def test_an_oversized_frame_is_refused_before_its_body_is_read() -> None:
    """Finding 3: a hand-written 900 MB frame cost the server 2.7 GB."""
    reason = _score_forger("(900_000_000).to_bytes(4, 'big') + b'x' * 4096")
    assert reason == (
        "evaluator process broke the protocol: sent a frame of 900000000 bytes "
        "(limit 16777216 bytes)"
    )


HUGE_TEXTS = """
def evaluate(messages, **kw):
    metrics = {f"m{i}": {"score": 0.5, "reason": "r" * 100_000} for i in range(1000)}
    return {"score": 0.75, "reason": "why " * 5_000_000, "metrics": metrics}
"""


def test_result_texts_are_capped_and_say_so(roomy_pool: EvaluatorPool) -> None:
    """Finding 3: a 150 MB reason came back whole (and was stored whole in training)."""
    (result,) = roomy_pool.score(HUGE_TEXTS, [Sample(chat_row(), "x")])
    assert result.score == 0.75 and result.is_score_valid
    assert result.reason is not None
    assert "] why why why" in result.reason
    assert "[truncated to 4 KiB]" in result.reason
    assert f"[{1000 - METRICS_LIMIT} metrics dropped: at most {METRICS_LIMIT} per row]" in (
        result.reason
    )
    assert len(result.reason.encode()) < REASON_LIMIT + 200
    assert len(result.metrics) == METRICS_LIMIT
    metric = result.metrics["m0"]
    assert metric.reason is not None and metric.reason.endswith("[truncated to 4 KiB]")


def test_the_hard_cpu_limit_cannot_be_raised(pool: EvaluatorPool) -> None:
    """Finding 8: RLIMIT_CPU could be raised to unlimited from inside the sandbox."""
    code = """
import resource

def evaluate(messages, **kw):
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print("raised")
    except (ValueError, OSError) as exc:
        print("refused", type(exc).__name__)
    print(hard, resource.getrlimit(resource.RLIMIT_CPU)[1])
    return 1.0
"""
    (result,) = pool.score(code, [Sample(chat_row(), "x")])
    lines = result.stdout.splitlines()
    assert lines[0].startswith("refused"), result
    hard, after = (int(x) for x in lines[1].split())
    assert hard == after != -1


IO_URING = """
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def attempt(number, *args):
    if libc.syscall(number, *args) < 0:
        return os.strerror(ctypes.get_errno())
    return "allowed"

def evaluate(messages, **kw):
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    print("io_uring_setup", attempt(425, 8, params))
    print("io_uring_enter", attempt(426, 0, 1, 0, 0, None, 0))
    print("io_uring_register", attempt(427, 0, 0, None, 0))
    print("pidfd_open", attempt(434, 1, 0))
    print("process_vm_readv", attempt(310, 1, None, 0, None, 0, 0))
    left, right = socket.socketpair()  # asyncio's self-pipe: still allowed
    left.close(), right.close()
    return 1.0
"""
IO_URING_DENIED = (
    "io_uring_setup Operation not permitted\n"
    "io_uring_enter Operation not permitted\n"
    "io_uring_register Operation not permitted\n"
    "pidfd_open Operation not permitted\n"
    "process_vm_readv Operation not permitted\n"
)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")
@pytest.mark.parametrize("use_bwrap", [None, False], ids=["default", "without-bubblewrap"])
def test_io_uring_and_process_hooks_are_denied(use_bwrap: bool | None) -> None:
    """Finding 1: io_uring's IORING_OP_SOCKET/CONNECT walked past the socket() rule and
    reached the web server on 127.0.0.1."""
    with EvaluatorPool(size=1, timeout_s=10.0, use_bwrap=use_bwrap) as fresh:
        (result,) = fresh.score(IO_URING, [Sample(chat_row(), "x")])
    assert result.stdout == IO_URING_DENIED, (result.stdout, result.error)


def test_without_bubblewrap_nothing_runs_unless_the_operator_opts_in() -> None:
    """Finding 1: without bubblewrap the pool was no sandbox, silently."""
    with pytest.raises(SandboxUnavailable, match="set RFT_UNSAFE_NO_SANDBOX=true"):
        EvaluatorPool(size=1, use_bwrap=False, unsafe_no_sandbox=False)
    assert isolation_in_force(unsafe_no_sandbox=False) in {"bubblewrap", "disabled"}
    assert isolation_in_force(unsafe_no_sandbox=True) in {"bubblewrap", "rlimits-only"}


@pytest.mark.skipif(os.geteuid() != 0, reason="workers get a uid of their own only as root")
def test_unsafe_fallback_cannot_read_the_data_dir(tmp_path: Path) -> None:
    """Finding 1: the data dir, the SQLite file and every dataset were world-readable."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    previous = os.umask(0o022)
    try:
        checks.check_data_dir(settings)
        dataset = settings.data_path / "storage" / "user-1" / "rows.jsonl"
        dataset.parent.mkdir(parents=True)
        dataset.write_text('{"secret": "sk-dataset"}\\n')
    finally:
        os.umask(previous)
    assert stat.S_IMODE(settings.data_path.stat().st_mode) == 0o700
    assert stat.S_IMODE(dataset.stat().st_mode) == 0o600
    code = f"""
import os

def evaluate(messages, **kw):
    for attempt in (lambda: os.listdir({str(settings.data_path)!r}),
                    lambda: open({str(dataset)!r}).read()):
        try:
            print(attempt())
        except OSError as exc:
            print(type(exc).__name__)
    return 1.0
"""
    with EvaluatorPool(size=1, timeout_s=10.0, use_bwrap=False, unsafe_no_sandbox=True) as fresh:
        (result,) = fresh.score(code, [Sample(chat_row(), "x")])
    assert result.stdout == "PermissionError\nPermissionError\n", result
