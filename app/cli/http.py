"""What the API-calling CLI commands share: where the server is, who you are, and how a
refusal is printed (each problem with its field or line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    import httpx

err = Console(stderr=True, highlight=False)

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="RFT_API_URL",
        help="Server URL. Default: RFT_PUBLIC_URL, else http://RFT_HOST:RFT_PORT "
        "(http://127.0.0.1:8000).",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="RFT_API_KEY",
        help="API key; create one with `rft keys create --name cli`.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def default_url() -> str:
    from app.core.config import Settings

    try:
        return Settings().base_url
    except ValueError:
        return "http://127.0.0.1:8000"


def client(api_url: str | None, api_key: str | None) -> httpx.Client:
    import httpx

    if not api_key:
        fail("no API key: pass --api-key or set RFT_API_KEY (`rft keys create --name cli`)", 2)
    return httpx.Client(
        base_url=(api_url or default_url()).rstrip("/"),
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=httpx.Timeout(120.0, connect=10.0),
    )


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON answer; a refusal is printed with each problem, and the command fails."""
    import httpx

    try:
        response = http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        fail(
            f"no answer from {http.base_url} ({exc.__class__.__name__}: {exc}). Is `rft serve` "
            "running there? Set --api-url or RFT_API_URL."
        )
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text or response.reason_phrase, "errors": []}
    err.print(f"[bold red]error {response.status_code}:[/] {body.get('detail')}", soft_wrap=True)
    for problem in body.get("errors", []):
        where = (
            f"line {problem['line']}: "
            if "line" in problem
            else f"{problem['field']}: "
            if "field" in problem
            else ""
        )
        err.print(f"  {where}{problem['message']}", soft_wrap=True)
    raise typer.Exit(1)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event type, parsed JSON data) for each server-sent event of a streamed response."""
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                yield event.get("event", "message"), json.loads(event["data"])
            event = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            event[key] = value
