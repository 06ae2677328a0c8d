"""Hostile evaluators: each is contained, the other rows still score, the pool stays usable."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.evaluators import EvaluatorPool, Sample, SampleResult
from app.evaluators.sandbox import bwrap_usable
from tests.evaluators.support import TIMEOUT_S, chat_row

REPO = Path(__file__).resolve().parents[2]
TRIVIAL = "def evaluate(messages, **kw):\n    return 0.25\n"
bubblewrap_only = pytest.mark.skipif(
    not bwrap_usable(shutil.which("bwrap")), reason="needs bubblewrap"
)


def hostile(body: str, prelude: str = "") -> str:
    """An evaluator that runs `body` on the row flagged bad and scores 1.0 elsewhere."""
    indented = "\n".join("        " + line for line in body.strip().splitlines())
    head = f"{prelude}\ndef evaluate(messages, bad=False, **kw):\n    if bad:\n"
    return f"{head}{indented}\n    return 1.0\n"


def run_hostile(pool: EvaluatorPool, code: str) -> SampleResult:
    """Score 4 rows (row 1 is the hostile one); check the others and the pool afterwards."""
    rows = [Sample(chat_row(bad=i == 1), "answer") for i in range(4)]
    results = pool.score(code, rows)
    assert [r.score for i, r in enumerate(results) if i != 1] == [1.0, 1.0, 1.0]
    assert [r.score for r in pool.score(TRIVIAL, rows)] == [0.25] * 4
    return results[1]


def test_infinite_loop_times_out(pool: EvaluatorPool) -> None:
    bad = run_hostile(pool, hostile("while True:\n    pass"))
    assert not bad.is_score_valid and bad.reason == f"timed out after {TIMEOUT_S:g} s"


def test_c_level_loop_times_out(pool: EvaluatorPool) -> None:
    bad = run_hostile(pool, hostile("sum(range(10**12))"))
    assert bad.reason == f"timed out after {TIMEOUT_S:g} s"


@pytest.mark.slow  # two timeouts: the shared group's, then the guilty row's alone
def test_async_evaluator_blocking_the_loop_times_out(pool: EvaluatorPool) -> None:
    code = """
async def evaluate(messages, bad=False, **kw):
    while bad:
        pass
    return 1.0
"""
    bad = run_hostile(pool, code)
    assert bad.reason == f"timed out after {TIMEOUT_S:g} s"


def test_memory_bomb_is_stopped(roomy_pool: EvaluatorPool) -> None:
    # The roomy pool: filling 1 GiB takes about the short limit on a busy machine.
    bad = run_hostile(
        roomy_pool, hostile("hog = []\nwhile True:\n    hog.append(bytearray(50 << 20))")
    )
    assert not bad.is_score_valid
    assert bad.reason is not None and "MemoryError" in bad.reason, bad


def _settled_processes_of(uids: set[int], within_s: float = 30.0) -> list[int]:
    """The uids' processes once SIGKILLed ones are gone: the kernel tears a killed group down
    after `kill` returns (CI saw 56 of a fork bomb's children still in /proc at once)."""
    deadline = time.monotonic() + within_s
    found = _processes_of(uids)
    while len(found) > len(uids) and time.monotonic() < deadline:
        time.sleep(0.1)
        found = _processes_of(uids)
    return found


def _processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


@pytest.mark.parametrize("catch", [False, True])
def test_fork_bomb_is_contained(
    pool: EvaluatorPool, roomy_pool: EvaluatorPool, catch: bool
) -> None:
    if not catch:  # reaching RLIMIT_NPROC takes about the short limit on a busy machine
        pool = roomy_pool
    body = (
        "while True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
        if catch
        else "while True:\n    os.fork()"
    )
    bad = run_hostile(pool, hostile(body, prelude="import os"))
    assert not bad.is_score_valid
    if catch:  # forks forever: only the watchdog ends it
        assert bad.reason == f"timed out after {TIMEOUT_S:g} s"
    else:  # RLIMIT_NPROC makes fork fail
        assert bad.reason is not None and "Resource temporarily unavailable" in bad.reason
    uids = {info["uid"] for info in pool.worker_info()}
    assert len(_settled_processes_of(uids)) <= len(uids)  # one per live worker: no child left


def test_no_socket_to_localhost(pool: EvaluatorPool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        code = hostile(
            f"socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'leak')",
            prelude="import socket",
        )
        bad = run_hostile(pool, code)
        assert bad.reason is not None and "PermissionError" in bad.reason
        with pytest.raises(BlockingIOError):
            server.accept()


def test_no_other_programs(pool: EvaluatorPool) -> None:
    bad = run_hostile(pool, hostile("subprocess.run(['/bin/true'])", prelude="import subprocess"))
    assert bad.reason is not None and "PermissionError" in bad.reason


@pytest.mark.parametrize("target", [REPO / "tests" / "evaluators", REPO, Path("/work")])
def test_cannot_write_outside_tmp(pool: EvaluatorPool, target: Path) -> None:
    path = target / f"sandbox-escape-{uuid.uuid4().hex}.txt"
    bad = run_hostile(pool, hostile(f"open({str(path)!r}, 'w').write('escaped')"))
    assert not bad.is_score_valid
    assert bad.reason is not None and "Error" in bad.reason
    assert not path.exists()


def test_tmp_is_private(pool: EvaluatorPool) -> None:
    name = f"/tmp/sandbox-marker-{uuid.uuid4().hex}"
    code = f"""
def evaluate(messages, **kw):
    with open({name!r}, "w") as handle:
        handle.write("inside")
    return 1.0
"""
    assert pool.score(code, [Sample(chat_row(), "x")])[0].score == 1.0
    assert not os.path.exists(name)


ENV_PROBE = """
import os

def evaluate(messages, **kw):
    seen = [repr(dict(os.environ))]
    for path in ["/proc/self/environ", "/proc/1/environ", f"/proc/{os.getppid()}/environ"]:
        try:
            with open(path, "rb") as handle:
                seen.append(handle.read().decode(errors="replace"))
        except OSError as exc:
            seen.append(f"{path}: {exc.__class__.__name__}")
    print("\\n".join(seen))
    return 1.0
"""


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("RFT_SECRET_KEY", secret)
    yield secret


@pytest.mark.parametrize("use_bwrap", [None, False], ids=["default", "rlimits-only"])
def test_server_environment_is_invisible(secret_env: str, use_bwrap: bool | None) -> None:
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, use_bwrap=use_bwrap) as fresh:
        (result,) = fresh.score(ENV_PROBE, [Sample(chat_row(), "x")])
    assert result.score == 1.0, result.error
    assert secret_env not in result.stdout
    assert "RFT_SECRET_KEY" not in result.stdout


@pytest.fixture(params=["tmp", "repo"])
def secret_file(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Path]:
    """A database file holding a secret, in a data dir under /tmp or inside the repo."""
    base = data_dir if request.param == "tmp" else REPO / "tests" / "evaluators" / ".data-probe"
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"rft-{uuid.uuid4().hex}.db"
    path.write_text("api_key=sk-top-secret")
    path.chmod(0o600)  # as a server would keep its database
    yield path
    path.unlink()
    if request.param == "repo":
        base.rmdir()


@pytest.mark.parametrize("use_bwrap", [None, False], ids=["default", "rlimits-only"])
def test_database_file_is_unreadable(secret_file: Path, use_bwrap: bool | None) -> None:
    code = f"""
def evaluate(messages, **kw):
    try:
        with open({str(secret_file)!r}) as handle:
            print(handle.read())
    except OSError as exc:
        print(type(exc).__name__)
    return 1.0
"""
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, use_bwrap=use_bwrap) as fresh:
        (result,) = fresh.score(code, [Sample(chat_row(), "x")])
    assert "sk-top-secret" not in result.stdout
    expected = "FileNotFoundError" if fresh.isolation == "bubblewrap" else "PermissionError"
    assert result.stdout.strip() == expected


@bubblewrap_only
def test_file_system_view_is_minimal(pool: EvaluatorPool) -> None:
    code = f"""
import os

def evaluate(messages, **kw):
    print(os.path.exists({str(REPO / "pyproject.toml")!r}), os.path.exists("/etc/passwd"))
    return 1.0
"""
    (result,) = pool.score(code, [Sample(chat_row(), "x")])
    assert result.stdout == "False False\n"


def test_huge_output_is_truncated(pool: EvaluatorPool) -> None:
    bad = run_hostile(pool, hostile("for _ in range(100_000):\n    print('x' * 1000)"))
    assert bad.score == 1.0  # printing is allowed; only the output is cut
    assert len(bad.stdout) < 64 * 1024 + 200
    note = re.search(
        r"\[output truncated at 64 KiB: (\d+) more characters not shown\]$", bad.stdout
    )
    assert note is not None and int(note.group(1)) == 100_100_000 - 64 * 1024


def test_os_exit_kills_only_its_row(pool: EvaluatorPool) -> None:
    bad = run_hostile(pool, hostile("os._exit(3)", prelude="import os"))
    assert bad.reason is not None and bad.reason.startswith("evaluator process exited with code 3")


def test_workers_run_as_distinct_unprivileged_users(pool: EvaluatorPool) -> None:
    code = "import os\n\ndef evaluate(messages, **kw):\n    print(os.getuid())\n    return 1.0\n"
    results = pool.score(code, [Sample(chat_row(), "x")] * 50)
    uids = {int(r.stdout) for r in results}
    assert 0 not in uids
    info = pool.worker_info()
    assert all(worker["seccomp"] for worker in info)
    assert len({worker["uid"] for worker in info}) == len(info)
    assert uids <= {worker["uid"] for worker in info}


def test_exit_while_importing_fails_every_row(pool: EvaluatorPool) -> None:
    code = "import os\nos._exit(4)\n\ndef evaluate(messages, **kw):\n    return 1.0\n"
    results = pool.score(code, [Sample(chat_row(), "x")] * 3)
    assert {r.reason for r in results} == {
        "evaluator process exited with code 4 (while importing the evaluator)"
    }
    assert [r.score for r in pool.score(TRIVIAL, [Sample(chat_row(), "x")])] == [0.25]


def test_background_work_does_not_outlive_the_chunk(pool: EvaluatorPool) -> None:
    code = """
import os
import threading

def evaluate(messages, **kw):
    if os.fork() == 0:
        while True:
            pass
    threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True).start()
    return 1.0
"""
    results = pool.score(code, [Sample(chat_row(), "x")] * 2)
    assert [r.score for r in results] == [1.0, 1.0]
    uids = {info["uid"] for info in pool.worker_info()}
    assert len(_settled_processes_of(uids)) <= len(uids)  # one per live worker: child killed


def test_abandoned_iteration_leaves_a_usable_pool(pool: EvaluatorPool) -> None:
    code = "import time\n\ndef evaluate(messages, **kw):\n    time.sleep(0.05)\n    return 1.0\n"
    stream = pool.score_iter(code, [Sample(chat_row(), "x")] * 40)
    first = next(iter(stream))
    assert first[1].score == 1.0
    stream.close()  # type: ignore[attr-defined]
    assert [r.score for r in pool.score(TRIVIAL, [Sample(chat_row(), "x")] * 4)] == [0.25] * 4


def test_rlimits_only_mode_still_contains() -> None:
    code = hostile("while True:\n    pass", prelude="import os")
    code = code.replace("return 1.0", "print(os.getuid())\n    return 1.0")
    with EvaluatorPool(size=2, timeout_s=TIMEOUT_S, use_bwrap=False) as fresh:
        assert fresh.isolation == "rlimits-only"
        results = fresh.score(code, [Sample(chat_row(bad=i == 1), "x") for i in range(4)])
        assert [r.score for r in results] == [1.0, None, 1.0, 1.0]
        assert results[1].reason == f"timed out after {TIMEOUT_S:g} s"
        assert all(int(r.stdout) != 0 for i, r in enumerate(results) if i != 1)
        bad = fresh.score(
            hostile("socket.socket()", prelude="import socket"), [Sample(chat_row(bad=True), "x")]
        )
        assert bad[0].reason is not None and "PermissionError" in bad[0].reason


LEAVE_MARK = (
    "import json\njson.LEFT_BEHIND = True\n\ndef evaluate(messages, **kw):\n    return 1.0\n"
)
READ_MARK = (
    "import json\n\ndef evaluate(messages, **kw):\n    return float(hasattr(json, 'LEFT_BEHIND'))\n"
)


def test_tenants_never_share_a_worker() -> None:
    rows = [Sample(chat_row(), "x")]
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S) as fresh:
        fresh.score(LEAVE_MARK, rows, tenant="mallory")
        assert fresh.score(READ_MARK, rows, tenant="alice")[0].score == 0.0  # a fresh one
        # Not even the same user's other evaluator sees what the first one left behind.
        fresh.score(LEAVE_MARK, rows, tenant="mallory")
        assert fresh.score(READ_MARK, rows, tenant="mallory")[0].score == 0.0


FORGE_VICTIM = """
import json

def score_answer(text):
    return 0.1

def evaluate(messages, **kw):
    return score_answer(messages[-1]["content"])
"""
# Patches every other evaluator module it can find in the process, then forges 0.99.
FORGER = """
import sys

def _forged(*args, **kwargs):
    return 0.99

def evaluate(messages, **kw):
    for module in list(sys.modules.values()):
        if module is not None and hasattr(module, "score_answer"):
            module.score_answer = _forged
    return 0.5
"""


def test_one_evaluator_cannot_patch_another() -> None:
    """Finding 6: the same user's evaluators used to share a worker; one patched another's
    functions and the victim scored a forged 0.99."""
    rows = [Sample(chat_row(), "x")]
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S) as fresh:
        assert fresh.score(FORGE_VICTIM, rows, tenant="user-1")[0].score == 0.1
        assert fresh.score(FORGER, rows, tenant="user-1")[0].score == 0.5
        assert fresh.score(FORGE_VICTIM, rows, tenant="user-1")[0].score == 0.1


def test_network_worker_resolves_names_but_stays_locked_down(network_pool: EvaluatorPool) -> None:
    code = """
NEEDS_NETWORK = True
import os
import socket
import subprocess

def evaluate(messages, **kw):
    print(socket.getaddrinfo("localhost", 80)[0][4][0], os.getuid() != 0)
    try:
        subprocess.run(["/bin/true"])
    except PermissionError:
        print("exec denied")
    return 1.0
"""
    (result,) = network_pool.score(code, [Sample(chat_row(), "x")])
    assert result.stdout == "127.0.0.1 True\nexec denied\n", result.error


def test_seccomp_denies_escape_hatches(pool: EvaluatorPool) -> None:
    code = """
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

def outcome(call):
    try:
        call()
        return "allowed"
    except OSError as exc:
        return type(exc).__name__

def unshare_user():
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), "unshare")

def run_true():
    os.execv("/bin/true", ["true"])

def evaluate(messages, **kw):
    print(outcome(os.setsid), outcome(unshare_user), outcome(run_true))
    return 1.0
"""
    (result,) = pool.score(code, [Sample(chat_row(), "x")])
    assert result.stdout == "PermissionError PermissionError PermissionError\n", result.error
