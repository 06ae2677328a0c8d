"""The IDE preview on completions the dataset does not hold: typed by hand, or sampled from a
base model or one of the user's checkpoints by a worker.

``prepare`` (needs the session) checks the request and sorts the rows: those scored at once
(the dataset's completion, or a typed one) and those waiting for a model. ``stream`` / ``run``
then send the waiting rows to a worker (task ``rft.preview.sample``), score the ready rows
while it generates, and score each generated row's n completions as soon as the worker stores
them. A worker that does not answer a ping is a 503 before anything starts; one that stops
answering midway ends the run with an error, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
)
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from kombu.exceptions import DecodeError
from sqlalchemy.orm import Session

from app import tasks
from app.core.config import Settings
from app.core.errors import InvalidInput, NotFound, Unavailable
from app.evaluators import EvaluatorPool, EvaluatorSpec, Sample, SampleResult
from app.models import Checkpoint, Job, User
from app.schemas.evaluator import PreviewRequest, PreviewResponse, PreviewResult, SampleSpec
from app.services import base_models, system
from app.services.evaluator_preview import Plan, result_of, summarize

PING_TIMEOUT_S = 5.0  # a worker on the gpu queue must answer this fast to start sampling
ROW_TIMEOUT_S = 300.0  # the longest wait for the next generated row (the first loads the model)
POLL_S = 0.1
_KEEPALIVE_S = 1.0


@dataclass(frozen=True)
class Source:
    """The model completions are sampled from, resolved and checked."""

    spec: SampleSpec
    base_model: str
    checkpoint_id: int | None = None
    adapter_key: str | None = None


@dataclass
class Prepared:
    """Rows scored at once (with where their completion came from) and rows to generate for."""

    code: str | Mapping[str, Any] | EvaluatorSpec  # with its declared environment, if any
    ready: list[tuple[int, Sample, str]] = field(default_factory=list)  # index, sample, source
    waiting: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # index, row
    source: Source | None = None

    @property
    def needs_worker(self) -> bool:
        return bool(self.waiting) and self.source is not None


def wanted(request: PreviewRequest) -> bool:
    """Whether the request asks for anything beyond the dataset's own completions."""
    return request.sample is not None or bool(request.completions)


def prepare(
    session: Session, settings: Settings, owner: User, request: PreviewRequest, work: Plan
) -> Prepared:
    typed = request.completions or {}
    unknown = sorted(set(typed) - set(work.indices))
    if unknown:
        raise InvalidInput(
            "Invalid preview request",
            [
                {"field": f"completions.{i}", "message": f"row {i} is not among the rows scored"}
                for i in unknown
            ],
        )
    source = _source(session, settings, owner, request.sample) if request.sample else None
    prepared = Prepared(work.code, source=source)
    for index, sample in zip(work.indices, work.samples, strict=True):
        row = sample.row
        if index in typed:
            prepared.ready.append((index, Sample(without_reference(row), typed[index]), "typed"))
        elif source is not None and has_prompt(row):
            if source.spec.all_rows or not has_completion(row):
                prepared.waiting.append((index, row))
            else:
                prepared.ready.append((index, sample, "dataset"))
        else:
            prepared.ready.append((index, sample, "dataset"))
    return prepared


def _source(session: Session, settings: Settings, owner: User, spec: SampleSpec) -> Source:
    if spec.checkpoint_id is not None:
        checkpoint = session.get(Checkpoint, spec.checkpoint_id)
        job = session.get(Job, checkpoint.job_id) if checkpoint is not None else None
        if checkpoint is None or job is None or job.owner_id != owner.id:
            message = f"checkpoint {spec.checkpoint_id} not found"
            raise NotFound(message, [{"field": "sample.checkpoint_id", "message": message}])
        return Source(spec, job.base_model, checkpoint.id, checkpoint.path)
    known = [m.name for m in base_models.list_models(settings)]
    if spec.model not in known:
        available = ", ".join(known) or "none yet: run `rft demo`"
        message = f"unknown model {spec.model!r} (available: {available})"
        errors = [{"field": "sample.model", "message": message}]
        raise InvalidInput("Invalid preview request", errors)
    return Source(spec, str(spec.model))


def has_prompt(row: dict[str, Any]) -> bool:
    return isinstance(row.get("messages"), list) or "prompt" in row


def has_completion(row: dict[str, Any]) -> bool:
    """A trailing assistant message, or a `completion` column (text or messages)."""
    messages = row.get("messages")
    if isinstance(messages, list):
        last = messages[-1] if messages else None
        return isinstance(last, dict) and last.get("role") == "assistant"
    return isinstance(row.get("completion"), str | list)


def without_reference(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the evaluator sees it next to a completion that is not the dataset's: a
    trailing assistant message (the reference) is left out, as training does."""
    messages = row.get("messages")
    if isinstance(messages, list) and has_completion(row):
        return {**row, "messages": messages[:-1]}
    return row


def check_worker(celery: Celery) -> None:
    """503 at once when no worker takes model work (the gpu queue), rather than a hang."""
    try:
        system.ping_workers(celery, ("gpu",), PING_TIMEOUT_S)
    except Unavailable as exc:
        raise Unavailable(
            f"Cannot sample completions: {exc.detail} (start one with `rft worker`, or wait "
            "for a running job to finish)",
            [{"field": "sample", "message": "no worker is free to generate completions"}],
        ) from None


# --- running ----------------------------------------------------------------------------------

Emit = Callable[[str, Any], None]


def _result(
    index: int, outcome: Any, completion: str | None, source: str, sample_index: int | None
) -> PreviewResult:
    return result_of(index, outcome).model_copy(
        update={"completion": completion, "source": source, "sample_index": sample_index}
    )


def _produce(
    pool: EvaluatorPool,
    prepared: Prepared,
    celery: Celery,
    tenant: str,
    owner_id: int,
    emit: Emit,
    cancel: threading.Event,
) -> None:
    generated = _generate(celery, prepared, owner_id, cancel) if prepared.needs_worker else None
    try:
        if generated is not None:
            next(generated)  # sends the task: the worker generates while ready rows are scored
            emit("progress", {"generated": 0, "rows": len(prepared.waiting)})
        _score_ready(pool, prepared, tenant, emit, cancel)
        for done, (position, sampled) in enumerate(generated or (), start=1):
            emit("progress", {"generated": done, "rows": len(prepared.waiting)})
            _score_generated(pool, prepared, tenant, emit, cancel, position, sampled)
    finally:
        if generated is not None:
            generated.close()  # a run cut short stops the worker too


def _score_ready(
    pool: EvaluatorPool, prepared: Prepared, tenant: str, emit: Emit, cancel: threading.Event
) -> None:
    ready = [sample for _, sample, _ in prepared.ready]
    if not ready:
        return
    for position, outcome in pool.score_iter(prepared.code, ready, tenant=tenant, cancel=cancel):
        index, sample, source = prepared.ready[position]
        typed = sample.completion if source == "typed" else None
        emit("result", _result(index, outcome, typed, source, None))


def _score_generated(
    pool: EvaluatorPool,
    prepared: Prepared,
    tenant: str,
    emit: Emit,
    cancel: threading.Event,
    position: int,
    sampled: tasks.SampledRow,
) -> None:
    index, row = prepared.waiting[position]
    if sampled.error is not None:
        failed = SampleResult(reason=f"no completion: {sampled.error}", is_score_valid=False)
        emit("result", _result(index, failed, None, "sampled", None))
        return
    samples = [Sample(without_reference(row), text) for text in sampled.completions]
    for k, outcome in pool.score_iter(prepared.code, samples, tenant=tenant, cancel=cancel):
        emit("result", _result(index, outcome, sampled.completions[k], "sampled", k))


def _generate(
    celery: Celery, prepared: Prepared, owner_id: int, cancel: threading.Event
) -> Generator[tuple[int, tasks.SampledRow]]:
    """Send the task (on the first next()), then yield (position, row) as the worker stores
    rows, in any order. Raises Unavailable when the worker fails or falls silent."""
    source = prepared.source
    assert source is not None
    run_id = uuid.uuid4().hex
    ids = [f"rft-preview-{run_id}-{i}" for i in range(len(prepared.waiting))]
    request = tasks.SamplePrompts(
        owner_id=owner_id,
        base_model=source.base_model,
        checkpoint_id=source.checkpoint_id,
        adapter_key=source.adapter_key,
        rows=[row for _, row in prepared.waiting],
        result_ids=ids,
        cancel_id=f"rft-preview-{run_id}-cancel",
        n=source.spec.n,
        temperature=source.spec.temperature,
        max_tokens=source.spec.max_tokens,
    )
    backend = celery.backend
    task = tasks.request_samples(celery, request, expires=ROW_TIMEOUT_S)
    yield -1, tasks.SampledRow()  # the task is sent
    position_of = {result_id: i for i, result_id in enumerate(ids)}
    deadline = time.monotonic() + ROW_TIMEOUT_S
    finished = False

    def check() -> None:
        if cancel.is_set():
            raise _Stopped
        if task.failed():
            raise Unavailable(f"Sampling failed on the worker: {task.result}")
        if time.monotonic() > deadline:
            raise Unavailable(
                f"No completion came from the worker within {ROW_TIMEOUT_S:g} s",
                [{"field": "sample", "message": "the worker fell silent"}],
            )

    remaining = set(ids)
    try:
        while remaining:
            try:
                for result_id, meta in backend.get_many(
                    set(remaining), interval=POLL_S, on_interval=check
                ):
                    deadline = time.monotonic() + ROW_TIMEOUT_S
                    key = result_id if isinstance(result_id, str) else result_id.decode()
                    remaining.discard(key)
                    yield position_of[key], tasks.SampledRow.model_validate(meta["result"])
                    check()  # rows already stored come without a wait: see a leaving client
            except DecodeError:  # read while the worker was writing it (file backend): again
                check()
                time.sleep(POLL_S)
        finished = True
    except _Stopped:
        return
    finally:
        if not finished:  # the client left, or the worker failed: stop it
            with contextlib.suppress(Exception):
                backend.store_result(request.cancel_id, True, "SUCCESS")
        with contextlib.suppress(Exception):
            for result_id in ids:
                backend.forget(result_id)
            task.forget()


class _Stopped(Exception):
    """The client went away."""


async def _events(
    pool: EvaluatorPool, prepared: Prepared, celery: Celery, tenant: str, owner_id: int
) -> AsyncGenerator[tuple[str, Any] | None]:
    """The run's events as they come ((kind, data); None while nothing happened for a second).
    Closing this generator stops the run, on the worker too."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def emit(kind: str, data: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    def body() -> None:
        try:
            _produce(pool, prepared, celery, tenant, owner_id, emit, cancel)
        except Unavailable as exc:
            emit("error", exc.detail)
        except Exception as exc:  # the pool closed under us, the broker went away...
            emit("error", f"Preview stopped: {type(exc).__name__}: {exc}")
        finally:
            emit("done", None)

    threading.Thread(target=body, name="preview-sampling", daemon=True).start()
    try:
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), timeout=_KEEPALIVE_S)
            except TimeoutError:
                yield None
                continue
            if kind == "done":
                return
            yield kind, data
    finally:
        cancel.set()


def _event(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {data}\n\n"


async def stream(
    pool: EvaluatorPool, prepared: Prepared, celery: Celery, tenant: str, owner_id: int
) -> AsyncIterator[str]:
    """Server-sent events: ``progress`` while a worker generates, ``result`` per (row,
    completion) as it is scored, then ``summary`` and ``end``."""
    started = time.monotonic()
    results: list[PreviewResult] = []
    events = _events(pool, prepared, celery, tenant, owner_id)
    async with contextlib.aclosing(events):
        async for item in events:
            if item is None:
                yield ": still working\n\n"  # sending is how a gone client is noticed
                continue
            kind, data = item
            if kind == "result":
                results.append(data)
                yield _event("result", data.model_dump_json())
            elif kind == "progress":
                yield _event("progress", json.dumps(data))
            else:
                yield _event("error", json.dumps({"detail": data, "errors": []}))
    summary = summarize(results, (time.monotonic() - started) * 1000)
    yield _event("summary", summary.model_dump_json())
    yield _event("end", json.dumps({"count": len(results), "isolation": pool.isolation}))


async def run(
    pool: EvaluatorPool,
    prepared: Prepared,
    celery: Celery,
    tenant: str,
    owner_id: int,
    disconnected: Callable[[], Awaitable[bool]],
) -> PreviewResponse:
    """Every result at once; a worker failure is a 503 naming the cause."""
    started = time.monotonic()
    results: list[PreviewResult] = []
    events = _events(pool, prepared, celery, tenant, owner_id)
    async with contextlib.aclosing(events):
        async for item in events:
            if item is None:
                if await disconnected():
                    break
                continue
            kind, data = item
            if kind == "result":
                results.append(data)
            elif kind == "error":
                raise Unavailable(data, [{"field": "sample", "message": data}])
    results.sort(key=lambda r: (r.row_index, r.sample_index or 0))
    summary = summarize(results, (time.monotonic() - started) * 1000)
    return PreviewResponse(results=results, summary=summary, isolation=pool.isolation)
