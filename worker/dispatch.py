"""Sending work to the workers by task name (the web process never imports worker code)."""

from __future__ import annotations

import logging

from celery import Celery

log = logging.getLogger("rft.dispatch")

TRAIN_TASK = "rft.jobs.train"
PREFLIGHT_TASK = "rft.jobs.preflight"
DEMO_TASK = "rft.demo.build"


def enqueue_job(celery: Celery, job_id: int) -> None:
    """Ring the doorbell for a job. A lost message is harmless: recovery re-sends it."""
    try:
        celery.send_task(TRAIN_TASK, args=[job_id])
    except Exception:  # the broker is only a doorbell: the job row stays queued
        log.exception("could not enqueue job %s; the recovery loop will retry", job_id)
