"""`rft models`: the base models this installation can fine-tune, over the HTTP API.

``add NAME --path FOLDER`` registers a local Hugging Face folder under NAME (``org/name``
works); ``add ORG/NAME`` takes a hub id from this host's Hugging Face cache, and without
internet fails at once naming the cause.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client

models_cli = typer.Typer(help="Base models to fine-tune.", no_args_is_help=True)
out = Console()


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
    name: Annotated[str, typer.Argument(help="org/name (a hub id, or your name for --path).")],
    path: Annotated[
        str | None, typer.Option(help="A Hugging Face model folder on the server's host.")
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Register a local folder (with --path) or a hub id."""
    body = {"name": name, "path": path} if path else {"hub_id": name}
    with client(api_url, api_key) as http:
        model = call(http, "POST", "/api/v1/models", json=body)
    out.print(f"model {model['name']} added ({model['architecture']}, {model['source']})")


@models_cli.command("remove")
def remove(name: str, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Forget a registered model (its folder is left alone)."""
    with client(api_url, api_key) as http:
        call(http, "DELETE", f"/api/v1/models/{name}")
    out.print(f"model {name} removed")
