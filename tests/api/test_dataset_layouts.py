"""Each ecosystem's dataset layout uploads as it ships: JSONL or Parquet, checked row by row."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.datasets_support import upload


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def verl_row(i: int) -> dict[str, Any]:
    """verl's examples/data_preprocess/gsm8k.py layout."""
    return {
        "data_source": "openai/gsm8k",
        "prompt": chat(f"What is {i} + {i}? Output the final answer after '####'."),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(2 * i)},
        "extra_info": {"split": "train", "index": i},
    }


LAYOUTS: dict[str, list[dict[str, Any]]] = {
    "trl_conversational": [
        {"prompt": chat("2+2?"), "completion": [{"role": "assistant", "content": "4"}]},
        {"prompt": chat("3+3?"), "solution": "6"},
    ],
    "trl_plain": [{"prompt": "2+2=", "completion": "4"}, {"prompt": "3+3=", "solution": "6"}],
    "predibase": [{"prompt": "Using [3, 5, 2] make 13.", "nums": [3, 5, 2], "target": 13}],
    "verl": [verl_row(i) for i in range(3)],
    "openai_chat": [{"messages": chat("2+2?"), "reference_answer": "4", "meta": {"k": [1]}}],
}


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def parquet(rows: list[dict[str, Any]], row_group_size: int = 2) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=row_group_size)
    return sink.getvalue()


def stored_rows(client: TestClient, alice: Account, dataset_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/datasets/{dataset_id}/rows?limit=100", headers=alice.headers)
    return [r["row"] for r in response.json()["data"]]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_uploads_as_jsonl(client: TestClient, alice: Account, layout: str) -> None:
    rows = LAYOUTS[layout]
    response = upload(client, alice, jsonl(rows))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["row_count"] == len(rows)
    assert stored_rows(client, alice, body["id"]) == rows  # every field keeps its JSON type


def test_verl_parquet_uploads_streamed_by_row_group(client: TestClient, alice: Account) -> None:
    rows = [verl_row(i) for i in range(7)]
    response = upload(client, alice, parquet(rows))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["format"], body["row_count"]) == ("prompt", 7)
    assert stored_rows(client, alice, body["id"]) == rows


def test_parquet_rows_are_checked_and_named_by_row(client: TestClient, alice: Account) -> None:
    rows = [verl_row(0), {**verl_row(1), "prompt": []}, {**verl_row(2), "reward_model": None}]
    response = upload(client, alice, parquet(rows))
    assert response.status_code == 422
    lines = {e["line"]: e["message"] for e in response.json()["errors"]}
    assert lines[2] == "prompt is empty: a row needs at least one message"
    assert "reward_model must be an object" in lines[3]


def test_a_broken_parquet_file_is_refused_clearly(client: TestClient, alice: Account) -> None:
    response = upload(client, alice, b"PAR1" + b"\0" * 64)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "file" and "Parquet" in error["message"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"prompt": [*chat("q"), {"role": "assistant", "content": "a"}]},
            "prompt ends with an assistant message: put the reference answer in completion",
        ),
        ({"prompt": chat("q"), "reward_model": "42"}, "reward_model must be an object"),
        ({"prompt": chat("q"), "extra_info": [1]}, "extra_info must be an object"),
        ({"prompt": "q", "completion": 4}, "completion must be a string or a list of messages"),
    ],
)
def test_layout_fields_are_checked(
    client: TestClient, alice: Account, row: dict[str, Any], message: str
) -> None:
    response = upload(client, alice, jsonl([row]))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["line"] == 1 and message in error["message"]
