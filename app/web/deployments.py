"""The Deployments page: list (live while any is loading), deploy form, and a playground that
asks a deployment and its base model the same thing with the same sampling, side by side."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import PathId, SessionDep, SettingsDep
from app.core.errors import InvalidInput, is_htmx
from app.models import User
from app.schemas.deployment import DeploymentCreate
from app.services import base_models, deployments, inference
from app.web.deps import PageUser
from app.web.templating import render

router = APIRouter(include_in_schema=False)
PLAYGROUND_MAX_TOKENS = 256


def _page(
    request: Request,
    session: Any,
    settings: Any,
    user: User,
    block: str | None = None,
    **extra: Any,
) -> HTMLResponse:
    rows = deployments.list_for(session, user, 0, 200)
    return render(
        request,
        "pages/deployments.html",
        block=block,
        deployments=[deployments.public(session, d) for d in rows],
        live=any(d.state in ("pending", "loading") for d in rows),
        servable=[d for d in rows if d.state == "ready"],
        checkpoints=deployments.deployable_checkpoints(session, user),
        bases=[m.name for m in base_models.list_models(settings)],
        api_url=settings.base_url,
        **extra,
    )


@router.get("/deployments", response_class=HTMLResponse)
def deployments_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: PageUser
) -> HTMLResponse:
    block = "deployments" if is_htmx(request) else None
    return _page(request, session, settings, user, block)


@router.post("/deployments", response_class=HTMLResponse)
def deploy(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
    checkpoint_id: str = Form(""),
    base_model: str = Form(""),
    name: str = Form(""),
) -> Response:
    """Form route: `checkpoint_id` (the job page's Deploy buttons) or `base_model`."""
    if checkpoint_id and not checkpoint_id.isdigit():
        raise InvalidInput(
            "Invalid deployment request",
            [{"field": "checkpoint_id", "message": "not a checkpoint id"}],
        )
    choice = DeploymentCreate.model_validate(
        {
            "checkpoint_id": int(checkpoint_id) if checkpoint_id else None,
            "base_model": base_model or None,
            "name": name.strip() or None,
        }
    )
    deployments.create(session, settings, user, choice)
    if is_htmx(request):
        return _page(request, session, settings, user, "deployments")
    return RedirectResponse("/deployments", status_code=303)


@router.post("/deployments/{deployment_id}/stop", response_class=HTMLResponse)
def stop(
    request: Request,
    deployment_id: PathId,
    session: SessionDep,
    settings: SettingsDep,
    user: PageUser,
) -> Response:
    deployments.stop(session, user, deployment_id)
    if is_htmx(request):
        return _page(request, session, settings, user, "deployments")
    return RedirectResponse("/deployments", status_code=303)


async def _ask(
    target: Any, prompt: str, temperature: float, max_tokens: int, seed: int
) -> dict[str, Any]:
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "n": 1,
        "temperature": temperature,
        "top_p": 1.0,
        "max_tokens": max_tokens,
        "stop": [],
        "seed": seed,
    }
    upstream = inference.Upstream(target, body)
    try:
        await upstream.open()
    except inference.ServingError as exc:
        return {"name": target.name, "error": exc.message}
    parts, reason, tokens = [], None, 0
    async for event in upstream.events():
        if event["type"] == "delta":
            parts.append(event["text"])
        elif event["type"] == "end":
            reason, tokens = event["finish_reason"], event["completion_tokens"]
        elif event["type"] == "error":
            return {"name": target.name, "error": event["message"]}
    return {"name": target.name, "text": "".join(parts), "finish_reason": reason, "tokens": tokens}


@router.post("/deployments/playground", response_class=HTMLResponse)
async def playground(
    request: Request,
    session: SessionDep,
    user: PageUser,
    deployment_id: int = Form(...),
    prompt: str = Form(..., min_length=1, max_length=20000),
    temperature: float = Form(0.0, ge=0, le=2),
    max_tokens: int = Form(64, ge=1, le=PLAYGROUND_MAX_TOKENS),
    seed: int = Form(0),
) -> HTMLResponse:
    """The same prompt and sampling to the deployment and to its base model's deployment."""
    chosen = deployments.get(session, user, deployment_id)
    base = deployments.base_of(session, user, chosen) if chosen.adapter_path else None
    pairs = [chosen] + ([base] if base is not None else [])
    targets: list[Any] = []
    for d in pairs:
        try:
            targets.append(inference.target(d, d.name))
            deployments.record_request(session, d.id)
        except inference.ServingError as exc:
            targets.append({"name": d.name, "error": exc.message})
    session.commit()  # before the model server writes (SQLite has one writer)
    answers = [
        t if isinstance(t, dict) else await _ask(t, prompt, temperature, max_tokens, seed)
        for t in targets
    ]
    return render(
        request,
        "pages/deployments.html",
        block="answers",
        answers=answers,
        missing_base=chosen.base_model if chosen.adapter_path and base is None else None,
    )
