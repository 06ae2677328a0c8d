"""Pre-flight check (web side): validate the request, then let a worker sample the base model."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from app import tasks
from app.core.config import Settings
from app.core.errors import Unavailable
from app.models import User
from app.schemas.job_params import JobCreate
from app.services import job_defaults, jobs

PROMPTS = 8
TIMEOUT_SECONDS = 300.0


def plan(
    session: Session, settings: Settings, owner: User, request: JobCreate
) -> tasks.PreflightRequest:
    resolved = job_defaults.resolve(session, settings, owner, request)
    return tasks.PreflightRequest(
        owner_id=owner.id,
        base_model=resolved.model.name,
        dataset_id=resolved.dataset.id,
        evaluators=jobs.pin_evaluators(session, owner, request.evaluators),
        rollout=resolved.request.rollout,
        prompts=PROMPTS,
    )


def run(
    celery: Celery, plan: tasks.PreflightRequest, timeout: float = TIMEOUT_SECONDS
) -> dict[str, Any]:
    try:
        report = tasks.request_preflight(celery, plan, timeout)
    except Exception as exc:
        raise Unavailable(
            f"The pre-flight check got no answer from a worker within {timeout:g} s",
            [{"field": "worker", "message": f"{type(exc).__name__}: {exc}".splitlines()[0]}],
        ) from exc
    return report.model_dump(mode="json")
