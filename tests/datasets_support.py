"""Shared by the dataset tests: rows, multipart bodies, uploads, and "nothing was stored"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.models import Dataset
from tests.conftest import Account

BOUNDARY = "rft-test-boundary"


def rows_bytes(count: int, start: int = 0) -> bytes:
    return b"".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Add."},
                    {"role": "user", "content": f"{i} + 1 = ?"},
                    {"role": "assistant", "content": str(i + 1)},
                ],
                "ground_truth": i + 1,
                "nums": [i, 1.5],
                "extra": {"ok": True, "none": None},
            }
        ).encode()
        + b"\n"
        for i in range(start, start + count)
    )


def multipart(data: bytes, close: bool = True) -> bytes:
    """A multipart body with ``data`` as its file; ``close=False`` cuts off its last boundary."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="d.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def upload(client: TestClient, account: Account, data: bytes, **fields: str) -> Any:
    return client.post(
        "/api/v1/datasets",
        files={"file": ("gsm8k.jsonl", data, "application/jsonl")},
        data=fields,
        headers=account.headers,
    )


def count_rows(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Dataset)) or 0


def leftovers(settings: Settings) -> list[Path]:
    """Files in storage and in the staging folder: none after a refused upload."""
    places = [Path(settings.storage), settings.data_path / "tmp"]
    return [p for place in places if place.exists() for p in place.rglob("*") if p.is_file()]


def assert_nothing_stored(factory: sessionmaker[Session], settings: Settings) -> None:
    assert count_rows(factory) == 0
    assert leftovers(settings) == []
