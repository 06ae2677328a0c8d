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
    await upstream.open()
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _sse(_chat_chunks(upstream, where.name, include_usage))
    return JSONResponse(await _collect(upstream, where.name, chat=True))


@router.post("/completions")
async def completions(
    body: CompletionRequest, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    where = _open_target(session, settings, user, body)
    upstream = Upstream(where, {"prompt": body.text, **body.sampling(body.max_tokens)})
    session.commit()
    await upstream.open()
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _sse(_completion_chunks(upstream, where.name, include_usage))
    return JSONResponse(await _collect(upstream, where.name, chat=False))


# Answers.


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
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
        if chat:
            message = {"role": "assistant", "content": text, "refusal": None}
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "finish_reason": reasons[index],
                    "logprobs": None,
                }
            )
        else:
            choices.append(
                {"index": index, "text": text, "finish_reason": reasons[index], "logprobs": None}
            )
    return {
        "id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex,
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def _sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def _chat_chunks(
    upstream: Upstream, model: str, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    base = {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }
    extra = {"usage": None} if include_usage else {}
    started: set[int] = set()
    prompt_tokens = completion_tokens = 0

    def chunk(index: int, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}
        return {**base, "choices": [choice], **extra}

    async for event in upstream.events():
        kind = event["type"]
        if kind == "start":
            prompt_tokens = event["prompt_tokens"]
            continue
        if kind == "error":
            yield error_body(event["message"], "server_error")
            return
        index = event["index"]
        if index not in started:
            started.add(index)
            yield chunk(index, {"role": "assistant", "content": ""})
        if kind == "delta":
            yield chunk(index, {"content": event["text"]})
        elif kind == "end":
            completion_tokens += event["completion_tokens"]
            yield chunk(index, {}, event["finish_reason"])
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}


async def _completion_chunks(
    upstream: Upstream, model: str, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    base = {
        "id": "cmpl-" + uuid.uuid4().hex,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
    }
    extra = {"usage": None} if include_usage else {}
    prompt_tokens = completion_tokens = 0
    async for event in upstream.events():
        kind = event["type"]
        if kind == "start":
            prompt_tokens = event["prompt_tokens"]
        elif kind == "error":
            yield error_body(event["message"], "server_error")
            return
        elif kind in ("delta", "end"):
            text = event.get("text", "")
            reason = event.get("finish_reason")
            if kind == "end":
                completion_tokens += event["completion_tokens"]
            choice = {
                "index": event["index"],
                "text": text,
                "finish_reason": reason,
                "logprobs": None,
            }
            yield {**base, "choices": [choice], **extra}
    if include_usage:
        yield {**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}
