"""One scoring run: split rows into chunks, feed idle workers, collect results, watch the clock.

A single calling thread drives several workers with select(). Workers are checked out per
chunk, so concurrent runs (an IDE preview and a training step) interleave chunk by chunk.

The watchdog trusts the parent's own clock: a busy worker must deliver a new result within
the time limit of the row it is on. The shared progress record (protocol.py) only says WHICH
row overran, so the culprit is marked "timed out" and the rest of its chunk goes to a fresh
worker. A worker that dies is handled the same way with the reason it died.
"""

from __future__ import annotations

import contextlib
import math
import select
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import protocol
from .contract import EvaluatorSpec
from .protocol import Payload, RunRequest
from .runtime import ASYNC_GROUP
from .sandbox import WorkerGone
from .values import SampleResult

if TYPE_CHECKING:
    from .pool import EvaluatorPool, Slot

MAX_CHUNK = 512  # rows per frame: big enough to amortise IPC, small enough to balance load
BATCH_CALL_MAX = 4096  # rows per call of a batch-form evaluator
STARTUP_TIMEOUT_S = 60.0  # a worker must say hello within this
ASYNC_GRACE_S = 0.5  # lets the worker's own asyncio.wait_for fire before the parent kills
MAX_ATTEMPTS = 3  # a chunk whose worker dies before touching any row is retried this often
_POLL_S = 0.05

Row = tuple[dict[str, Any], str | None]


@dataclass
class _Chunk:
    indices: list[int]
    attempts: int = 0
    solo: bool = False  # run async rows one at a time (after a group blocked the loop)


@dataclass
class _Job:
    chunk: _Chunk
    started: float  # when the clock for the current row last (re)started
    done: set[int] = field(default_factory=set)
    finished: bool = False  # the worker sent the chunk's last frame


def _chunk_size(spec: EvaluatorSpec, remaining: int, workers: int) -> int:
    """Rows for the next chunk: guided scheduling, large first and smaller toward the end,
    so no worker sits idle while another finishes a long last chunk."""
    if spec.kind == "batch":
        return BATCH_CALL_MAX
    if spec.entry.is_async:  # async rows overlap inside a worker: give each worker a share
        return max(1, min(MAX_CHUNK, math.ceil(remaining / workers)))
    return max(1, min(MAX_CHUNK, math.ceil(remaining / (workers * 2))))


class Dispatch:
    def __init__(
        self, pool: EvaluatorPool, spec: EvaluatorSpec, rows: list[Row], tenant: str | None
    ) -> None:
        self.pool = pool
        self.tenant = tenant
        self.spec = spec
        self.rows = rows
        self.timeout_s = pool.timeout_s
        self.cursor = 0  # rows before this one have been handed out
        self.retry: deque[_Chunk] = deque()  # rows to run again on a fresh worker
        self.inflight: dict[Slot, _Job] = {}

    @property
    def pending(self) -> bool:
        return bool(self.retry) or self.cursor < len(self.rows)

    def _next_chunk(self) -> _Chunk:
        if self.retry:
            return self.retry.popleft()
        size = _chunk_size(self.spec, len(self.rows) - self.cursor, self.pool.size)
        end = min(self.cursor + size, len(self.rows))
        chunk = _Chunk(list(range(self.cursor, end)))
        self.cursor = end
        return chunk

    def run(self) -> Iterator[tuple[int, SampleResult]]:
        try:
            while self.pending or self.inflight:
                if self.pool.closed:
                    raise RuntimeError("the evaluator pool was closed while scoring")
                yield from self._fill()
                yield from self._poll()
        finally:
            # Abandoned mid-run (consumer stopped iterating, or an error): the workers still
            # hold our rows, so they cannot be trusted to be idle. Replace them.
            for slot in list(self.inflight):
                slot.discard()
                self.pool.release(slot)
            self.inflight.clear()

    def _fill(self) -> Iterator[tuple[int, SampleResult]]:
        while self.pending:
            slot = self.pool.checkout(
                self.spec.needs_network, wait=not self.inflight, tenant=self.tenant
            )
            if slot is None:
                return
            chunk = self._next_chunk()
            try:
                self._send(slot, chunk)
            except WorkerGone as exc:
                yield from self._settle_dead(slot, _Job(chunk, time.monotonic()), f"{exc}")
            except BaseException:  # could not even start a process: give the slot back
                self.inflight.pop(slot, None)
                slot.discard()
                self.pool.release(slot)
                raise

    def _send(self, slot: Slot, chunk: _Chunk) -> None:
        if slot.tenant != self.tenant:
            slot.discard()  # never hand a process that ran one tenant's code to another
            slot.tenant = self.tenant
        process = slot.ensure_started()
        payload = None
        if slot.remember(self.spec.key):
            entry = self.spec.entry
            payload = Payload(entry=entry, code=self.spec.code, grader=self.spec.grader)
        request = RunRequest(
            key=self.spec.key,
            payload=payload,
            rows=[self.rows[i] for i in chunk.indices],
            timeout_s=self.timeout_s,
            llm=self.pool.llm_endpoint if slot.network else None,
            async_group=1 if chunk.solo else ASYNC_GROUP,
        )
        self.inflight[slot] = _Job(chunk, time.monotonic())
        process.send(protocol.encode(request))

    def _poll(self) -> Iterator[tuple[int, SampleResult]]:
        if not self.inflight:
            return
        by_fd = {slot.process.read_fd: slot for slot in self.inflight if slot.process}
        readable, _, _ = select.select(list(by_fd), [], [], _POLL_S)
        for fd in readable:
            slot = by_fd[fd]
            job = self.inflight[slot]
            try:
                frames = slot.process.receive() if slot.process else []
            except WorkerGone:
                yield from self._settle_dead(slot, job, slot.exit_reason())
                continue
            yield from self._take(slot, job, frames)
        now = time.monotonic()
        for slot, job in list(self.inflight.items()):
            overdue = self._overdue(slot, job, now)
            if overdue:
                yield from self._settle_dead(slot, job, overdue, timed_out=True)

    def _absorb(
        self, slot: Slot, job: _Job, frames: list[bytes]
    ) -> Iterator[tuple[int, SampleResult]]:
        """Yield the new results in `frames`; WorkerGone if a frame is garbage."""
        for body in frames:
            try:
                message = protocol.reply_decoder.decode(body)
            except Exception as exc:  # user code scribbled on the pipe
                raise WorkerGone(f"broke the protocol: {exc}") from None
            if isinstance(message, protocol.Hello):
                slot.hello = message
                job.started = time.monotonic()  # its clock starts once it is up
                continue
            slot.recycle = slot.recycle or message.recycle
            job.finished = job.finished or message.done
            fresh = False
            for pos, result in zip(message.positions, message.results, strict=False):
                if 0 <= pos < len(job.chunk.indices) and pos not in job.done:
                    job.done.add(pos)
                    fresh = True
                    yield job.chunk.indices[pos], result
            if fresh:  # only new results restart the clock: resent ones prove nothing
                job.started = time.monotonic()

    def _take(
        self, slot: Slot, job: _Job, frames: list[bytes]
    ) -> Iterator[tuple[int, SampleResult]]:
        try:
            yield from self._absorb(slot, job, frames)
        except WorkerGone as exc:
            yield from self._settle_dead(slot, job, str(exc))
            return
        if job.finished:
            for pos in range(len(job.chunk.indices)):
                if pos not in job.done:  # never expected; keeps every row accounted for
                    reason = "internal error: the worker returned no result for this row"
                    yield job.chunk.indices[pos], SampleResult.invalid(reason)
            del self.inflight[slot]
            if slot.recycle:
                slot.discard()
            self.pool.release(slot)

    def _overdue(self, slot: Slot, job: _Job, now: float) -> str | None:
        """A reason to kill the worker now, or None."""
        if slot.hello is None:
            if now - job.started > STARTUP_TIMEOUT_S:
                return f"did not start within {STARTUP_TIMEOUT_S:g} s"
            return None
        if slot.process is None:
            return None
        phase, _pos, _count, start_ns = slot.process.progress.read()
        limit = self.timeout_s + (ASYNC_GRACE_S if phase == protocol.GROUP else 0.0)
        # The worker's own start time is exact but untrusted: use it only when plausible.
        started = start_ns / 1e9
        if not job.started <= started <= now:
            started = job.started
        if now - started > limit:
            return f"timed out after {self.timeout_s:g} s"
        return None

    def _settle_dead(
        self, slot: Slot, job: _Job, cause: str, *, timed_out: bool = False
    ) -> Iterator[tuple[int, SampleResult]]:
        """Kill the worker; fail the row(s) it was on; requeue the rest of its chunk."""
        if slot.process is not None:
            with contextlib.suppress(WorkerGone):  # results sent before dying still count
                yield from self._absorb(slot, job, slot.process.receive())
        phase, pos, count, _ = slot.process.progress.read() if slot.process else (0, 0, 0, 0)
        self.inflight.pop(slot, None)
        slot.discard()
        self.pool.release(slot)
        remaining = [p for p in range(len(job.chunk.indices)) if p not in job.done]
        if not remaining:
            return
        isolate = phase == protocol.GROUP and count > 1 and self.spec.kind != "batch"
        if isolate:
            # Several async rows shared the event loop one of them blocked: rerun them one
            # at a time so only the guilty row is charged with the timeout.
            phase = protocol.IDLE
        culprits, reason = self._culprits(phase, pos, count, remaining, cause, timed_out)
        retried = not culprits and not isolate  # no row to blame: the worker itself failed
        if retried and job.chunk.attempts + 1 >= MAX_ATTEMPTS:
            culprits, retried = set(remaining), False  # it keeps dying: stop retrying
        for p in sorted(culprits):
            failed = SampleResult.invalid(reason)
            if timed_out:
                failed.duration_ms = self.timeout_s * 1000.0
            yield job.chunk.indices[p], failed
        rest = [job.chunk.indices[p] for p in remaining if p not in culprits]
        if rest:
            solo = job.chunk.solo or isolate
            self.retry.append(_Chunk(rest, job.chunk.attempts + retried, solo))

    def _culprits(
        self, phase: int, pos: int, count: int, remaining: list[int], cause: str, timed_out: bool
    ) -> tuple[set[int], str]:
        reason = cause if timed_out else f"evaluator process {cause}"
        if phase == protocol.LOADING:
            return set(remaining), f"{reason} (while importing the evaluator)"
        if phase == protocol.ROW:
            return {pos} & set(remaining), reason
        if phase == protocol.GROUP:
            return set(range(pos, pos + count)) & set(remaining), reason
        return set(), reason
