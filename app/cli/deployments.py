"""`rft deployments create|list|delete`, `rft chat DEPLOYMENT`, `rft export CHECKPOINT` over
the HTTP API, and `rft model-server` (the process that serves deployments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client, fail

deployments_cli = typer.Typer(
    help="Deployments: serve checkpoints behind the OpenAI-compatible /v1 API.",
    no_args_is_help=True,
)
out = Console(highlight=False)


def model_server(
    base_model: Annotated[
        list[str],
        typer.Option(help="Serve only this base model (repeat for several). Default: every one."),
    ] = [],  # noqa: B006
) -> None:
    """Serve every deployment of the base models (multi-LoRA): vLLM on a GPU, else PEFT."""
    import logging

    from app.cli.serve import prepare
    from app.core.checks import load as load_settings
    from worker.serving.server import run

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    settings = load_settings()
    prepare(settings)
    run(settings, list(base_model) or None)


@deployments_cli.command("create")
def create(
    checkpoint: Annotated[int | None, typer.Option(help="Checkpoint id to serve.")] = None,
    base_model: Annotated[str | None, typer.Option(help="Serve this base model as is.")] = None,
    name: Annotated[str | None, typer.Option(help="The `model` clients send.")] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Deploy a checkpoint (or a base model); it answers once `ready`."""
    body: dict[str, Any] = {"checkpoint_id": checkpoint, "base_model": base_model, "name": name}
    with client(api_url, api_key) as http:
        made = call(
            http,
            "POST",
            "/api/v1/deployments",
            json={k: v for k, v in body.items() if v is not None},
        )
    if as_json:
        print(json.dumps(made, indent=2))
        return
    out.print(
        f"deployment {made['id']} [bold]{made['name']}[/] on {made['base_model']}: {made['state']}"
    )


@deployments_cli.command("list")
def list_(api_url: ApiUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """Your deployments with their state."""
    with client(api_url, api_key) as http:
        page = call(http, "GET", "/api/v1/deployments")
    if as_json:
        print(json.dumps(page, indent=2))
        return
    table = Table("id", "name", "state", "base", "checkpoint", "requests")
    for d in page["data"]:
        source = f"job {d['job_id']} step {d['step']}" if d["checkpoint_id"] else "(base model)"
        state = d["state"] + (f" — {d['cause']}" if d["cause"] else "")
        table.add_row(
            str(d["id"]), d["name"], state, d["base_model"], source, str(d["requests_served"])
        )
    out.print(table)


@deployments_cli.command("delete")
def delete(
    deployment: Annotated[int, typer.Argument(help="Deployment id.")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Stop a deployment (its model server unloads it)."""
    with client(api_url, api_key) as http:
        stopped = call(http, "DELETE", f"/api/v1/deployments/{deployment}")
    out.print(f"deployment {stopped['id']} {stopped['name']}: {stopped['state']}")


def chat(
    deployment: Annotated[str, typer.Argument(help="Deployment name (the `model`).")],
    system: Annotated[str | None, typer.Option(help="A system message first.")] = None,
    temperature: Annotated[float, typer.Option(min=0, max=2)] = 0.7,
    max_tokens: Annotated[int, typer.Option(min=1)] = 256,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Chat with a deployment in the terminal (answers stream in; Ctrl-D or /exit ends)."""
    messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    with client(api_url, api_key) as http:
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                out.print()
                return
            if line.strip() in ("/exit", "/quit"):
                return
            if not line.strip():
                continue
            messages.append({"role": "user", "content": line})
            body = {"model": deployment, "messages": messages, "stream": True}
            body |= {"temperature": temperature, "max_tokens": max_tokens}
            answer = _stream_answer(http, body)
            messages.append({"role": "assistant", "content": answer})


def _stream_answer(http: Any, body: dict[str, Any]) -> str:
    parts: list[str] = []
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            response.read()
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            fail(f"{response.status_code}: {message}")
        out.print(f"[bold]{body['model']}>[/] ", end="")
        for line in response.iter_lines():
            data = line.removeprefix("data: ")
            if not line.startswith("data: ") or data == "[DONE]":
                continue
            chunk = json.loads(data)
            if "error" in chunk:
                fail(chunk["error"]["message"])
            for choice in chunk["choices"]:
                text = choice["delta"].get("content") or ""
                parts.append(text)
                out.print(text, end="", soft_wrap=True)
    out.print()
    return "".join(parts)


def export(
    checkpoint: Annotated[int, typer.Argument(help="Checkpoint id.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    merged: Annotated[
        bool, typer.Option("--merged", help="Full weights with the adapter merged (safetensors).")
    ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Download a checkpoint's PEFT adapter, or the merged model, into a folder."""
    import tarfile
    import tempfile

    path = f"/api/v1/checkpoints/{checkpoint}/" + ("merged" if merged else "adapter")
    out_dir.mkdir(parents=True, exist_ok=True)
    with client(api_url, api_key) as http, tempfile.TemporaryFile() as archive:
        with http.stream("GET", path, timeout=None) as response:
            if response.status_code != 200:
                response.read()
                call(http, "GET", path)  # prints the refusal with its fields, then fails
            for block in response.iter_bytes():
                archive.write(block)
        archive.seek(0)
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
            tar.extractall(out_dir, filter="data")
    out.print(f"{'merged model' if merged else 'adapter'} of checkpoint {checkpoint}: {out_dir}")
