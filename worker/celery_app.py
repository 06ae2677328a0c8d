"""The Celery app, configured from app.core.config.

The database is the source of truth for job state; the broker is only a doorbell. Hence
``acks_late`` with prefetch 1: a task whose worker dies goes back to the queue (Redis) or is
found again from its database row (filesystem broker, which loses it).
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from app.core.config import Settings

QUEUES = ("gpu", "cpu")

# Task name -> queue. Training jobs hold the accelerator; everything else is CPU work.
ROUTES = {
    "rft.ping.gpu": {"queue": "gpu"},
    "rft.ping.cpu": {"queue": "cpu"},
    "rft.jobs.train": {"queue": "gpu"},
    "rft.jobs.preflight": {"queue": "gpu"},
    "rft.demo.build": {"queue": "cpu"},
}


def broker_options(settings: Settings) -> dict[str, object]:
    if not settings.broker_is_filesystem:
        return {"visibility_timeout": 24 * 3600}
    folder = settings.broker_folder
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def make_celery(settings: Settings) -> Celery:
    app = Celery("rft", broker=settings.broker, backend=settings.results, set_as_current=False)
    if settings.results.startswith("file://"):
        (settings.data_path / "results").mkdir(parents=True, exist_ok=True)
    app.conf.update(
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_default_queue="cpu",
        task_default_exchange="cpu",
        task_default_routing_key="cpu",
        task_routes=ROUTES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        # The filesystem transport has no broadcast fast enough for remote control or events.
        worker_enable_remote_control=not settings.broker_is_filesystem,
        worker_send_task_events=False,
    )
    app.autodiscover_tasks(["worker"], related_name="tasks", force=True)
    return app
