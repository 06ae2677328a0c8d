"""Recovery loop of every worker: jobs whose worker died are resumed, lost doorbells re-rung.

Runs in the worker's main process (a thread started when Celery is ready). Several workers may
run it at once: claiming a job is atomic, so a duplicate message is a no-op.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.services import job_records
from app.tasks import enqueue_job

log = logging.getLogger("rft.recovery")


def recover_once(settings: Settings, celery: Celery) -> list[int]:
    engine = make_engine(settings.database)
    try:
        with transaction(make_session_factory(engine)) as session:
            ids = job_records.recover(
                session,
                stale_before=job_records.stale_cutoff(settings.job_stale_seconds),
                ring_before=job_records.stale_cutoff(settings.job_ring_seconds),
                max_attempts=settings.job_max_attempts,
            )
    finally:
        engine.dispose()
    for job_id in ids:
        log.warning("job %s: sending it to the workers again", job_id)
        enqueue_job(celery, job_id)
    return ids


def start_recovery_loop(settings: Settings, celery: Celery) -> threading.Event:
    stop = threading.Event()
    interval = max(1.0, min(15.0, settings.job_stale_seconds / 3))

    def loop() -> None:
        while not stop.wait(interval):
            try:
                recover_once(settings, celery)
            except Exception:
                log.exception("recovery pass failed; retrying in %.0f s", interval)

    threading.Thread(target=loop, name="job-recovery", daemon=True).start()
    return stop
