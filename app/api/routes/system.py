from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.api.deps import CurrentUser, SettingsDep
from app.schemas.common import Page
from app.schemas.system import Health, WorkerPong
from app.services import system
from app.tasks import QUEUES

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
async def healthz(request: Request, settings: SettingsDep) -> JSONResponse:
    """Unauthenticated: 200 when the database and the broker answer, 503 otherwise.

    Answers while the server is busy: no request session, its own database connection and
    its own thread lane, so fifty previews being admitted never queue it (issue 11)."""
    state = request.app.state
    checks = (state.health_engine, settings, state.celery, state.evaluator_pool.isolation)
    health = await state.health_lane.run(system.health, *checks)
    return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)


@router.post("/api/v1/system/ping", response_model=Page[WorkerPong])
async def ping_workers(
    request: Request,
    _user: CurrentUser,
    queue: list[str] = Query(default=list(QUEUES)),
    timeout: float = Query(default=10.0, gt=0, le=60),
) -> Page[WorkerPong]:
    """Round-trip a real task through the broker to a worker on each queue."""
    unknown = sorted(set(queue) - set(QUEUES))
    if unknown:
        from app.core.errors import InvalidInput

        raise InvalidInput(
            "Invalid queue",
            [{"field": "queue", "message": f"unknown queue {q!r}"} for q in unknown],
        )
    celery = request.app.state.celery
    pongs = await run_in_threadpool(system.ping_workers, celery, tuple(queue), timeout)
    return Page(data=pongs, count=len(pongs))
