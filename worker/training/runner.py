"""One job, start to end: claim it, load everything, (resume and) train, record the outcome.

Runs inside a Celery task on the `gpu` queue. A failure anywhere stores a human-readable cause;
a worker that dies leaves a job whose heartbeat stops, which recovery hands to the next worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.storage import Storage
from app.evaluators import EvaluatorPool
from app.models import Dataset, Job
from app.services import base_models, datasets, job_records
from app.tasks import JobSpec
from worker.training.data import split_row, trainer_rows
from worker.training.recorder import Recorder

log = logging.getLogger("rft.training")
VALIDATION_ROWS = 64


@dataclass
class JobContext:
    job_id: int
    owner_id: int
    spec: JobSpec
    model_path: Path
    train_rows: list[dict[str, Any]]
    validation_rows: list[dict[str, Any]]
    resume_step: int | None
    resume_key: str | None


class Phase:
    """What the job is doing now, for failure messages and the stall watchdog."""

    def __init__(self) -> None:
        self.name = "starting"

    def __call__(self, name: str) -> Phase:
        self.name = name
        return self


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _rows(storage: Storage, dataset: Dataset | None) -> list[dict[str, Any]]:
    return list(datasets.iter_rows(storage, dataset)) if dataset is not None else []


def load_context(session: Session, settings: Settings, storage: Storage, job: Job) -> JobContext:
    model = base_models.get_model(settings, job.base_model)
    train = _rows(storage, session.get(Dataset, job.dataset_id) if job.dataset_id else None)
    if not train:
        raise RuntimeError("the training dataset is gone or empty")
    validation_ds = (
        session.get(Dataset, job.validation_dataset_id) if job.validation_dataset_id else None
    )
    validation = []
    for row in _rows(storage, validation_ds)[:VALIDATION_ROWS]:
        prompt, evaluator_row, _reference = split_row(row)
        validation.append({"prompt": prompt, "evaluator_row": evaluator_row})
    checkpoint = job_records.last_checkpoint(session, job)
    if checkpoint is not None:
        job_records.rewind_to(session, job, checkpoint.step)
    return JobContext(
        job_id=job.id,
        owner_id=job.owner_id,
        spec=JobSpec.model_validate(job.spec),
        model_path=model.path,
        train_rows=trainer_rows(train),
        validation_rows=validation,
        resume_step=checkpoint.step if checkpoint else None,
        resume_key=checkpoint.path if checkpoint else None,
    )


def human_cause(phase: str, exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return f"failed while {phase}: {type(exc).__name__}: {first}".rstrip(": ")


class Watchdog(threading.Thread):
    """Fails a job whose progress stops (a hung generation or reward), then ends the process
    so the hung work cannot go on (Celery replaces the process)."""

    def __init__(self, seconds: float, last_progress: Any, on_stall: Any) -> None:
        super().__init__(name="stall-watchdog", daemon=True)
        self.seconds, self.last_progress, self.on_stall = seconds, last_progress, on_stall
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(min(5.0, self.seconds / 4)):
            idle = time.monotonic() - self.last_progress()
            if idle > self.seconds:
                self.on_stall(idle)
                return


def run_job(job_id: int, settings: Settings, *, exit_on_stall: bool = True) -> str:
    from worker.training.trainer import preload

    engine = make_engine(settings.database)
    factory = make_session_factory(engine)
    storage = Storage.from_settings(settings)
    try:
        with factory() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued":  # a duplicate or stale message: no work
                return "not claimed (gone, already taken, finished or cancelled)"
        preload()
        me = worker_name()
        with transaction(factory) as session:
            job = job_records.claim(session, job_id, me)
            if job is None:
                return "not claimed (already taken, finished or cancelled)"
        return _run_claimed(job_id, me, settings, factory, storage, exit_on_stall)
    finally:
        engine.dispose()


def _run_claimed(
    job_id: int,
    me: str,
    settings: Settings,
    factory: sessionmaker[Session],
    storage: Storage,
    exit_on_stall: bool,
) -> str:
    from worker.training.trainer import train

    phase = Phase()
    recorder = Recorder(factory, job_id, me).start()
    pool = EvaluatorPool(
        timeout_s=settings.evaluator_timeout_seconds, memory_bytes=settings.evaluator_memory_bytes
    )
    status, cause = "failed", None
    try:
        phase("reading the job and its datasets")
        with transaction(factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            context = load_context(session, settings, storage, job)
        status = train(context, settings, storage, recorder, pool, phase, exit_on_stall)
    except Exception as exc:
        log.exception("job %s failed while %s", job_id, phase.name)
        cause = human_cause(phase.name, exc)
    finally:
        pool.close()
        recorder.stop()
        with transaction(factory) as session:
            job_records.finish(session, job_id, status, cause, worker=me)
    return "lost to another worker" if recorder.lost else status
