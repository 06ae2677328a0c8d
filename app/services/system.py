"""Health of the parts the server depends on: database, broker, workers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import tasks
from app.core.config import Settings
from app.core.errors import Unavailable
from app.schemas.system import ComponentHealth, Health, WorkerPong


def database_health(session: Session) -> ComponentHealth:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"
        return _failed(exc)
    return ComponentHealth(ok=True, detail=session.get_bind().dialect.name)


def health(
    engine: Engine, settings: Settings, celery: Celery, isolation: Callable[[], str]
) -> Health:
    """Database (through `engine`: /healthz's own, so a busy request pool never delays it),
    broker and the evaluators' isolation."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = ComponentHealth(ok=True, detail=engine.dialect.name)
    except Exception as exc:  # any driver error means "not reachable"
        database = _failed(exc)
    broker = broker_health(settings, celery)
    ok = database.ok and broker.ok
    status = "ok" if ok else "unavailable"
    return Health(status=status, database=database, broker=broker, isolation=isolation())


def _failed(exc: Exception) -> ComponentHealth:
    return ComponentHealth(ok=False, detail=f"{type(exc).__name__}: {exc}".splitlines()[0])


def broker_health(settings: Settings, celery: Celery) -> ComponentHealth:
    if settings.broker_is_filesystem:
        folder = settings.broker_folder / "queue"
        ok = folder.is_dir() and os.access(folder, os.W_OK)
        return ComponentHealth(ok=ok, detail=f"filesystem {folder}" + ("" if ok else " unusable"))
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return _failed(exc)
    return ComponentHealth(ok=True, detail=celery.conf.broker_url.split("://")[0])


def ping_workers(celery: Celery, queues: tuple[str, ...], timeout: float) -> list[WorkerPong]:
    """Send a real task to each queue and wait for a worker to answer it."""
    pending: list[tuple[str, Any, float]] = []
    for queue in queues:
        sent = time.time()
        pending.append((queue, tasks.send_ping(celery, queue, expires=timeout), sent))
    pongs = []
    for queue, result, sent in pending:
        try:
            answer = tasks.Pong.model_validate(
                result.get(timeout=timeout, interval=0.05, propagate=True)
            )
        except Exception as exc:
            raise Unavailable(
                f"No worker answered on queue {queue!r} within {timeout:g} s",
                [{"field": "queue", "message": f"{queue}: {type(exc).__name__}"}],
            ) from exc
        result.forget()
        pongs.append(
            WorkerPong(
                queue=queue,
                worker=answer.worker,
                round_trip_ms=round((time.time() - sent) * 1000, 1),
            )
        )
    return pongs
