"""Load an evaluator and score rows with it — the part of the worker that touches user code.

No sandboxing here: sandbox_worker.py sets that up before any of this module runs. Kept apart so
the same code scores rows in the sandbox and in-process (benchmarks, the serial baseline).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from . import graders
from .calls import BatchLog, Part, batch_call, invoke, make_part
from .capture import USER_FILENAME, OutputCapture, format_user_error, register_source
from .environment import missing_import_hint, use_env
from .loader import exec_module, forget_module
from .rows import RowError, Turn, split_row
from .validate import judge, judge_batch, merge_components
from .values import Component, EntryPointInfo, SampleResult

ASYNC_GROUP = 64  # async rows awaited together; the watchdog then covers the group
CACHE_SIZE = 8  # evaluators kept compiled per worker (the pool mirrors this LRU)
Emit = Callable[[int, SampleResult], None]


class Progress(Protocol):
    """Where the worker tells the parent's watchdog what it is doing."""

    def load(self) -> None: ...
    def row(self, pos: int) -> None: ...
    def group(self, pos: int, count: int) -> None: ...
    def idle(self) -> None: ...


class NullProgress:
    def load(self) -> None: ...
    def row(self, pos: int) -> None: ...
    def group(self, pos: int, count: int) -> None: ...
    def idle(self) -> None: ...


def install_reward_kit() -> None:
    """Make `reward_kit` and its public modules importable (see reward_kit_shim)."""
    from . import reward_kit_shim
    from .reward_kit_shim import functions, models, rewards, typed_interface
    from .reward_kit_shim.rewards import accuracy, accuracy_length, length
    from .reward_kit_shim.rewards import format as format_module
    from .reward_kit_shim.rewards import math as math_module

    sys.modules.update(
        {
            "reward_kit": reward_kit_shim,
            "reward_kit.models": models,
            "reward_kit.typed_interface": typed_interface,
            "reward_kit.reward_function": functions,
            "reward_kit.rewards": rewards,
            "reward_kit.rewards.length": length,
            "reward_kit.rewards.format": format_module,
            "reward_kit.rewards.accuracy": accuracy,
            "reward_kit.rewards.accuracy_length": accuracy_length,
            "reward_kit.rewards.math": math_module,
        }
    )


@dataclass
class Loaded:
    entry: EntryPointInfo
    parts: list[Part]  # one per reward function (component)
    source: str | None
    module: types.ModuleType | None


@dataclass
class LoadFailure:
    result: SampleResult


def _failure(exc: BaseException, prefix: str = "", called_as: str = "") -> SampleResult:
    try:
        error, line = format_user_error(exc)
    except MemoryError:  # nothing left to format with: say what we can
        return SampleResult(reason=f"{prefix}{type(exc).__name__}", error=type(exc).__name__)
    summary = error.strip().splitlines()[-1] if error.strip() else type(exc).__name__
    if called_as and isinstance(exc, TypeError):  # most often a signature mismatch
        summary = f"{summary} ({called_as})"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        summary = f"{summary}: {missing_import_hint(exc.name)}"
    return SampleResult(
        reason=f"{prefix}{summary}", is_score_valid=False, error=error, error_line=line
    )


def load(key: str, payload: Mapping[str, Any], llm: Mapping[str, Any] | None) -> Loaded:
    """Compile the evaluator once; raises whatever user code raises at import time."""
    entry: EntryPointInfo = payload["entry"]
    if entry.env:
        use_env(entry.env)
    if entry.kind == "grader_spec":
        grade = graders.build(payload["grader"], key, llm)
        return Loaded(entry, [Part("grader_spec", entry.name, grade, False, None, ())], None, None)
    source: str = payload["code"]
    module = exec_module(source, key)
    components = entry.components or (Component(entry.kind, entry.name, entry.line),)
    try:
        parts = [make_part(c.kind, c.name, getattr(module, c.name, None)) for c in components]
    except BaseException:
        forget_module(module)
        raise
    return Loaded(entry, parts, source, module)


class Runtime:
    """Scores chunks of rows with cached evaluators, reporting progress as it goes."""

    def __init__(self, progress: Progress | None = None, capture: OutputCapture | None = None):
        self.progress: Progress = progress or NullProgress()
        self.capture = capture or OutputCapture()
        self.cache: OrderedDict[str, Loaded | LoadFailure] = OrderedDict()
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()

    def _get(self, key: str, payload: Mapping[str, Any] | None, llm: Any) -> Loaded | LoadFailure:
        cached = self.cache.get(key)
        if cached is not None:
            self.cache.move_to_end(key)
            return cached
        if payload is None:
            return LoadFailure(SampleResult.invalid("internal: evaluator not sent to this worker"))
        self.progress.load()
        token = self.capture.begin()
        try:
            found: Loaded | LoadFailure = load(key, payload, llm)
        except BaseException as exc:
            found = LoadFailure(_failure(exc, "evaluator failed to load: "))
        finally:
            self._leave_if_forked()
            import_output = self.capture.end(token)
        if isinstance(found, LoadFailure):
            found.result.stdout = import_output
        self.cache[key] = found
        if len(self.cache) > CACHE_SIZE:
            _, evicted = self.cache.popitem(last=False)
            if isinstance(evicted, Loaded) and evicted.module is not None:
                forget_module(evicted.module)
        return found

    def run(
        self,
        key: str,
        payload: Mapping[str, Any] | None,
        rows: list[Any],
        timeout_s: float,
        emit: Emit,
        llm: Mapping[str, Any] | None = None,
        *,
        async_group: int = ASYNC_GROUP,
    ) -> None:
        """Score `rows` ([row, completion] pairs); emit(pos, result) for each one."""
        ev = self._get(key, payload, llm)
        try:
            if isinstance(ev, LoadFailure):
                for pos in range(len(rows)):
                    emit(pos, msgspec.structs.replace(ev.result))
                return
            if ev.source is not None:  # tracebacks show this evaluator's lines
                register_source(USER_FILENAME, ev.source)
            if len(ev.parts) == 1:
                self._run_part(ev.parts[0], rows, timeout_s, emit, async_group)
            else:
                self._run_components(ev.parts, rows, timeout_s, emit, async_group)
        finally:
            self.progress.idle()

    def _run_part(
        self, part: Part, rows: list[Any], timeout_s: float, emit: Emit, async_group: int
    ) -> None:
        if part.kind == "batch":
            self._run_batch(part, rows, timeout_s, emit)
        elif part.is_async:
            for start in range(0, len(rows), async_group):
                self._run_group(part, rows[start : start + async_group], start, timeout_s, emit)
        else:
            self._run_each(part, rows, timeout_s, emit)

    def _run_components(
        self, parts: list[Part], rows: list[Any], timeout_s: float, emit: Emit, async_group: int
    ) -> None:
        """Every reward function on every row (the preview of a module with several)."""
        per_part: list[list[SampleResult]] = []
        for part in parts:
            found: list[SampleResult | None] = [None] * len(rows)

            def keep(pos: int, result: SampleResult, found: list[Any] = found) -> None:
                found[pos] = result

            self._run_part(part, rows, timeout_s, keep, async_group)
            self.progress.group(0, len(rows))  # the merge below is ours, not user code
            per_part.append([r or SampleResult.invalid("internal: no result") for r in found])
        for pos in range(len(rows)):
            emit(pos, merge_components([p.name for p in parts], [r[pos] for r in per_part]))

    def _leave_if_forked(self) -> None:
        # A child forked by user code must never go on to speak the parent's protocol.
        if os.getpid() != self.pid:
            os._exit(0)

    def _settle(self, value: Any, timeout_s: float) -> Any:
        if inspect.isawaitable(value):  # a sync wrapper that hands back a coroutine
            return self.loop.run_until_complete(asyncio.wait_for(value, timeout_s))
        return value

    def _run_each(self, ev: Part, rows: list[Any], timeout_s: float, emit: Emit) -> None:
        capture, perf = self.capture, time.perf_counter
        for pos, (row, completion) in enumerate(rows):
            self.progress.row(pos)
            token = capture.begin()
            started = perf()
            try:
                value = self._settle(invoke(ev, split_row(row, completion)), timeout_s)
                result = judge(value, ev.kind)
            except RowError as exc:
                result = SampleResult.invalid(str(exc))
            except BaseException as exc:
                result = _failure(exc, "raised ", ev.called_as())
            finally:
                self._leave_if_forked()
            result.duration_ms = (perf() - started) * 1000.0
            result.stdout = capture.end(token)
            emit(pos, result)

    async def _one_async(self, ev: Part, row: Any, completion: Any, timeout_s: float) -> Any:
        token = self.capture.begin()  # each gathered task has its own context, so its own output
        started = time.perf_counter()
        try:
            value = invoke(ev, split_row(row, completion))
            if inspect.isawaitable(value):
                value = await asyncio.wait_for(value, timeout_s)
            result = judge(value, ev.kind)
        except RowError as exc:
            result = SampleResult.invalid(str(exc))
        except TimeoutError:
            result = SampleResult.invalid(f"timed out after {timeout_s:g} s")
        except BaseException as exc:
            result = _failure(exc, "raised ", ev.called_as())
        finally:
            self._leave_if_forked()
        result.duration_ms = (time.perf_counter() - started) * 1000.0
        result.stdout = self.capture.end(token)
        return result

    def _run_group(
        self, ev: Part, group: list[Any], start: int, timeout_s: float, emit: Emit
    ) -> None:
        self.progress.group(start, len(group))
        coroutines = [self._one_async(ev, row, completion, timeout_s) for row, completion in group]

        async def gather() -> list[Any]:
            return await asyncio.gather(*coroutines)

        for offset, result in enumerate(self.loop.run_until_complete(gather())):
            emit(start + offset, result)

    def _run_batch(self, ev: Part, rows: list[Any], timeout_s: float, emit: Emit) -> None:
        self.progress.group(0, len(rows))
        turns: list[Turn] = []
        positions: list[int] = []
        for pos, (row, completion) in enumerate(rows):
            try:
                turns.append(split_row(row, completion))
                positions.append(pos)
            except RowError as exc:
                emit(pos, SampleResult.invalid(str(exc)))
        if not turns:
            return
        token = self.capture.begin()
        started = time.perf_counter()
        log = BatchLog()
        try:
            results = judge_batch(self._settle(batch_call(ev, turns, log), timeout_s), len(turns))
            log.apply(results)
        except BaseException as exc:
            failure = _failure(exc, "raised ", ev.called_as())
            results = [
                SampleResult(
                    reason=failure.reason, error=failure.error, error_line=failure.error_line
                )
                for _ in turns
            ]
        finally:
            self._leave_if_forked()
        share = (time.perf_counter() - started) * 1000.0 / len(turns)
        results[0].stdout = self.capture.end(token)  # the call's output, shown once
        for pos, result in zip(positions, results, strict=True):
            result.duration_ms = share
            emit(pos, result)
