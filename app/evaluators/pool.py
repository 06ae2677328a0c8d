"""EvaluatorPool: persistent sandboxed workers that score samples with an evaluator.

    with EvaluatorPool(timeout_s=10.0) as pool:
        results = pool.score(code_or_spec, samples)            # list[SampleResult], in order
        for index, result in pool.score_iter(code, samples):   # as rows finish, any order
            ...

Thread-safe: workers are checked out chunk by chunk under a condition variable, so the web
app's threadpool and a training callback can share one pool.

A worker serves one evaluator version of one tenant. At most `size` run at once, but up to
`max_workers` stay alive, so a job with two evaluators (or a preview next to a training run)
switches between live workers instead of restarting one (0.3-0.7 s) on every switch. When all
are alive, the least recently used idle one is replaced; live workers beyond `size` that sat
idle for `idle_evict_s` are stopped.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from . import protocol
from .contract import EvaluatorSpec, load_evaluator_spec
from .protocol import Hello
from .runtime import CACHE_SIZE
from .sandbox import Launcher, Limits, WorkerGone, WorkerProcess, next_uid
from .scheduler import Dispatch, Row
from .values import Sample, SampleResult

log = logging.getLogger(__name__)

UNSAFE_SETTING = "RFT_UNSAFE_NO_SANDBOX"
WORKERS_PER_CPU = 4  # default max_workers per running worker: live (tenant, version) pairs
IDLE_EVICT_S = 60.0
ROW_TIME_KEYS = 256  # evaluators whose row time the pool remembers


def isolation_in_force(unsafe_no_sandbox: bool | None = None) -> str:
    """What a pool started now would use: "bubblewrap", "rlimits-only" (the operator opted
    in to running without a sandbox) or "disabled" (no sandbox: evaluators do not run)."""
    if Launcher(Limits(), None).isolation == "bubblewrap":
        return "bubblewrap"
    if unsafe_no_sandbox is None:
        unsafe_no_sandbox = unsafe_opt_in()
    return "rlimits-only" if unsafe_no_sandbox else "disabled"


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot contain evaluators here and the operator has not opted out of it."""


def unsafe_opt_in() -> bool:
    """The operator's explicit choice to run untrusted code without bubblewrap."""
    return os.environ.get(UNSAFE_SETTING, "").strip().lower() in {"1", "true", "yes", "on"}


Evaluator = str | Mapping[str, Any] | EvaluatorSpec
Tenancy = tuple[str | None, str]  # (tenant, evaluator key): who may share a worker process


class Slot:
    """A place for one worker process; the process is replaced when it dies or is killed."""

    def __init__(self, launcher: Launcher, *, network: bool) -> None:
        self.launcher = launcher
        self.network = network
        self.uid = next_uid()
        self.process: WorkerProcess | None = None
        self.hello: Hello | None = None
        self.recycle = False  # the worker asked to be replaced after its current chunk
        self.holder: str | None = None  # the tenant that has it checked out
        # Whose code this worker has run: (tenant, evaluator key). Code can leave state behind
        # in a process (patched modules, globals), so a worker serves one evaluator version of
        # one tenant, never another (one evaluator could otherwise patch another's functions).
        self.tenant: Tenancy | None = None
        # Mirror of the worker's evaluator LRU, so each evaluator's code is sent only once.
        self._loaded: OrderedDict[str, None] = OrderedDict()
        self.idle_since = time.monotonic()  # when it was last given back to the pool

    def ensure_started(self) -> WorkerProcess:
        if self.process is None:
            self.process = WorkerProcess(self.launcher, self.uid, network=self.network)
            self.hello = None
            self._loaded.clear()
        return self.process

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Start the process and read its hello (before any user code: nothing to distrust
        yet beyond the frame caps). A worker that fails to start is discarded."""
        process = self.ensure_started()
        deadline = time.monotonic() + timeout_s
        try:
            while self.hello is None and time.monotonic() < deadline:
                readable, _, _ = select.select([process.read_fd], [], [], 0.1)
                for body in process.receive() if readable else []:
                    message = protocol.reply_decoder.decode(body)
                    if isinstance(message, Hello):
                        self.hello = message
        except (WorkerGone, msgspec.DecodeError) as exc:
            log.warning("an evaluator worker failed to start: %s", exc)
            self.discard()

    def remember(self, key: str) -> bool:
        """Record that the worker will hold `key`; True when it must be sent the code."""
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return False
        self._loaded[key] = None
        if len(self._loaded) > CACHE_SIZE:
            self._loaded.popitem(last=False)
        return True

    def exit_reason(self) -> str:
        return self.process.exit_reason() if self.process else "is not running"

    def discard(self) -> None:
        if self.process is not None:
            self.process.kill()
        self.process = None
        self.hello = None
        self.recycle = False
        self.tenant = None  # the next process is clean
        self._loaded.clear()


def _as_row(sample: Sample | Mapping[str, Any]) -> Row:
    if isinstance(sample, Sample):
        return sample.row, sample.completion
    if isinstance(sample, Mapping):
        return dict(sample), None
    raise TypeError(f"expected Sample or a row dict, got {type(sample).__name__}")


class EvaluatorPool:
    """A pool of sandboxed evaluator workers. `isolation` says how well they are contained."""

    def __init__(
        self,
        size: int | None = None,
        timeout_s: float = 10.0,
        memory_bytes: int = 1 << 30,
        *,
        allow_network: bool = False,
        llm_endpoint: Mapping[str, str] | None = None,
        use_bwrap: bool | None = None,
        nproc: int = 64,
        unsafe_no_sandbox: bool | None = None,
        per_owner: int | None = None,
        envs_dir: str | None = None,
        max_workers: int | None = None,
        idle_evict_s: float = IDLE_EVICT_S,
    ) -> None:
        """size: workers (default os.cpu_count()); timeout_s: wall-clock limit per row (per
        call for batch evaluators); allow_network: run evaluators that declare
        NEEDS_NETWORK = True (and score_model graders) in workers that keep the network;
        llm_endpoint: {"base_url", "api_key", "model"} for score_model graders;
        use_bwrap: None = when it works, True = require it, False = never;
        unsafe_no_sandbox: allow running without bubblewrap (rlimits, seccomp and a uid of
        its own only: the code sees the host file system). None reads RFT_UNSAFE_NO_SANDBOX.
        Without bubblewrap and without this opt-in the pool refuses to start
        (SandboxUnavailable): untrusted code never runs unconfined by accident;
        per_owner: workers one tenant may hold at once (default: all of them).
        While several tenants want workers, each gets an equal share first;
        envs_dir: where declared-requirement environments are (bound read-only);
        max_workers: worker processes kept alive, each for one (tenant, evaluator version)
        (default 4 x size, at least size); idle_evict_s: live workers beyond `size` idle this
        long are stopped."""
        self.size = max(1, size or os.cpu_count() or 1)
        self.timeout_s = float(timeout_s)
        self.allow_network = allow_network
        self.llm_endpoint = dict(llm_endpoint) if llm_endpoint else None
        limits = Limits(memory_bytes=memory_bytes, nproc=nproc)
        self._launcher = Launcher(limits, use_bwrap, envs_dir)
        self.isolation: str = self._launcher.isolation
        if unsafe_no_sandbox is None:
            unsafe_no_sandbox = unsafe_opt_in()
        if self.isolation != "bubblewrap" and not unsafe_no_sandbox:
            raise SandboxUnavailable(
                "bubblewrap cannot create a sandbox here, so evaluator code will not run: "
                f"install bubblewrap, or set {UNSAFE_SETTING}=true to run it with rlimits, "
                "seccomp and its own uid only (it can then read the host file system)"
            )
        if self.isolation != "bubblewrap":
            log.warning(
                "EVALUATOR ISOLATION REDUCED: bubblewrap is not available, evaluators run with "
                "rlimits, a seccomp filter and their own uid only; they can read the host file "
                "system. Install bubblewrap (apt-get install bubblewrap)."
            )
        self.max_workers = max(self.size, max_workers or WORKERS_PER_CPU * self.size)
        self.idle_evict_s = idle_evict_s
        self._cond = threading.Condition()
        # More slots are added on demand, up to max_workers; `size` of them run at once.
        self._slots = {False: [Slot(self._launcher, network=False) for _ in range(self.size)]}
        if allow_network:
            self._slots[True] = [Slot(self._launcher, network=True) for _ in range(self.size)]
        self._idle = {network: list(slots) for network, slots in self._slots.items()}
        self._busy: Counter[bool] = Counter()  # slots checked out, per kind
        self._row_seconds: OrderedDict[str, float] = OrderedDict()
        self._closed = False
        self.per_owner = max(1, per_owner or self.size)
        self._held: Counter[str | None] = Counter()  # workers checked out, per tenant
        self._wanting: Counter[str | None] = Counter()  # runs with rows still to hand out

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> EvaluatorPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the (non-network) workers now instead of on first use. They stay clean (no
        user code) until the first tenant's run takes them."""
        with self._cond:
            for slot in self._idle[False]:
                slot.wait_ready()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for slots in self._slots.values():
                for slot in slots:
                    slot.discard()
            self._cond.notify_all()

    def checkout(self, network: bool, *, wait: bool, tenant: Tenancy | None = None) -> Slot | None:
        """A slot to run `tenant`'s chunk on: preferably a live one already serving `tenant`,
        then a clean one, then a new one; at max_workers the least recently used idle one
        (the caller restarts a slot that served another). None when `size` are busy (or the
        tenant has its share) and `wait` is False."""
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the evaluator pool is closed")
                owner = tenant[0] if tenant else None
                if self._busy[network] < self.size and self._may_take(owner):
                    slot = self._pick(network, tenant)
                    self._busy[network] += 1
                    slot.holder = owner
                    self._held[owner] += 1
                    return slot
                if not wait:
                    return None
                self._cond.wait()

    def _pick(self, network: bool, tenant: Tenancy | None) -> Slot:
        """Take a slot out of the idle list (oldest first), or add one (lock held)."""
        idle = self._idle[network]
        same = [slot for slot in idle if slot.tenant == tenant]
        # Clean: no user code ran in it yet; a started one saves a start-up.
        clean = sorted((s for s in idle if s.tenant is None), key=lambda s: s.process is not None)
        if same or clean:
            slot = (same or clean)[-1]
        elif len(self._slots[network]) < self.max_workers or not idle:
            slot = Slot(self._launcher, network=network)
            self._slots[network].append(slot)
            return slot
        else:
            slot = idle[0]  # least recently used: the caller replaces its process
        idle.remove(slot)
        return slot

    def _may_take(self, owner: str | None) -> bool:
        """Fair share: one tenant never holds more than `per_owner` workers, and while other
        tenants want workers, it takes one beyond an equal share only if they all have theirs
        (so a freed worker goes to whoever is furthest behind: round-robin between users)."""
        held = self._held[owner]
        if held >= self.per_owner:
            return False
        others = [o for o, n in self._wanting.items() if n > 0 and o != owner]
        share = max(1, self.size // (len(others) + 1))
        return held < share or all(self._held[o] >= share for o in others)

    def want(self, owner: str | None, wanting: bool) -> None:
        """A run of `owner` starts or stops wanting workers (it has rows to hand out)."""
        with self._cond:
            self._wanting[owner] += 1 if wanting else -1
            if self._wanting[owner] <= 0:
                del self._wanting[owner]
            self._cond.notify_all()

    def release(self, slot: Slot) -> None:
        with self._cond:
            if self._closed:
                slot.discard()
            self._held[slot.holder] -= 1
            if self._held[slot.holder] <= 0:
                del self._held[slot.holder]
            self._busy[slot.network] -= 1
            slot.idle_since = time.monotonic()
            self._idle[slot.network].append(slot)
            self._stop_idle_extras(slot.network, slot.idle_since)
            self._cond.notify_all()

    def _stop_idle_extras(self, network: bool, now: float) -> None:
        """Stop live workers beyond `size` that sat idle for idle_evict_s, oldest first
        (lock held; SIGKILL to a worker that is waiting for input ends it at once)."""
        live = sum(slot.process is not None for slot in self._slots[network])
        for slot in list(self._idle[network]):  # least recently used first
            if live <= self.size:
                return
            if slot.process is not None and now - slot.idle_since >= self.idle_evict_s:
                slot.discard()
                live -= 1

    def row_seconds(self, key: str) -> float | None:
        """How long a row of evaluator `key` took lately (parent's clock, whole chunks):
        used to size chunks, never for a deadline."""
        with self._cond:
            return self._row_seconds.get(key)

    def note_row_seconds(self, key: str, seconds: float) -> None:
        with self._cond:
            before = self._row_seconds.pop(key, None)
            self._row_seconds[key] = seconds if before is None else 0.7 * before + 0.3 * seconds
            if len(self._row_seconds) > ROW_TIME_KEYS:
                self._row_seconds.popitem(last=False)

    def score(
        self,
        evaluator: Evaluator,
        samples: Iterable[Sample | Mapping[str, Any]],
        *,
        tenant: str | None = None,
    ) -> list[SampleResult]:
        """Score every sample; results in sample order.

        tenant: who owns the evaluator (e.g. a user id). A worker is reused only for the same
        evaluator of the same tenant, so no code can tamper with the process that scores
        another user's or another evaluator's rows."""
        rows = [_as_row(sample) for sample in samples]
        results: list[SampleResult | None] = [None] * len(rows)
        for index, result in self._iter(evaluator, rows, tenant):
            results[index] = result
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # never expected: every row ends scored, failed or timed out
            raise RuntimeError(f"no result for rows {missing[:10]}")
        return [r for r in results if r is not None]

    def score_iter(
        self,
        evaluator: Evaluator,
        samples: Iterable[Sample | Mapping[str, Any]],
        *,
        tenant: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, SampleResult]]:
        """Yield (index, result) as rows finish, in any order (for streaming to the IDE).

        cancel: once set (e.g. the client went away), the run stops within a poll interval,
        its workers are replaced and iteration ends early."""
        rows = [_as_row(sample) for sample in samples]
        return self._iter(evaluator, rows, tenant, cancel)

    def _iter(
        self,
        evaluator: Evaluator,
        rows: list[Row],
        tenant: str | None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, SampleResult]]:
        spec = load_evaluator_spec(evaluator)  # EvaluatorCodeError before any work starts
        if spec.needs_network and not self.allow_network:
            reason = (
                "this evaluator needs network access (it declares NEEDS_NETWORK or uses a "
                "score_model grader), but the pool runs with allow_network=False"
            )
            return iter([(i, SampleResult.invalid(reason)) for i in range(len(rows))])
        if not rows:
            return iter([])
        return Dispatch(self, spec, rows, tenant, cancel).run()

    def worker_info(self) -> list[dict[str, Any]]:
        """What each started worker reported about its sandbox (uid, seccomp, problems)."""
        with self._cond:
            return [
                {"uid": s.hello.uid, "seccomp": s.hello.seccomp, "problems": s.hello.problems}
                for slots in self._slots.values()
                for s in slots
                if s.hello is not None
            ]
