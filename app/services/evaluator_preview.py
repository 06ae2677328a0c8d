"""The IDE preview: run unsaved evaluator code on real dataset rows and summarise the scores.

The web app keeps ONE sandboxed EvaluatorPool (``SharedPool``), started on the first preview
and closed when the app shuts down. Work happens in three steps so that a streamed preview
never holds the request's database session: ``plan`` (check the code, read the rows: needs
the session), then ``run`` or ``stream`` (score: needs only the pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.errors import NotFound, Unavailable
from app.core.threads import ThreadLane
from app.evaluators import EvaluatorPool, EvaluatorSpec, Sample, SampleResult
from app.evaluators.pool import SandboxUnavailable, isolation_in_force
from app.models import User
from app.schemas.evaluator import (
    HistogramBin,
    MetricPublic,
    PreviewRequest,
    PreviewResponse,
    PreviewResult,
    PreviewSummary,
)
from app.services import datasets, evaluator_envs, evaluators

log = logging.getLogger("rft.evaluators")
BINS = 10
T = TypeVar("T")
SCORING_THREADS = 256  # previews waiting for a sandboxed worker each hold one (idle) thread
ADMITTING = 4  # previews checking code and reading rows at once; the rest wait on the loop
_KEEPALIVE_S = 1.0  # a streamed preview sends a comment this often while rows run
_DISCONNECT_POLL_S = 0.25  # how often a running preview checks that its client is there


class SharedPool:
    """The web app's evaluator pool: created on first use, sized from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: EvaluatorPool | None = None
        self._lock = threading.Lock()
        self.admission = ThreadLane(ADMITTING)

    def get(self) -> EvaluatorPool:
        """The pool; Unavailable (503, saying why and what to do) when evaluators cannot run
        here: no bubblewrap and no RFT_UNSAFE_NO_SANDBOX."""
        with self._lock:
            if self._pool is None or self._pool.closed:
                size = self._settings.evaluator_preview_workers or os.cpu_count() or 1
                per_user = self._settings.evaluator_preview_workers_per_user or max(1, size // 2)
                try:
                    self._pool = EvaluatorPool(
                        size=size,
                        timeout_s=self._settings.evaluator_timeout_seconds,
                        memory_bytes=self._settings.evaluator_memory_bytes,
                        unsafe_no_sandbox=self._settings.unsafe_no_sandbox,
                        per_owner=per_user,
                        envs_dir=str(evaluator_envs.envs_root(self._settings)),
                    )
                except SandboxUnavailable as exc:
                    raise Unavailable(f"Evaluators cannot run: {exc}") from None
            return self._pool

    def isolation(self) -> str:
        """The isolation evaluators get here (for /healthz and the pages' banner)."""
        if self.started and self._pool is not None:
            return self._pool.isolation
        return isolation_in_force(self._settings.unsafe_no_sandbox)

    @property
    def started(self) -> bool:
        return self._pool is not None and not self._pool.closed

    def close(self) -> None:
        """Stop the sandboxed worker processes (app shutdown)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            self._pool = None


@dataclass(frozen=True)
class Plan:
    """What to score: checked code and the rows read from the dataset, with their indices."""

    code: str | Mapping[str, Any] | EvaluatorSpec
    indices: list[int]
    samples: list[Sample]


def checked_code(
    settings: Settings, request: PreviewRequest
) -> str | Mapping[str, Any] | EvaluatorSpec:
    """The code checked (422 naming its line), with its declared requirements' environment
    (installed now when new). Needs no database."""
    evaluators.check(request.code)
    declared = evaluators.declared_requirements(request.requirements, request.code)
    return evaluator_envs.runnable(settings, request.code, declared)


def plan(
    session: Session,
    code: str | Mapping[str, Any] | EvaluatorSpec,
    owner: User,
    request: PreviewRequest,
) -> Plan:
    """Read the rows to score (404 / 422 naming the field)."""
    try:
        dataset = datasets.get(session, owner, request.dataset_id)
    except NotFound as exc:
        message = f"dataset {request.dataset_id} not found"
        raise NotFound(exc.detail, [{"field": "dataset_id", "message": message}]) from None
    if request.rows is not None:
        indices = list(request.rows)
        rows = datasets.read_rows_at(session, owner, dataset.id, indices)
    else:
        rows = datasets.read_rows(session, owner, dataset.id, 0, request.limit)
        indices = list(range(len(rows)))
    return Plan(code, indices, [Sample(row) for row in rows])


async def admit(
    shared: SharedPool, session: Session, settings: Settings, owner: User, request: PreviewRequest
) -> tuple[Plan, EvaluatorPool]:
    """Check the code, then `plan`, release the session and get the pool in the pool's
    admission lane, so fifty previews arriving together wait on the event loop (holding no
    thread and no database connection) instead of taking the threads and connections every
    other request needs. A first install of declared requirements (pip: seconds to minutes)
    happens before the lane, so it never holds a slot others wait for."""
    code = await run_in_threadpool(checked_code, settings, request)
    return await shared.admission.run(_admit, shared, session, code, owner, request)


def _admit(
    shared: SharedPool,
    session: Session,
    code: str | Mapping[str, Any] | EvaluatorSpec,
    owner: User,
    request: PreviewRequest,
) -> tuple[Plan, EvaluatorPool]:
    work = plan(session, code, owner, request)
    session.close()  # rows are read: no connection (nor SQLite's lock) held while scoring
    return work, shared.get()


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def result_of(row_index: int, result: SampleResult) -> PreviewResult:
    metrics = {
        name: MetricPublic(score=_finite(m.score), reason=m.reason)
        for name, m in result.metrics.items()
    }
    return PreviewResult(
        row_index=row_index,
        score=_finite(result.score),
        reason=result.reason,
        is_score_valid=result.is_score_valid,
        metrics=metrics,
        stdout=result.stdout,
        error=result.error,
        error_line=result.error_line,
        duration_ms=_finite(result.duration_ms) or 0.0,
    )


def histogram_range(scores: Sequence[float]) -> tuple[float, float]:
    """0-1 when every score is in it (the common case keeps fixed bins); otherwise the data's own
    range (TRL, verl and Predibase rewards are any float: -1 for wrong, 2.0 for right...)."""
    if not scores or (min(scores) >= 0.0 and max(scores) <= 1.0):
        return 0.0, 1.0
    low, high = min(scores), max(scores)
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def histogram(scores: Sequence[float]) -> list[HistogramBin]:
    """BINS equal bins over histogram_range; the top bin includes its upper end."""
    low, high = histogram_range(scores)
    span = high - low
    counts = [0] * BINS
    for score in scores:
        counts[min(max(int((score - low) * BINS / span), 0), BINS - 1)] += 1
    return [
        HistogramBin(start=low + span * i / BINS, end=low + span * (i + 1) / BINS, count=n)
        for i, n in enumerate(counts)
    ]


def summarize(results: Sequence[PreviewResult], duration_ms: float) -> PreviewSummary:
    scores = [r.score for r in results if r.is_score_valid and r.score is not None]
    return PreviewSummary(
        count=len(results),
        mean_score=sum(scores) / len(scores) if scores else None,
        valid=len(scores),
        invalid=len(results) - len(scores),
        histogram=histogram(scores),
        duration_ms=duration_ms,
    )


def run(
    pool: EvaluatorPool, work: Plan, tenant: str, cancel: threading.Event | None = None
) -> PreviewResponse:
    """Score every row (blocking: call it from a worker thread). With `cancel` set midway,
    returns what finished so far."""
    started = time.monotonic()
    scored: dict[int, SampleResult] = {}
    rows = pool.score_iter(work.code, work.samples, tenant=tenant, cancel=cancel)
    try:
        for position, result in rows:
            scored[position] = result
    finally:
        _close(rows)
    results = [result_of(work.indices[p], scored[p]) for p in sorted(scored)]
    summary = summarize(results, (time.monotonic() - started) * 1000)
    return PreviewResponse(results=results, summary=summary, isolation=pool.isolation)


async def run_while_connected(
    pool: EvaluatorPool, work: Plan, tenant: str, disconnected: Callable[[], Awaitable[bool]]
) -> PreviewResponse:
    """`run`, stopped (its workers freed) as soon as `disconnected()` says the client left."""
    cancel = threading.Event()
    task = asyncio.ensure_future(_scoring_thread(run, pool, work, tenant, cancel))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=_DISCONNECT_POLL_S)
            if not task.done() and await disconnected():
                cancel.set()
    finally:
        cancel.set()  # also when this request itself is cancelled
    return await task


_scoring_limiter: anyio.CapacityLimiter | None = None


async def _scoring_thread(func: Callable[..., T], *args: Any) -> T:
    """Run blocking scoring in a thread of its own pool: waiting previews must not take the
    threads that every other request (health checks, page loads, writes) needs."""
    global _scoring_limiter
    if _scoring_limiter is None:
        _scoring_limiter = anyio.CapacityLimiter(SCORING_THREADS)
    return await anyio.to_thread.run_sync(func, *args, limiter=_scoring_limiter)


def _close(rows: Iterator[tuple[int, SampleResult]]) -> None:
    close = getattr(rows, "close", None)
    if close is None:
        return
    # ValueError: still running in another thread, which sees `cancel` and ends by itself.
    with contextlib.suppress(ValueError):
        close()


def _event(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {data}\n\n"


async def stream(pool: EvaluatorPool, work: Plan, tenant: str) -> AsyncIterator[str]:
    """Server-sent events: ``result`` per row as it finishes, then ``summary``, then ``end``."""
    started = time.monotonic()
    cancel = threading.Event()
    rows: Iterator[tuple[int, SampleResult]] = await run_in_threadpool(
        pool.score_iter, work.code, work.samples, tenant=tenant, cancel=cancel
    )
    results: list[PreviewResult] = []
    try:
        while True:
            waiting = asyncio.ensure_future(_scoring_thread(next, rows, None))
            while not (await asyncio.wait({waiting}, timeout=_KEEPALIVE_S))[0]:
                # A comment line: sending is how a gone client is noticed (the server raises
                # on a closed connection), which then closes this generator and the run.
                yield ": still scoring\n\n"
            item = waiting.result()
            if item is None:
                break
            result = result_of(work.indices[item[0]], item[1])
            results.append(result)
            yield _event("result", result.model_dump_json())
    except Exception as exc:  # the pool closed under us (shutdown): say so, then end
        log.exception("evaluator preview stream failed")
        yield _event("error", json.dumps({"detail": f"Preview stopped: {exc}", "errors": []}))
    finally:
        # A client that goes away stops the run: its workers are replaced, not left busy.
        cancel.set()
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_close, rows)
    summary = summarize(results, (time.monotonic() - started) * 1000)
    yield _event("summary", summary.model_dump_json())
    yield _event("end", json.dumps({"count": len(results), "isolation": pool.isolation}))
