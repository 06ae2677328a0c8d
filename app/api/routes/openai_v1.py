"""OpenAI-compatible endpoints: `/v1/models`, `/v1/chat/completions`, `/v1/completions`.

`model` is a deployment's name. The web app authenticates, finds the model server holding the
deployment and proxies to it (streaming included). Every error here has OpenAI's shape
`{"error": {"message", "type", "param", "code"}}`, so OpenAI's own clients raise their usual
exceptions: this router's route class turns our errors (401s included) into that shape.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.routes.openai_errors import OpenAIRoute, error_body
from app.core.config import Settings
from app.schemas.openai_v1 import ChatCompletionRequest, CompletionRequest, SamplingFields
from app.services import deployments, inference
from app.services.inference import ServingError, Upstream

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)


@router.get("/models")
def list_models(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The caller's deployments that answer now or will soon, each with its base model."""
    rows = deployments.servable(session, user)
    return {"object": "list", "data": [_model_card(d, user.name) for d in rows]}


@router.get("/models/{model:path}")
def get_model(model: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    deployment = deployments.find_by_name(session, user, model)
    if deployment is None or not deployment.is_active:
        raise ServingError(
            404, f"The model `{model}` does not exist or you do not have access to it."
        )
    return _model_card(deployment, user.name)


def _model_card(deployment: Any, owner: str) -> dict[str, Any]:
    return {
        "id": deployment.name,
        "object": "model",
        "created": int(deployment.created_at.timestamp()),
        "owned_by": owner,
        "root": deployment.base_model,
        "parent": deployment.base_model if deployment.adapter_path else None,
        "state": deployment.state,
    }


def _open_target(
    session: Any, settings: Settings, user: Any, fields: SamplingFields
) -> inference.Target:
    deployment = deployments.find_or_deploy(session, settings, user, fields.model)
    where = inference.target(deployment, fields.model)
    deployments.record_request(session, where.deployment_id)
    return where


@router.post("/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    where = _open_target(session, settings, user, body)
    max_tokens = body.max_completion_tokens or body.max_tokens
    messages = [{"role": m.role, "content": m.text} for m in body.messages]
    upstream = Upstream(where, {"messages": messages, **body.sampling(max_tokens)})
    # Commit the request count first: the model server writes to the same database while it
    # loads (SQLite allows one writer), and a generation can be long.
    session.commit()
    return await _answer(upstream, where.name, body, chat=True)


@router.post("/completions")
async def completions(
    body: CompletionRequest, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    where = _open_target(session, settings, user, body)
    upstream = Upstream(where, {"prompt": body.text, **body.sampling(body.max_tokens)})
    session.commit()
    return await _answer(upstream, where.name, body, chat=False)


# Answers: one JSON object, or a stream of chunks ending in `[DONE]`.


async def _answer(upstream: Upstream, model: str, body: SamplingFields, chat: bool) -> Response:
    await upstream.open()
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _sse(_chunks(upstream, model, include_usage, chat))
    return JSONResponse(await _collect(upstream, model, chat))


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _envelope(model: str, chat: bool, chunk: bool) -> dict[str, Any]:
    """The fields every answer and every chunk of one answer share."""
    if chat:
        object_ = "chat.completion.chunk" if chunk else "chat.completion"
    else:
        object_ = "text_completion"  # OpenAI names completion chunks the same
    return {
        "id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex,
        "object": object_,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }


async def _collect(upstream: Upstream, model: str, chat: bool) -> dict[str, Any]:
    texts: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    prompt_tokens = completion_tokens = 0
    async for event in upstream.events():
        kind = event["type"]
        if kind == "start":
            prompt_tokens = event["prompt_tokens"]
        elif kind == "delta":
            texts.setdefault(event["index"], []).append(event["text"])
        elif kind == "end":
            reasons[event["index"]] = event["finish_reason"]
            completion_tokens += event["completion_tokens"]
        elif kind == "error":
            raise ServingError(500, f"generation failed: {event['message']}")
    choices = []
    for index in sorted(reasons):
        text = "".join(texts.get(index, []))
        choice: dict[str, Any] = {"index": index, "finish_reason": reasons[index], "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": text, "refusal": None}
        else:
            choice["text"] = text
        choices.append(choice)
    answer = _envelope(model, chat, chunk=False)
    return {**answer, "choices": choices, "usage": _usage(prompt_tokens, completion_tokens)}


def _sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def _chunks(
    upstream: Upstream, model: str, include_usage: bool, chat: bool
) -> AsyncIterator[dict[str, Any]]:
    """The model server's events as OpenAI chunks; with include_usage every chunk carries
    `usage: null` and a last chunk with no choices carries the totals."""
    base = _envelope(model, chat, chunk=True)
    extra = {"usage": None} if include_usage else {}
    started: set[int] = set()
    prompt_tokens = completion_tokens = 0
    async for event in upstream.events():
        kind = event["type"]
        if kind == "start":
            prompt_tokens = event["prompt_tokens"]
        elif kind == "error":
            yield error_body(event["message"], "server_error")
            return
        elif kind in ("delta", "end"):
            completion_tokens += event["completion_tokens"] if kind == "end" else 0
            choices = _chat_choices(event, started) if chat else [_text_choice(event)]
            for choice in choices:
                yield {**base, "choices": [choice], **extra}
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}


def _text_choice(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": event["index"],
        "text": event.get("text", ""),
        "finish_reason": event.get("finish_reason"),
        "logprobs": None,
    }


def _chat_choices(event: dict[str, Any], started: set[int]) -> list[dict[str, Any]]:
    """A choice's first chunk says the role; then its text deltas; its last, the reason."""
    index = event["index"]
    choices = []
    if index not in started:
        started.add(index)
        choices.append(_delta(index, {"role": "assistant", "content": ""}))
    if event["type"] == "delta":
        choices.append(_delta(index, {"content": event["text"]}))
    else:
        choices.append(_delta(index, {}, event["finish_reason"]))
    return choices


def _delta(index: int, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}
