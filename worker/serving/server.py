"""`rft model-server`: a long-lived process serving every deployment of its base models.

It speaks a small internal HTTP API to the web app (which authenticates users and routes by
model name); it is never exposed to users directly:

- ``POST /generate`` ``{deployment_id, messages | prompt, n, temperature, top_p, max_tokens,
  stop, seed}`` -> NDJSON events as they are produced (see ``protocol.Event``)
- ``POST /export/merged`` ``{base_model, adapter_key, out_key}``: merged weights into storage
- ``POST /deployments/{id}/load`` and ``/unload``: load now (after a sync), or drop from memory
- ``GET /health``: bases and deployments held
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from worker.serving.protocol import GenerationRequest, PromptTooLong, Sampling
from worker.serving.registry import NotServed, Registry

log = logging.getLogger("rft.serving")


class Message(BaseModel):
    role: str
    content: str


class GenerateBody(BaseModel):
    deployment_id: int
    messages: list[Message] | None = None
    prompt: str | None = None
    n: int = Field(default=1, ge=1, le=64)
    temperature: float = Field(default=1.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class MergeBody(BaseModel):
    base_model: str
    adapter_key: str
    out_key: str


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_server_app(registry: Registry) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        registry.start()
        yield
        registry.stop()

    app = FastAPI(title="RFT model server", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "url": registry.url,
            "bases": sorted(registry.engines),
            "deployments": {
                str(h.deployment_id): {"base_model": h.base_model, "loaded": h.loaded}
                for h in registry.held.values()
            },
        }

    @app.post("/deployments/{deployment_id}/load")
    async def load(deployment_id: int) -> Response:
        try:
            await run_in_threadpool(registry.engine_for, deployment_id)
        except NotServed as exc:
            return _error(404, str(exc))
        return JSONResponse({"loaded": True})

    @app.post("/deployments/{deployment_id}/unload")
    async def unload(deployment_id: int) -> Response:
        held = registry.held.get(deployment_id)
        if held is None:
            return _error(404, f"deployment {deployment_id} is not served here")
        await run_in_threadpool(registry.unload_one, held)
        return JSONResponse({"loaded": False})

    @app.post("/export/merged")
    async def export_merged(body: MergeBody) -> Response:
        from worker.serving.export import merge_checkpoint

        try:
            await run_in_threadpool(
                merge_checkpoint, registry.settings, body.base_model, body.adapter_key, body.out_key
            )
        except Exception as exc:
            log.exception("merge failed")
            return _error(500, f"{type(exc).__name__}: {exc}")
        return JSONResponse({"out_key": body.out_key})

    @app.post("/generate")
    async def generate(body: GenerateBody) -> Response:
        try:
            engine, held = await run_in_threadpool(registry.engine_for, body.deployment_id)
        except NotServed as exc:
            return _error(404, str(exc))
        except Exception as exc:
            return _error(503, f"could not load the model: {exc}")
        if body.messages is not None:
            if not engine.has_chat_template:
                return _error(400, "this model has no chat template: use /v1/completions")
            messages = [m.model_dump() for m in body.messages]
            prompt_ids = await run_in_threadpool(engine.encode_chat, messages)
        else:
            prompt_ids = await run_in_threadpool(engine.encode_prompt, body.prompt or "")
        try:
            engine.check_prompt(prompt_ids)
        except PromptTooLong as exc:
            return _error(400, str(exc))
        sampling = Sampling(
            n=body.n,
            temperature=body.temperature,
            top_p=body.top_p,
            max_tokens=body.max_tokens,
            stop=body.stop,
            seed=body.seed,
        )
        return StreamingResponse(
            _stream(engine, held.adapter_id, prompt_ids, sampling),
            media_type="application/x-ndjson",
        )

    return app


async def _stream(
    engine: Any, adapter: int | None, prompt_ids: list[int], sampling: Sampling
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    gone = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    request = GenerationRequest(
        adapter=adapter,
        prompt_ids=prompt_ids,
        sampling=sampling,
        emit=emit,
        cancelled=gone.is_set,
    )
    engine.submit(request)
    ended = 0
    try:
        while ended < sampling.n:
            event = await events.get()
            yield (json.dumps(event) + "\n").encode()
            if event["type"] == "end":
                ended += 1
            elif event["type"] == "error":
                return
    finally:
        gone.set()  # the client went away: the engine drops the rows at its next token


def run(settings: Settings, bases: list[str] | None = None) -> None:
    import uvicorn

    from app.core import checks

    sock = checks.bind_socket(settings.model_server_host, settings.model_server_port)
    port = sock.getsockname()[1]
    host = settings.model_server_host
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = (settings.model_server_url or f"http://{local}:{port}").rstrip("/")
    factory = make_session_factory(make_engine(settings.database))
    registry = Registry(settings, factory, url, bases)
    log.warning("model server on %s serving %s", url, ", ".join(bases) if bases else "every base")
    config = uvicorn.Config(
        create_server_app(registry), log_level="warning", timeout_graceful_shutdown=3
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
