"""What a job runs with: its validated spec, model and rows (read from the database before
training starts), what it is doing now, and the watchdog that fails it when progress stops."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.storage import Storage
from app.models import Dataset, Job
from app.services import base_models, datasets, job_records
from app.tasks import JobSpec
from worker.training.data import trainer_rows

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
    validation = trainer_rows(_rows(storage, validation_ds)[:VALIDATION_ROWS])
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
