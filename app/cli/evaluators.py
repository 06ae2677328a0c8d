"""`rft evaluators`: preview evaluator code on a dataset, save evaluators, list templates.

Same rules as the API (the server checks and runs the code in its sandbox): where the server is
and who you are come from --api-url / RFT_API_URL and --api-key / RFT_API_KEY, as for
`rft datasets`. The preview follows the streaming endpoint, so rows show up as they finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client, fail, sse_events

if TYPE_CHECKING:
    import httpx

evaluators_cli = typer.Typer(
    help="Evaluators (reward functions): preview on a dataset, save, list, templates.",
    no_args_is_help=True,
)
out = Console()

CodeFile = Annotated[
    Path,
    typer.Argument(
        help="Python evaluator (.py) or OpenAI grader spec (.json); - reads standard input.",
        allow_dash=True,
        show_default=False,
    ),
]
BARS = " ▁▂▃▄▅▆▇█"


def _read_code(path: Path) -> str:
    if str(path) == "-":
        return typer.get_text_stream("stdin").read()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 2)


def _parse_rows(raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        fail(f"--rows {raw!r}: use comma-separated row numbers from 0, e.g. 0,1,5", 2)


def _stream(http: httpx.Client, body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Parsed server-sent events of a streamed preview; a refusal is printed (via `call`)."""
    path = "/api/v1/evaluators/preview/stream"
    with http.stream("POST", path, json=body, timeout=None) as response:
        if not response.is_success:
            # The plain preview refuses the same body the same way, and `call` prints it.
            answer = call(http, "POST", "/api/v1/evaluators/preview", json=body)
            yield from (("result", r) for r in answer["results"])
            yield "summary", answer["summary"]
            yield "end", {"isolation": answer["isolation"]}
            return
        yield from sse_events(response)


def _detail(result: dict[str, Any]) -> str:
    """What to show beside a score: where it raised, else the first printed line."""
    if result.get("error"):
        last = result["error"].strip().splitlines()[-1]
        return f"line {result['error_line']}: {last}" if result.get("error_line") else last
    lines = (result.get("stdout") or "").splitlines()
    return lines[0] if lines else ""


def _results_table(results: list[dict[str, Any]]) -> Table:
    """One line per result; a completion column when completions were sampled or typed."""
    shown = any(r.get("completion") is not None for r in results)
    table = Table("row", *(["completion"] if shown else []), "score", "valid", "reason")
    table.add_column("stdout / error")
    for r in sorted(results, key=lambda r: (r["row_index"], r.get("sample_index") or 0)):
        score = "-" if r["score"] is None else f"{r['score']:.3f}"
        valid = "[green]yes[/]" if r["is_score_valid"] else "[red]no[/]"
        reason, detail = escape(r.get("reason") or ""), escape(_detail(r))
        completion = [_completion(r)] if shown else []
        table.add_row(str(r["row_index"]), *completion, score, valid, reason, detail)
    return table


def _completion(result: dict[str, Any]) -> str:
    text = result.get("completion")
    if text is None:
        return ""
    label = "typed" if result.get("source") == "typed" else f"#{(result['sample_index'] or 0) + 1}"
    return f"{label} {escape(repr(text))}"


def _print_summary(summary: dict[str, Any], isolation: str | None) -> None:
    mean = "-" if summary["mean_score"] is None else f"{summary['mean_score']:.3f}"
    out.print(
        f"{summary['count']} rows: {summary['valid']} valid, {summary['invalid']} invalid, "
        f"mean score {mean} ({summary['duration_ms']:.0f} ms)"
    )
    counts = [b["count"] for b in summary["histogram"]]
    top = max(counts) or 1
    bars = "".join(BARS[round(n / top * (len(BARS) - 1))] for n in counts)
    low, high = summary["histogram"][0]["start"], summary["histogram"][-1]["end"]
    out.print(f"scores {low:g} [cyan]{bars}[/] {high:g}   ({' '.join(map(str, counts))})")
    if isolation and isolation != "bubblewrap":
        out.print(f"[yellow]isolation reduced: {isolation} (install bubblewrap)[/]")


@evaluators_cli.command("preview")
def preview(
    file: CodeFile,
    dataset: Annotated[int, typer.Option(help="Dataset id whose rows are scored.")],
    rows: Annotated[
        str | None, typer.Option(help="Row numbers from 0, comma-separated (e.g. 0,1,5).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="First N rows, when --rows is not given.")
    ] = 20,
    sample_model: Annotated[
        str | None,
        typer.Option(help="Score rows without a completion on ones sampled from this base model."),
    ] = None,
    sample_checkpoint: Annotated[
        int | None, typer.Option(help="… or from this checkpoint (its job's base + adapter).")
    ] = None,
    n: Annotated[int, typer.Option(help="Completions sampled per row (1-8).")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0.1-2.0).")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Longest sampled completion.")] = 256,
    all_rows: Annotated[
        bool, typer.Option(help="Sample for every row, also those with a reference answer.")
    ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Run unsaved evaluator code on dataset rows in the server's sandbox.

    Rows show up as they finish (score, reason, first printed line or the error), then a summary.
    With --sample-model or --sample-checkpoint a worker generates --n completions for each row
    that has none, and each is scored.
    """
    body: dict[str, Any] = {"code": _read_code(file), "dataset_id": dataset, "limit": limit}
    chosen = _parse_rows(rows)
    if chosen is not None:
        body["rows"] = chosen
    if sample_model is not None or sample_checkpoint is not None:
        body["sample"] = {
            "model": sample_model,
            "checkpoint_id": sample_checkpoint,
            "n": n,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "all_rows": all_rows,
        }
    with client(api_url, api_key) as http:
        if as_json:
            out.print_json(data=call(http, "POST", "/api/v1/evaluators/preview", json=body))
            return
        total = len(chosen) if chosen is not None and "sample" not in body else None
        if total is None and "sample" not in body:  # sampled rows give n results each
            found = call(http, "GET", f"/api/v1/datasets/{dataset}")
            total = min(limit, found["row_count"])
        results, summary, isolation = _follow(http, body, total)
    out.print(_results_table(results))
    if summary is None:
        fail("the preview stream ended without a summary")
    _print_summary(summary, isolation)


def _follow(
    http: httpx.Client, body: dict[str, Any], total: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    columns = (
        TextColumn("[bold]scoring[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("valid {task.fields[valid]}"),
        TimeElapsedColumn(),
    )
    results: list[dict[str, Any]] = []
    summary, isolation = None, None
    with Progress(*columns, console=out, transient=True) as progress:
        bar = progress.add_task("", total=total, valid=0)
        for kind, data in _stream(http, body):
            if kind == "result":
                results.append(data)
                valid = sum(r["is_score_valid"] for r in results)
                progress.update(bar, advance=1, valid=valid)
            elif kind == "progress":  # a worker is sampling completions
                progress.update(bar, description=f"(generated {data['generated']}/{data['rows']})")
            elif kind == "summary":
                summary = data
            elif kind == "end":
                isolation = data.get("isolation")
            elif kind == "error":
                fail(data.get("detail", "the preview failed"))
    return results, summary, isolation


@evaluators_cli.command("list")
def list_evaluators(
    api_url: ApiUrl = None, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """Your saved evaluators."""
    with client(api_url, api_key) as http:
        page = call(http, "GET", "/api/v1/evaluators", params={"limit": 1000})
    if as_json:
        out.print_json(data=page)
        return
    if not page["data"]:
        out.print("no evaluators yet: `rft evaluators create FILE --name NAME`")
        return
    table = Table("id", "name", "version", "kind", "updated")
    for e in page["data"]:
        kind = e["kind"] or "[red]invalid[/]"
        table.add_row(
            str(e["id"]), escape(e["name"]), str(e["latest_version"]), kind, e["updated_at"][:19]
        )
    out.print(table)
    out.print(f"{page['count']} evaluator(s)")


@evaluators_cli.command("create")
def create(
    file: CodeFile,
    name: Annotated[str, typer.Option(help="Unique among your evaluators.")],
    note: Annotated[str, typer.Option(help="What this first version is.")] = "",
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Save an evaluator (the server checks the code and names the line of a problem)."""
    body = {"name": name, "code": _read_code(file), "note": note}
    with client(api_url, api_key) as http:
        evaluator = call(http, "POST", "/api/v1/evaluators", json=body)
    if as_json:
        out.print_json(data=evaluator)
        return
    out.print(
        f"evaluator {evaluator['id']} {escape(evaluator['name'])}: version "
        f"{evaluator['latest_version']}, {evaluator['kind']} entry point "
        f"{escape(evaluator['entry_point'] or '')}"
    )


@evaluators_cli.command("templates")
def templates(
    show: Annotated[
        str | None, typer.Option(help="Print this template's code (e.g. math_answer).")
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Built-in evaluators to start from; --show SLUG prints one's code."""
    with client(api_url, api_key) as http:
        page = call(http, "GET", "/api/v1/evaluators/templates")
    if show is not None:
        found = [t for t in page["data"] if t["slug"] == show]
        if not found:
            fail(f"no template {show!r}: one of {', '.join(t['slug'] for t in page['data'])}")
        typer.echo(found[0]["code"], nl=False)
        return
    if as_json:
        out.print_json(data=page)
        return
    table = Table("slug", "name", "kind", "network", "description")
    for t in page["data"]:
        first = t["description"].split("\n\n")[0].replace("\n", " ")
        network = "yes" if t["needs_network"] else ""
        table.add_row(t["slug"], escape(t["name"]), t["kind"], network, escape(first))
    out.print(table)
