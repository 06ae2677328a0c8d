"""One scoring run: split rows into chunks, feed idle workers, collect results, watch the clock.

A single calling thread drives several workers with select(). Workers are checked out per
chunk, so concurrent runs (an IDE preview and a training step) interleave chunk by chunk.

Trust boundary: a worker runs untrusted code, which can write anything to any fd and to the
shared progress record. So every deadline comes from the parent's own clock and its own
knowledge of the chunk. A chunk is a sequence of steps the parent derives itself (one row for
a plain evaluator, a group of rows for an async one, the whole chunk for a batch call); a
result is accepted only for a row of the current step, and only a new accepted result restarts
the step's clock. A worker that sends a result out of turn, a second hello, or an oversized or
undecodable frame is killed ("broke the protocol"). What a worker writes can therefore only
end its own rows early, never extend a deadline: each accepted result arrives within the limit
of the one before it, and a chunk of n rows holds a worker at most n x the limit. The progress
record is read only to say which of the evaluator's own undone rows a failure is charged to,
never for time.
Results are capped (limits.py) as they are decoded. A dead worker is handled like a timed-out
one, with the reason it died.
"""

from __future__ import annotations

import contextlib
import math
import select
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import protocol
from .contract import EvaluatorSpec
from .limits import bound_result
from .protocol import Payload, RunRequest
from .runtime import ASYNC_GROUP
from .sandbox import ProtocolBroken, WorkerGone
from .values import SampleResult

if TYPE_CHECKING:
    from .pool import EvaluatorPool, Slot

MAX_CHUNK = 512  # rows per frame: big enough to amortise IPC, small enough to balance load
BATCH_CALL_MAX = 4096  # rows per call of a batch-form evaluator
STARTUP_TIMEOUT_S = 60.0  # a worker must say hello within this
ASYNC_GRACE_S = 0.5  # lets the worker's own asyncio.wait_for fire before the parent kills
MAX_ATTEMPTS = 3  # a chunk whose worker dies before touching any row is retried this often
# A run whose rows are known (from earlier chunks, on the parent's clock) to take less than
# this in all is split evenly, one chunk per worker: a training step's few dozen cheap rows
# then cost one round trip per worker instead of ten guided chunks.
SHORT_RUN_S = 0.02
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
    started: float  # parent clock: when the current step began or last delivered a result
    step_size: int  # rows per step, decided by the parent (1, an async group, or all)
    grace: float = 0.0  # extra time for steps that await several rows together
    done: set[int] = field(default_factory=set)
    step_start: int = 0  # first position of the current step
    finished: bool = False  # the worker sent the chunk's last frame
    sent: float = field(default_factory=time.monotonic)  # for the row-time estimate only

    def step(self) -> range:
        return range(
            self.step_start, min(self.step_start + self.step_size, len(self.chunk.indices))
        )

    def in_step(self, pos: int) -> bool:
        end = min(self.step_start + self.step_size, len(self.chunk.indices))
        return self.step_start <= pos < end

    def advance(self) -> None:
        size, total, done = self.step_size, len(self.chunk.indices), self.done
        while self.step_start < total and (
            self.step_start in done  # the common case: one row per step
            if size == 1
            else all(p in done for p in range(self.step_start, min(self.step_start + size, total)))
        ):
            self.step_start += size


def _chunk_size(spec: EvaluatorSpec, remaining: int, workers: int, even: int | None) -> int:
    """Rows for the next chunk: `even` (rows per worker, an equal share of the run) when set,
    else guided scheduling, large first and smaller toward the end, so no worker sits idle
    while another finishes a long last chunk."""
    if spec.kind == "batch":
        return BATCH_CALL_MAX
    if even is not None:
        return max(1, min(MAX_CHUNK, even))
    return max(1, min(MAX_CHUNK, math.ceil(remaining / (workers * 2))))


class Dispatch:
    def __init__(
        self,
        pool: EvaluatorPool,
        spec: EvaluatorSpec,
        rows: list[Row],
        tenant: str | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.pool = pool
        self.cancel = cancel
        self.tenant = (tenant, spec.key)  # a worker serves one evaluator of one tenant
        self.spec = spec
        self.rows = rows
        self.timeout_s = pool.timeout_s
        self.cursor = 0  # rows before this one have been handed out
        self.retry: deque[_Chunk] = deque()  # rows to run again on a fresh worker
        self.inflight: dict[Slot, _Job] = {}
        # Scheduling only (never a deadline): how long this evaluator's rows took before.
        row_s = pool.row_seconds(spec.key)
        short = row_s is not None and row_s * len(rows) <= SHORT_RUN_S
        # Async rows overlap inside a worker: each worker gets an equal share of the whole run
        # (shares of what is left would leave the last rows waiting alone for a second round).
        share = short or spec.entry.is_async
        self.even = math.ceil(len(rows) / pool.size) if share else None

    @property
    def pending(self) -> bool:
        return bool(self.retry) or self.cursor < len(self.rows)

    def _next_chunk(self) -> _Chunk:
        if self.retry:
            return self.retry.popleft()
        size = _chunk_size(self.spec, len(self.rows) - self.cursor, self.pool.size, self.even)
        end = min(self.cursor + size, len(self.rows))
        chunk = _Chunk(list(range(self.cursor, end)))
        self.cursor = end
        return chunk

    def run(self) -> Iterator[tuple[int, SampleResult]]:
        owner = self.tenant[0]
        wanting = False
        try:
            while self.pending or self.inflight:
                if self.pool.closed:
                    raise RuntimeError("the evaluator pool was closed while scoring")
                if self.cancel is not None and self.cancel.is_set():
                    return  # the caller gave up: finally replaces the busy workers
                if self.pending != wanting:  # the pool shares workers among those who want
                    wanting = self.pending
                    self.pool.want(owner, wanting)
                yield from self._fill()
                yield from self._poll()
        finally:
            if wanting:
                self.pool.want(owner, False)
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
                yield from self._settle_dead(slot, self._job(chunk), f"{exc}")
            except BaseException:  # could not even start a process: give the slot back
                self.inflight.pop(slot, None)
                slot.discard()
                self.pool.release(slot)
                raise

    def _send(self, slot: Slot, chunk: _Chunk) -> None:
        if slot.tenant not in (None, self.tenant):
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
        self.inflight[slot] = self._job(chunk)
        process.send(protocol.encode(request))

    def _job(self, chunk: _Chunk) -> _Job:
        """The parent's own plan of how the worker will go through `chunk` (runtime.run)."""
        if self.spec.kind == "batch":
            return _Job(chunk, time.monotonic(), max(1, len(chunk.indices)), ASYNC_GRACE_S)
        if self.spec.entry.is_async and not chunk.solo:
            return _Job(chunk, time.monotonic(), ASYNC_GROUP, ASYNC_GRACE_S)
        return _Job(chunk, time.monotonic(), 1, ASYNC_GRACE_S if self.spec.entry.is_async else 0.0)

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
            except ProtocolBroken as exc:
                yield from self._settle_dead(slot, job, str(exc))
                continue
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
                raise ProtocolBroken(f"broke the protocol: {exc}") from None
            if isinstance(message, protocol.Hello):
                if slot.hello is not None:  # only the runner speaks before user code runs
                    raise ProtocolBroken("broke the protocol: a second hello")
                slot.hello = message
                job.started = job.sent = time.monotonic()  # its clock starts once it is up
                continue
            if len(message.positions) != len(message.results):
                raise ProtocolBroken("broke the protocol: positions and results differ in length")
            slot.recycle = slot.recycle or message.recycle
            fresh = False
            for pos, result in zip(message.positions, message.results, strict=True):
                if pos in job.done:
                    continue  # resent: proves nothing, restarts nothing
                if not job.in_step(pos):
                    raise ProtocolBroken(f"broke the protocol: a result for row {pos} out of turn")
                job.done.add(pos)
                job.advance()
                fresh = True
                yield job.chunk.indices[pos], bound_result(result)
            if fresh:  # only new results for the current step restart the clock
                job.started = time.monotonic()
            job.finished = job.finished or message.done

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
            rows = len(job.chunk.indices)
            self.pool.note_row_seconds(self.spec.key, (time.monotonic() - job.sent) / rows)
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
        # The parent's clock and plan only: nothing the worker writes moves this deadline.
        if now - job.started > self.timeout_s + job.grace:
            return f"timed out after {self.timeout_s:g} s"
        return None

    def _settle_dead(
        self, slot: Slot, job: _Job, cause: str, *, timed_out: bool = False
    ) -> Iterator[tuple[int, SampleResult]]:
        """Kill the worker; fail the row(s) it was on; requeue the rest of its chunk."""
        if slot.process is not None:
            with contextlib.suppress(WorkerGone):  # results sent before dying still count
                yield from self._absorb(slot, job, slot.process.receive())
        # The worker's own account of what it was doing (untrusted) may say WHICH undone rows
        # to blame (results of fast rows wait in its outbox for a few ms, so the parent's
        # current step can be behind), never how long anything may run: it can only move the
        # blame among this evaluator's own rows, and each failure costs at least one of them.
        phase, pos, count, _ = slot.process.progress.read() if slot.process else (0, 0, 0, 0)
        self.inflight.pop(slot, None)
        slot.discard()
        self.pool.release(slot)
        remaining = [p for p in range(len(job.chunk.indices)) if p not in job.done]
        if not remaining:
            return
        claimed: set[int] = set()
        if phase in (protocol.ROW, protocol.GROUP):
            claimed = set(range(pos, pos + max(1, min(count, len(job.chunk.indices)))))
            claimed &= set(remaining)
        blamed = claimed or {p for p in job.step() if p not in job.done}
        isolate = len(blamed) > 1 and self.spec.kind != "batch" and phase != protocol.LOADING
        culprits: set[int]
        if isolate:
            # Several async rows shared the event loop one of them blocked: rerun them one
            # at a time so only the guilty row is charged with the timeout.
            culprits, reason = set(), cause
        else:
            culprits, reason = self._culprits(phase, blamed, remaining, cause, timed_out)
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
        self, phase: int, blamed: set[int], remaining: list[int], cause: str, timed_out: bool
    ) -> tuple[set[int], str]:
        reason = cause if timed_out else f"evaluator process {cause}"
        if phase == protocol.LOADING:
            return set(remaining), f"{reason} (while importing the evaluator)"
        if timed_out or phase in (protocol.ROW, protocol.GROUP):
            return blamed, reason
        return set(), reason  # died between rows: the worker failed, not a row
