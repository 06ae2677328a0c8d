"""Live workers kept per (user, evaluator version): switching is cheap, sharing never happens.

Each evaluator below counts its own calls in a module global, so a score says whether the
call ran in the worker that served it before (the count goes on) or in a fresh one (0.1).
"""

from __future__ import annotations

from app.evaluators import EvaluatorPool, Sample
from tests.evaluators.support import TIMEOUT_S, chat_row

ROW = [Sample(chat_row(), "x")]


def counter(tag: str) -> str:
    """A distinct evaluator version per tag; scores 0.1 on its worker's first call, then 0.2..."""
    return (
        f"TAG = {tag!r}\nCALLS = []\n\n"
        "def evaluate(messages, **kw):\n    CALLS.append(1)\n    return len(CALLS) / 10\n"
    )


def scores(pool: EvaluatorPool, calls: list[tuple[str, str]]) -> list[float | None]:
    return [pool.score(code, ROW, tenant=user)[0].score for code, user in calls]


def test_two_evaluators_of_a_job_keep_their_workers_across_switches() -> None:
    """A job with two evaluators alternates them every step: no restart on a switch."""
    first, second = counter("first"), counter("second")
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S) as pool:
        calls = [(first, "user-1"), (second, "user-1")] * 2
        assert scores(pool, calls) == [0.1, 0.1, 0.2, 0.2]
        assert len(pool.worker_info()) == 2


def test_kept_workers_are_never_shared_between_users_or_versions() -> None:
    """The same code of two users, and two versions of one user, each run in their own."""
    code, edited = counter("v1"), counter("v2")
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S) as pool:
        calls = [(code, "alice"), (code, "bob"), (edited, "alice"), (code, "alice")]
        assert scores(pool, calls) == [0.1, 0.1, 0.1, 0.2]
        uids = [worker["uid"] for worker in pool.worker_info()]
        assert len(uids) == 3 and len(set(uids)) == 3  # a uid of its own per live worker


def test_least_recently_used_worker_is_replaced_at_the_limit() -> None:
    """With max_workers live, a third evaluator replaces the one used longest ago; that one
    then starts afresh in a clean process."""
    a, b, c = counter("a"), counter("b"), counter("c")
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, max_workers=2) as pool:
        calls = [(a, "u"), (b, "u"), (b, "u"), (c, "u"), (b, "u"), (a, "u")]
        assert scores(pool, calls) == [0.1, 0.1, 0.2, 0.1, 0.3, 0.1]
        assert len(pool.worker_info()) == 2


def test_idle_workers_beyond_the_pool_size_are_stopped() -> None:
    a, b = counter("a"), counter("b")
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, idle_evict_s=0.0) as pool:
        assert scores(pool, [(a, "u"), (b, "u"), (a, "u")]) == [0.1, 0.1, 0.1]
        assert len(pool.worker_info()) == 1  # only `size` stay alive once idle


def test_a_slow_row_still_times_out_when_cheap_rows_go_in_one_chunk() -> None:
    """After a few fast calls the pool sends a step's rows in one chunk per worker; the
    deadline stays per row, on the parent's clock: the hung row fails alone."""
    code = (
        "def evaluate(messages, bad=False, **kw):\n    while bad:\n        pass\n    return 1.0\n"
    )
    good = [Sample(chat_row(), "x")] * 16
    with EvaluatorPool(size=2, timeout_s=TIMEOUT_S) as pool:
        for _ in range(3):
            assert [r.score for r in pool.score(code, good)] == [1.0] * 16
        rows = [Sample(chat_row(bad=i == 5), "x") for i in range(16)]
        results = pool.score(code, rows)
        assert [r.score for i, r in enumerate(results) if i != 5] == [1.0] * 15
        assert results[5].reason == f"timed out after {TIMEOUT_S:g} s"
