"""Celery tasks: thin wrappers that take ids and call worker code."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from celery import shared_task

from app.core.config import Settings


def _pong(sent_at: float) -> dict[str, object]:
    return {
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "received_after_ms": round((time.time() - sent_at) * 1000, 1),
    }


@shared_task(name="rft.ping.cpu")
def ping_cpu(sent_at: float) -> dict[str, object]:
    return _pong(sent_at)


@shared_task(name="rft.ping.gpu")
def ping_gpu(sent_at: float) -> dict[str, object]:
    return _pong(sent_at)


@shared_task(name="rft.jobs.train")
def train_job(job_id: int) -> str:
    from worker.training.runner import run_job

    return run_job(job_id, Settings())


@shared_task(name="rft.jobs.preflight")
def preflight_job(plan: dict[str, Any]) -> dict[str, Any]:
    from worker.training.preflight import run_preflight

    return run_preflight(plan, Settings())


@shared_task(name="rft.demo.build")
def build_demo_model() -> str:
    from app.services.demo import DEMO_MODEL
    from worker.training.demo_model import build_with_status

    return str(build_with_status(Settings().models_path, DEMO_MODEL))
