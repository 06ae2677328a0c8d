"""The worker's Celery app: the web's client configuration (app.tasks) plus the task bodies."""

from __future__ import annotations

from celery import Celery

from app.core.config import Settings
from app.tasks import make_client


def make_celery(settings: Settings) -> Celery:
    app = make_client(settings)
    app.autodiscover_tasks(["worker"], related_name="tasks", force=True)
    return app
