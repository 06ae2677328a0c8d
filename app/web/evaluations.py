"""The Evaluations page: the evaluator IDE (editor, dataset rows, streamed runs, versions, tests).

The page is one HTML shell plus a JSON "boot" blob (datasets, evaluators, templates, the opened
evaluator); everything after that talks to the JSON API (/api/v1/evaluators/…, /datasets/…).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.api.deps import SessionDep, SettingsDep
from app.api.routes.evaluators import PoolDep
from app.evaluators import EvaluatorPool, environment, list_templates
from app.schemas.evaluator import EvaluatorPublic, TemplatePublic
from app.services import base_models, datasets, deployments, evaluator_envs, evaluators
from app.services.demo import DEMO_MODEL
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("rft.evaluators")

WARM_CODE = "def evaluate(messages, **kwargs):\n    return 0.0\n"


@router.get("/evaluations", response_class=HTMLResponse)
def evaluations_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    evaluator: int | None = Query(None, description="Open this saved evaluator."),
) -> HTMLResponse:
    opened = None
    if evaluator:
        row = evaluators.get(session, user, evaluator)
        env = evaluator_envs.status(request.app.state.settings, row.latest.requirements)
        opened = EvaluatorPublic.of(row, env)
    boot: dict[str, Any] = {
        "datasets": [
            {"id": d.id, "name": d.name, "format": d.format, "row_count": d.row_count}
            for d in datasets.list_for(session, user, 0, 1000)
        ],
        "evaluators": [
            {"id": e.id, "name": e.name, "latest_version": e.latest_version}
            for e in evaluators.list_for(session, user, 0, 1000)
        ],
        "templates": [TemplatePublic.of(t).model_dump() for t in list_templates()],
        "evaluator": opened.model_dump(mode="json") if opened else None,
        "base_model": DEMO_MODEL,
        # What "sample from model" can generate with: base models and the user's checkpoints.
        "models": [m.name for m in base_models.list_models(settings)],
        "checkpoints": [
            {"id": c.id, "label": f"job {c.job_id} · step {c.step}"}
            for c in deployments.deployable_checkpoints(session, user)
        ],
    }
    title = opened.name if opened else "Evaluations"
    return render(
        request, "pages/evaluations.html", boot=boot, title=title, packages=environment.packages()
    )


def _warm(pool: EvaluatorPool, tenant: str) -> None:
    """Start clean sandboxed workers (no code run in them yet: a worker serves one evaluator
    of one user, so warming it with other code would only get it replaced)."""
    pool.start()


@router.post("/evaluations/warm", status_code=status.HTTP_204_NO_CONTENT)
async def warm(user: PageUser, pool: PoolDep) -> Response:
    """Called when the IDE opens: a cold sandboxed worker takes ~0.7 s to start, a warm one
    answers in about a millisecond, so the first Run shows its first row at once."""
    shared = await run_in_threadpool(pool.get)
    await run_in_threadpool(_warm, shared, f"user-{user.id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
