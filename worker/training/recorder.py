"""Persists what a job produces without slowing its training thread.

The training thread only appends to in-memory lists; a background thread writes them in one
transaction every ``interval`` seconds (metrics, completions, logs, events, progress and the
heartbeat) and reads back the job's control flags (cancel, evaluator changes).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.services import job_records

log = logging.getLogger("rft.recorder")


class Recorder:
    def __init__(
        self, factory: sessionmaker[Session], job_id: int, worker: str, interval: float = 0.5
    ) -> None:
        self.factory, self.job_id, self.worker, self.interval = factory, job_id, worker, interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{job_id}", daemon=True)
        self._reset()
        self.step = 0
        self.total_steps: int | None = None
        self.cancel_requested = False
        self.lost = False  # another worker holds the job now: stop without a word
        self.evaluators: tuple[int, list[dict[str, Any]]] | None = None  # (revision, pinned)

    def _reset(self) -> None:
        self._metrics: list[tuple[str, int, dict[str, float]]] = []
        self._completions: list[dict[str, Any]] = []
        self._logs: list[dict[str, Any]] = []
        self._events: list[tuple[str, dict[str, Any]]] = []

    def metric(self, kind: str, step: int, values: dict[str, float]) -> None:
        with self._lock:
            self._metrics.append((kind, step, values))

    def completion(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._completions.append(item)

    def log(self, step: int, level: str, source: str, message: str) -> None:
        with self._lock:
            self._logs.append({"step": step, "level": level, "source": source, "message": message})

    def event(self, type_: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._events.append((type_, data))

    def progress(self, step: int, total_steps: int | None) -> None:
        self.step, self.total_steps = step, total_steps

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # a database hiccup: keep the records and try again
                log.exception("job %s: could not save records; retrying", self.job_id)

    def flush(self) -> None:
        with self._lock:
            batch = (self._metrics, self._completions, self._logs, self._events)
            self._reset()
        try:
            with transaction(self.factory) as session:
                job = job_records.save_batch(
                    session,
                    self.job_id,
                    step=self.step,
                    total_steps=self.total_steps,
                    metrics=batch[0],
                    completions=batch[1],
                    logs=batch[2],
                    events=batch[3],
                    worker=self.worker,
                )
                if job is None or not job_records.owns(job, self.worker):
                    self.lost = True
                else:
                    self._read_flags(job.cancel_requested, job.spec)
        except Exception:
            with self._lock:  # put them back in front, in order
                self._metrics[:0], self._completions[:0] = batch[0], batch[1]
                self._logs[:0], self._events[:0] = batch[2], batch[3]
            raise

    def _read_flags(self, cancel: bool, spec: dict[str, Any]) -> None:
        self.cancel_requested = cancel
        revision = int(spec.get("evaluators_revision", 1))
        if self.evaluators is None or self.evaluators[0] != revision:
            self.evaluators = (revision, list(spec.get("evaluators", [])))
