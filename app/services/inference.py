"""The web app's side of serving: which model server answers a deployment, and the request
sent there. Only HTTP crosses this line (httpx, streamed): the web app never imports the
model code, which lives in worker/serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from app.core.errors import Unavailable
from app.models import Deployment

RETRY_AFTER_SECONDS = 2
CONNECT_TIMEOUT = 5.0


class ServingError(Exception):
    """A refusal to hand back to the client: HTTP status, message, and retry hint."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Target:
    deployment_id: int
    name: str
    base_model: str
    server_url: str


def target(deployment: Deployment | None, name: str) -> Target:
    """Where a request for model ``name`` goes, or why it cannot go anywhere yet."""
    if deployment is None or deployment.state == "stopped":
        raise ServingError(
            404, f"The model `{name}` does not exist or you do not have access to it."
        )
    if deployment.state == "failed":
        raise ServingError(404, f"The deployment `{name}` failed: {deployment.cause}")
    if deployment.state != "ready" or not deployment.server_url:
        raise ServingError(
            503,
            f"The model `{name}` is {deployment.state}: try again in a few seconds.",
            RETRY_AFTER_SECONDS,
        )
    return Target(deployment.id, deployment.name, deployment.base_model, deployment.server_url)


class Upstream:
    """One generation on a model server: opened (status checked) before the client is
    answered, then read event by event (each a dict, see worker/serving/protocol.py)."""

    def __init__(self, where: Target, body: dict[str, Any]) -> None:
        self.where = where
        self.body = {"deployment_id": where.deployment_id, **body}
        self._http = httpx.AsyncClient(
            base_url=where.server_url, timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT)
        )
        self._response: httpx.Response | None = None

    async def open(self) -> None:
        try:
            request = self._http.build_request("POST", "/generate", json=self.body)
            self._response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            await self.close()
            raise ServingError(
                503,
                f"The model server for `{self.where.name}` is not answering "
                f"({type(exc).__name__}); it may be restarting.",
                RETRY_AFTER_SECONDS,
            ) from None
        if self._response.status_code != 200:
            raw = await self._response.aread()
            await self.close()
            try:
                message = str(json.loads(raw)["detail"])
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace")[:500]
            status = self._response.status_code
            retry = RETRY_AFTER_SECONDS if status == 503 else None
            if status == 404:  # the server has not picked it up yet
                status, retry = 503, RETRY_AFTER_SECONDS
            raise ServingError(status, message, retry)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        assert self._response is not None, "open() first"
        try:
            async for line in self._response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as exc:
            yield {"type": "error", "message": f"the model server went away ({exc})"}
        finally:
            await self.close()

    async def close(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        await self._http.aclose()


async def load(server_url: str, deployment_id: int) -> None:
    """Asks a model server to load a deployment now (best effort: it also polls)."""
    async with httpx.AsyncClient(base_url=server_url, timeout=CONNECT_TIMEOUT) as http:
        await http.post(f"/deployments/{deployment_id}/load")


MERGE_TIMEOUT = 1800.0


async def merge(server_url: str, base_model: str, adapter_key: str, out_key: str) -> None:
    """Has a model server write ``base_model`` + adapter, merged, into storage at ``out_key``."""
    body = {"base_model": base_model, "adapter_key": adapter_key, "out_key": out_key}
    try:
        async with httpx.AsyncClient(base_url=server_url, timeout=MERGE_TIMEOUT) as http:
            response = await http.post("/export/merged", json=body)
    except httpx.TransportError as exc:
        raise Unavailable(f"The model server at {server_url} is not answering ({exc})") from None
    if response.status_code != 200:
        raise Unavailable(f"The model server could not merge: {response.text[:500]}")
