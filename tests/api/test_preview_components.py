"""The IDE preview of a module with several reward functions: one score per component."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload

# Rows i = 0..n-1: the assistant answers str(i + 1), ground_truth is i + 1.
TWO_FUNCTIONS = """
def exact(prompt, completion, example):
    return 1.0 if completion == str(example["ground_truth"]) else 0.0


def long_answer(completions, **kwargs):
    return [None if len(c[0]["content"]) < 2 else 3.0 for c in completions]
"""


def test_each_component_scores_and_the_mean_is_the_score(
    client: TestClient, alice: Account
) -> None:
    dataset = upload(client, alice, rows_bytes(12)).json()["id"]
    created = client.post(
        "/api/v1/evaluators",
        json={"name": "two", "code": TWO_FUNCTIONS},
        headers=alice.headers,
    ).json()
    assert (created["kind"], created["entry_point"]) == ("components", "exact, long_answer")
    body = {"code": TWO_FUNCTIONS, "dataset_id": dataset, "rows": [0, 10]}
    response = client.post("/api/v1/evaluators/preview", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    short, long = response.json()["results"]
    # "1": long_answer returns None (TRL's skip), so only exact counts.
    assert short["score"] == 1.0 and set(short["metrics"]) == {"exact"}
    # "11": both count: the mean of 1.0 and 3.0.
    assert long["score"] == 2.0
    assert {k: v["score"] for k, v in long["metrics"].items()} == {"exact": 1.0, "long_answer": 3.0}
