"""`rft models`: the base models this installation can fine-tune, over the HTTP API.

``add NAME --path FOLDER`` registers a local Hugging Face folder under NAME (``org/name``
works); ``add --hub ORG/NAME`` takes a hub id from the server's Hugging Face cache, or has a
worker download it (a progress bar follows it here); without internet it fails at once naming
the cause and the setting. Adding and removing is for admins.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client, err, fail

if TYPE_CHECKING:
    import httpx

models_cli = typer.Typer(help="Base models to fine-tune.", no_args_is_help=True)
out = Console()
POLL_SECONDS = 0.5


@models_cli.command("list")
def list_models(api_url: ApiUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """The models: architecture, parameters, context length, chat template, where from."""
    with client(api_url, api_key) as http:
        page = call(http, "GET", "/api/v1/models")
    if as_json:
        print(json.dumps(page, indent=2))
        return
    table = Table("name", "architecture", "parameters", "context", "chat template", "source")
    for m in page["data"]:
        params = f"{m['parameters']:,}" if m["parameters"] else "?"
        table.add_row(
            m["name"],
            m["architecture"],
            params,
            str(m["max_context_length"]),
            "yes" if m["chat_template"] else "no",
            m["source"],
        )
    out.print(table)


@models_cli.command("add")
def add(
    name: Annotated[
        str | None, typer.Argument(help="org/name: your name for --path, or a hub id.")
    ] = None,
    path: Annotated[
        str | None, typer.Option(help="A Hugging Face model folder on the server's host.")
    ] = None,
    hub: Annotated[
        str | None, typer.Option(help="A hub id, e.g. Qwen/Qwen2.5-0.5B-Instruct.")
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Register a local folder (NAME --path FOLDER) or add a hub id (--hub ID): from the
    server's Hugging Face cache, else downloaded by a worker with a progress bar here."""
    hub_id = hub or (None if path else name)
    if path and name:
        body: dict[str, str] = {"name": name, "path": path}
    elif hub_id:
        body = {"hub_id": hub_id}
    else:
        fail("give NAME --path FOLDER, or --hub ORG/NAME", 2)
    with client(api_url, api_key) as http:
        answer = call(http, "POST", "/api/v1/models", json=body)
        if "state" in answer:  # 202: a worker downloads it
            answer = _follow_download(http, answer)
            if answer["state"] == "failed":
                fail(f"download of {answer['hub_id']} failed: {answer['error']}")
            answer = next(
                m for m in call(http, "GET", "/api/v1/models")["data"] if m["name"] == hub_id
            )
    out.print(f"model {answer['name']} added ({answer['architecture']}, {answer['source']})")


def _follow_download(http: httpx.Client, download: dict[str, Any]) -> dict[str, Any]:
    """Poll the download until ready or failed, showing files and bytes as they come."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    where = f"/api/v1/models/downloads/{download['hub_id']}"
    with Progress(*columns, TransferSpeedColumn(), console=err) as progress:
        task = progress.add_task(f"{download['hub_id']}: queued", total=None)
        while download["state"] not in ("ready", "failed"):
            time.sleep(POLL_SECONDS)
            download = call(http, "GET", where)
            files = f"{download['files_done']}/{download['files_total'] or '?'} files"
            progress.update(
                task,
                description=f"{download['hub_id']}: {download['state']}, {files}",
                completed=download["bytes_done"],
                total=download["bytes_total"],
            )
    return download


@models_cli.command("remove")
def remove(name: str, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Forget a registered model (its folder is left alone)."""
    with client(api_url, api_key) as http:
        call(http, "DELETE", f"/api/v1/models/{name}")
    out.print(f"model {name} removed")
