"""`rft datasets`: upload, list, page through, split and delete datasets over the HTTP API.

The commands talk to a running server (`rft serve`) exactly as any API client does, so the
same rules apply: the server validates, stores and owns the data. Where the server is:
--api-url or RFT_API_URL (default: RFT_PUBLIC_URL, else http://RFT_HOST:RFT_PORT, i.e.
http://127.0.0.1:8000). Who you are: --api-key or RFT_API_KEY (`rft keys create --name cli`).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli.http import ApiKey, ApiUrl, AsJson, call, client

if TYPE_CHECKING:
    pass

datasets_cli = typer.Typer(
    help="Datasets: upload JSONL files, list them, page through rows (over the HTTP API: "
    "--api-url / RFT_API_URL, --api-key / RFT_API_KEY).",
    no_args_is_help=True,
)

out = Console()
err = Console(stderr=True, highlight=False)

CHUNK = 1024 * 1024
PAGE = 1000


def _multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, bytes, str]:
    boundary = f"rft-{uuid.uuid4().hex}"
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    filename = path.name.replace('"', "%22").replace("\r", "").replace("\n", "")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _size(size: int) -> str:
    from app.core.storage import describe_bytes

    return describe_bytes(size)


@datasets_cli.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[str | None, typer.Option(help="Default: the file's name.")] = None,
    validation_percent: Annotated[
        float | None,
        typer.Option(help="Also split off this share of rows (percent) for validation."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split's random draw.")] = 0,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Upload a JSONL file, streamed with a progress bar.

    A file with any problem is refused whole, and each problem is printed with its line.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    fields = {"name": name, "validation_percent": validation_percent, "seed": seed}
    head, tail, content_type = _multipart(
        file, {k: str(v) for k, v in fields.items() if v is not None}
    )
    size = file.stat().st_size
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with client(api_url, api_key) as http, Progress(*columns, console=err) as progress:
        task = progress.add_task(f"uploading {file.name}", total=size)

        def body() -> Iterator[bytes]:
            yield head
            with file.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    progress.advance(task, len(chunk))
                    yield chunk
            progress.update(task, description="checking and saving")
            yield tail

        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(head) + size + len(tail)),
        }
        dataset = call(http, "POST", "/api/v1/datasets", content=body(), headers=headers)
    if as_json:
        print(json.dumps(dataset, indent=2))
        return
    meta = dataset["metadata"]
    out.print(
        f"dataset {dataset['id']} [bold]{dataset['name']}[/]: {dataset['row_count']:,} "
        f"{dataset['format']} rows, {_size(dataset['size_bytes'])}",
        soft_wrap=True,
    )
    if meta["warning_count"]:
        lines = ", ".join(str(w["line"]) for w in meta["warnings"][:10])
        err.print(f"{meta['warning_count']:,} blank lines skipped (lines {lines}…)")
    for split in dataset["splits"]:
        out.print(f"  {split['split']} split: dataset {split['id']}, {split['row_count']:,} rows")


@datasets_cli.command("list")
def list_datasets(api_url: ApiUrl = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
    """List your datasets (splits under their source)."""
    rows: list[dict[str, Any]] = []
    with client(api_url, api_key) as http:
        while True:
            page = call(
                http, "GET", "/api/v1/datasets", params={"offset": len(rows), "limit": PAGE}
            )
            rows += page["data"]
            if not page["data"] or len(rows) >= page["count"]:
                break
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("ID", "Name", "Format", "Rows", "Size", "Split of", "Created")
    for d in rows:
        split = f"{d['split']} of {d['split_of_id']}" if d["split_of_id"] else ""
        table.add_row(
            str(d["id"]),
            d["name"],
            d["format"],
            f"{d['row_count']:,}",
            _size(d["size_bytes"]),
            split,
            d["created_at"][:16].replace("T", " "),
        )
    out.print(table if rows else "no datasets yet: `rft datasets upload FILE`")


@datasets_cli.command("rows")
def rows(
    dataset_id: Annotated[int, typer.Argument(help="The dataset's ID (`rft datasets list`).")],
    offset: Annotated[int, typer.Option(min=0, help="First row, from 0.")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="How many rows.")] = 10,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Print rows as JSON lines (as uploaded, types kept): `… rows 3 --limit 5000 > part.jsonl`."""
    printed, count = 0, 0
    with client(api_url, api_key) as http:
        while printed < limit:
            params = {"offset": offset + printed, "limit": min(PAGE, limit - printed)}
            page = call(http, "GET", f"/api/v1/datasets/{dataset_id}/rows", params=params)
            count = page["count"]
            for item in page["data"]:
                sys.stdout.write(json.dumps(item["row"], ensure_ascii=False) + "\n")
            printed += len(page["data"])
            if len(page["data"]) < params["limit"]:
                break
    shown = f"rows {offset:,} to {offset + printed - 1:,}" if printed else "no rows"
    err.print(f"{shown} of {count:,}")


@datasets_cli.command("split")
def split(
    dataset_id: Annotated[int, typer.Argument(help="The dataset to split.")],
    validation_percent: Annotated[float, typer.Option(help="Share of rows for validation (%).")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same split.")] = 0,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Draw a train and a validation dataset from a dataset (it stays as it is)."""
    body = {"validation_percent": validation_percent, "seed": seed}
    with client(api_url, api_key) as http:
        pair = call(http, "POST", f"/api/v1/datasets/{dataset_id}/split", json=body)
    for part in ("train", "validation"):
        d = pair[part]
        out.print(f"{part}: dataset {d['id']} {d['name']}, {d['row_count']:,} rows", soft_wrap=True)


@datasets_cli.command("delete")
def delete(
    dataset_id: Annotated[int, typer.Argument(help="The dataset to delete, with its splits.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Delete a dataset, its splits and their files."""
    if not yes:
        typer.confirm(f"Delete dataset {dataset_id} and its splits?", abort=True)
    with client(api_url, api_key) as http:
        call(http, "DELETE", f"/api/v1/datasets/{dataset_id}")
    out.print(f"deleted dataset {dataset_id}")
