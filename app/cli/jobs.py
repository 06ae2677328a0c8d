"""`rft jobs`: create, list, watch (live progress) and cancel fine-tuning jobs over the HTTP API.

Same rules as the API (one validation serves both): where the server is and who you are come
from --api-url / RFT_API_URL and --api-key / RFT_API_KEY, as for `rft datasets`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client, fail, sse_events
from app.schemas.job_params import default_text, param_specs

jobs_cli = typer.Typer(
    help="Fine-tuning jobs (GRPO + LoRA) over the HTTP API.", no_args_is_help=True
)
out = Console()


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _apply_settings(body: dict[str, Any], settings: list[str]) -> None:
    for item in settings:
        key, sep, raw = item.partition("=")
        group, dot, field = key.partition(".")
        if not sep or not dot or group not in ("training", "rollout"):
            fail(f"--set {item!r}: use training.FIELD=VALUE or rollout.FIELD=VALUE", 2)
        body.setdefault(group, {})[field] = _parse_value(raw)


def _evaluators(values: list[str]) -> list[dict[str, Any]]:
    chosen = []
    for value in values:
        ident, _, weight = value.partition(":")
        try:
            chosen.append({"id": int(ident), "weight": float(weight) if weight else 1.0})
        except ValueError:
            fail(f"--evaluator {value!r}: use ID or ID:WEIGHT", 2)
    return chosen


def _parameter_guide() -> str:
    """The --set parameters, from the same model the API validates with."""
    lines = ["Parameters for --set (default; valid values; when to change it):"]
    for spec in param_specs():
        lines.append(
            f"{spec.path} ({default_text(spec)}; {spec.valid}): {spec.description} {spec.help}"
        )
    return "\n\n".join(lines)


@jobs_cli.command("create", epilog=_parameter_guide())
def create(
    file: Annotated[
        Path | None, typer.Option(help="A JSON request body (as POST /api/v1/jobs takes).")
    ] = None,
    base_model: Annotated[str | None, typer.Option(help="From `GET /api/v1/models`.")] = None,
    dataset: Annotated[int | None, typer.Option(help="Training dataset id.")] = None,
    validation_dataset: Annotated[int | None, typer.Option(help="Validation dataset id.")] = None,
    evaluator: Annotated[list[str], typer.Option(help="ID or ID:WEIGHT; repeat for several.")] = [],  # noqa: B006
    set_: Annotated[
        list[str], typer.Option("--set", help="training.FIELD=VALUE or rollout.FIELD=VALUE.")
    ] = [],  # noqa: B006
    watch_it: Annotated[bool, typer.Option("--watch", help="Then watch it live.")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Validate and queue a job (a bad parameter is named with its valid range)."""
    body: dict[str, Any] = json.loads(file.read_text()) if file else {}
    for key, value in (
        ("base_model", base_model),
        ("dataset_id", dataset),
        ("validation_dataset_id", validation_dataset),
    ):
        if value is not None:
            body[key] = value
    if evaluator:
        body["evaluators"] = _evaluators(evaluator)
    _apply_settings(body, set_)
    with client(api_url, api_key) as http:
        job = call(http, "POST", "/api/v1/jobs", json=body)
    if as_json:
        out.print_json(data=job)
    else:
        out.print(f"job {job['id']} queued: {job['name']}")
    if watch_it:
        watch(job["id"], api_url=api_url, api_key=api_key)


@jobs_cli.command("list")
def list_jobs(api_url: ApiUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """Your jobs, newest first."""
    with client(api_url, api_key) as http:
        page = call(http, "GET", "/api/v1/jobs")
    if as_json:
        out.print_json(data=page)
        return
    table = Table("id", "name", "status", "step", "base model", "created")
    for job in page["data"]:
        step = f"{job['step']}/{job['total_steps'] or '?'}"
        table.add_row(
            str(job["id"]),
            job["name"],
            job["status"],
            step,
            job["base_model"],
            job["created_at"][:19],
        )
    out.print(table)
    out.print(f"{page['count']} job(s)")


@jobs_cli.command("cancel")
def cancel(job_id: int, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Stop a job (a running one stops at its next step and keeps its checkpoints)."""
    with client(api_url, api_key) as http:
        job = call(http, "POST", f"/api/v1/jobs/{job_id}/cancel")
    out.print(
        f"job {job_id}: {'cancel requested' if job['status'] == 'running' else job['status']}"
    )


def _events(http: Any, job_id: int) -> Any:
    """Parsed server-sent events of a job (the stream ends when the job does)."""
    with http.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=None) as response:
        if not response.is_success:
            call(http, "GET", f"/api/v1/jobs/{job_id}")  # prints the refusal and exits
        yield from sse_events(response)


@jobs_cli.command("watch")
def watch(job_id: int, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """Follow a job live: a progress bar with step, reward and ETA until it ends."""
    columns = (
        TextColumn("[bold]job {task.fields[job]}[/]"),
        BarColumn(),
        TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("reward {task.fields[reward]}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    status, error = "queued", None
    with client(api_url, api_key) as http, Progress(*columns, console=out) as progress:
        job = call(http, "GET", f"/api/v1/jobs/{job_id}")
        bar = progress.add_task(
            "",
            total=job["total_steps"] or 1,
            completed=job["step"],
            job=job_id,
            reward="-",
            status=job["status"],
        )
        finished = job["status"] in ("completed", "failed", "cancelled")
        if finished:  # nothing left to follow: straight to the summary
            status, error = job["status"], job["error"]
        for kind, data in () if finished else _events(http, job_id):
            if kind == "progress":
                progress.update(bar, total=data["total_steps"] or 1, completed=data["step"])
            elif kind == "metrics" and "reward" in data["values"]:
                progress.update(bar, reward=f"{data['values']['reward']:.3f}")
            elif kind == "status":
                status, error = data["status"], data.get("error")
                progress.update(bar, status=status)
        summary = call(http, "GET", f"/api/v1/jobs/{job_id}/summary")
    print_summary(summary)
    if status != "completed":
        fail(f"job {job_id} {status}" + (f": {error}" if error else ""))
    out.print(f"job {job_id} completed")


def _point(value: dict[str, Any] | None) -> str:
    return f"{value['value']:.3f} (step {value['step']})" if value else "-"


def print_summary(summary: dict[str, Any]) -> None:
    """The end-of-run summary, as the job page shows it."""
    table = Table(title=f"job {summary['job_id']}: {summary['status']}", show_header=False)
    gain = summary["reward_gain"]
    invalid = summary["invalid_rate"]
    elapsed = summary["elapsed_seconds"]
    best = summary["best_checkpoint_id"]
    rows = [
        ("validation at step 0", _point(summary["eval_start"])),
        ("best validation", _point(summary["eval_best"])),
        ("last validation", _point(summary["eval_last"])),
        ("reward gain", "-" if gain is None else f"{gain:+.3f}"),
        ("best checkpoint", f"{best} (step {summary['best_checkpoint_step']})" if best else "-"),
        ("time taken", "-" if elapsed is None else f"{elapsed:.0f} s"),
        ("evaluator invalid rate", "-" if invalid is None else f"{invalid:.1%}"),
        ("evaluator errors logged", str(summary["error_logs"])),
    ]
    for label, value in rows:
        table.add_row(label, value)
    out.print(table)
