"""OpenAI's grader test endpoints (``client.fine_tuning.alpha.graders.validate|run``), on the
evaluator runtime the IDE preview uses (the web app's sandboxed pool)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.api.deps import CurrentUser
from app.api.routes.openai_errors import OpenAIRoute
from app.evaluators import Sample
from app.schemas.openai_ft import GraderRunRequest, GraderValidateRequest
from app.services import openai_ft
from app.services.openai_graders import run_response

router = APIRouter(
    prefix="/v1/fine_tuning/alpha/graders", tags=["openai fine-tuning"], route_class=OpenAIRoute
)


@router.post("/validate")
def validate_grader(body: GraderValidateRequest, _user: CurrentUser) -> dict[str, Any]:
    """The grader as sent when it would run here; a 400 saying what is wrong otherwise."""
    openai_ft.check_grader(body.grader)
    return {"grader": body.grader}


@router.post("/run")
def run_grader(body: GraderRunRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Grade one ``model_sample`` against one dataset ``item`` (blocking: FastAPI runs this
    handler in its thread pool while a sandboxed worker scores)."""
    spec = openai_ft.check_grader(body.grader)
    item = body.item if isinstance(body.item, dict) else {}
    row = item if ("messages" in item or "prompt" in item) else {"messages": [], **item}
    pool = request.app.state.evaluator_pool.get()
    result = pool.score(spec, [Sample(row, body.model_sample)], tenant=f"user-{user.id}")[0]
    return run_response(spec, result)
