"""Completions for the evaluator IDE's preview, made by the model server's engine (batched
decoding, LoRA adapters of a base), kept loaded in this worker process between previews.

Every row is submitted at once: the engine decodes them together in batches, and each row's
completions are handed to ``store`` as soon as that row is finished, in whatever order rows
finish. The engine is closed after ENGINE_IDLE_SECONDS without a preview (its memory is the
training jobs' too).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core.config import Settings
from app.core.storage import Storage
from app.services import base_models
from app.tasks import SampledRow, SamplePrompts
from worker.serving.protocol import Event, GenerationRequest, Sampling
from worker.serving.registry import adapter_folder, make_engine

log = logging.getLogger("rft.serving")
ENGINE_IDLE_SECONDS = 300.0
_POLL_S = 0.25

_lock = threading.Lock()
_engines: dict[str, Any] = {}  # base model name -> engine (one base at a time)
_last_used = 0.0
_reaper: threading.Thread | None = None


def _engine(settings: Settings, base: str) -> Any:
    global _last_used, _reaper
    with _lock:
        _last_used = time.monotonic()
        engine = _engines.get(base)
        if engine is None:
            _close_all()  # another base was loaded: one model in memory is enough
            engine = make_engine(base_models.get_model(settings, base).path, settings)
            _engines[base] = engine
        if _reaper is None:
            _reaper = threading.Thread(target=_reap_idle, name="sampling-reaper", daemon=True)
            _reaper.start()
        return engine


def _close_all() -> None:
    for engine in _engines.values():
        engine.close()
    _engines.clear()


def _reap_idle() -> None:
    while True:
        time.sleep(ENGINE_IDLE_SECONDS / 4)
        with _lock:
            if _engines and time.monotonic() - _last_used > ENGINE_IDLE_SECONDS:
                log.info("closing the preview engine after %.0f s idle", ENGINE_IDLE_SECONDS)
                _close_all()


def _prompt_ids(engine: Any, row: dict[str, Any]) -> list[int]:
    """The row's prompt as training formats it: text as is, messages through the chat template
    (a trailing reference answer left out)."""
    from worker.training.data import split_row

    prompt, _, _ = split_row(row)
    if isinstance(prompt, str):
        ids: list[int] = engine.encode_prompt(prompt)
    elif not engine.has_chat_template:
        raise ValueError("this model has no chat template: a chat prompt cannot be formatted")
    else:
        ids = engine.encode_chat(prompt)
    engine.check_prompt(ids)
    return ids


class _Collector:
    """Gathers one row's n completions from the engine's events; says when the row is done."""

    def __init__(self, position: int, n: int, done: queue.Queue[int]) -> None:
        self.position, self.n, self.done = position, n, done
        self.texts = [""] * n
        self.ended = 0
        self.error: str | None = None

    def emit(self, event: Event) -> None:
        kind = event["type"]
        if kind == "delta":
            self.texts[event["index"]] += event["text"]
        elif kind == "end":
            self.ended += 1
            if self.ended == self.n:
                self.done.put(self.position)
        elif kind == "error":
            self.error = str(event["message"])
            self.done.put(self.position)

    def row(self) -> SampledRow:
        if self.error is not None:
            return SampledRow(error=f"generation failed: {self.error}")
        return SampledRow(completions=self.texts)


def sample(
    request: SamplePrompts,
    settings: Settings,
    store: Callable[[int, SampledRow], None],
    cancelled: Callable[[], bool],
) -> int:
    """Generate ``request.n`` completions per row; ``store(position, row)`` as each finishes.
    Returns how many rows were stored (fewer when cancelled)."""
    engine = _engine(settings, request.base_model)
    adapter: int | None = None
    if request.checkpoint_id is not None and request.adapter_key is not None:
        storage = Storage.from_settings(settings)
        local = f"checkpoint-{request.checkpoint_id}"
        engine.load_adapter(
            request.checkpoint_id, adapter_folder(settings, storage, request.adapter_key, local)
        )
        adapter = request.checkpoint_id
    sampling = Sampling(n=request.n, temperature=request.temperature, max_tokens=request.max_tokens)
    done: queue.Queue[int] = queue.Queue()
    collectors: dict[int, _Collector] = {}
    stored = 0
    for position, row in enumerate(request.rows):
        try:
            ids = _prompt_ids(engine, row)
        except Exception as exc:  # this row cannot be generated for: say why, go on
            store(position, SampledRow(error=f"{type(exc).__name__}: {exc}"))
            stored += 1
            continue
        collector = _Collector(position, request.n, done)
        collectors[position] = collector
        engine.submit(GenerationRequest(adapter, ids, sampling, collector.emit, cancelled))
    while collectors and not cancelled():
        try:
            position = done.get(timeout=_POLL_S)
        except queue.Empty:
            continue
        store(position, collectors.pop(position).row())
        stored += 1
    log.info("preview sampling: %d/%d rows stored", stored, len(request.rows))
    return stored


def watch_cancel(is_cancelled: Callable[[], bool]) -> tuple[threading.Event, Callable[[], None]]:
    """An event set once ``is_cancelled()`` (polled in a thread) says so; call the returned
    function to stop polling."""
    flag, stop = threading.Event(), threading.Event()

    def poll() -> None:
        while not stop.wait(_POLL_S * 2):
            try:
                if is_cancelled():
                    flag.set()
                    return
            except Exception:  # the result backend hiccuped: ask again next time
                log.warning("could not read the preview's cancel flag", exc_info=True)

    threading.Thread(target=poll, name="sampling-cancel", daemon=True).start()
    return flag, stop.set
