"""The evaluator preview through HTTP: unsaved code on real uploaded rows, in the real sandboxed
pool (one per app), as one JSON answer or as server-sent events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload

# Rows i = 0..n-1: the assistant answers str(i + 1), ground_truth is i + 1 (tests.datasets_support).
CHECKS = """def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"]
    print(f"got {answer} want {ground_truth}")
    if ground_truth == 3:
        raise ValueError("three is not allowed")
    if ground_truth == 4:
        return float("nan")
    if ground_truth == 5:
        return 1.7
    score = 1.0 if ground_truth % 2 else 0.25
    return {"score": score, "reason": "parity", "metrics": {"len": {"score": len(answer)}}}
"""
SPEC = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
        "reference": "{{item.ground_truth}}", "operation": "eq"}  # fmt: skip
PREVIEW = "/api/v1/evaluators/preview"


@pytest.fixture
def dataset(client: TestClient, alice: Account) -> int:
    """Alice's uploaded dataset of 8 addition rows."""
    response = upload(client, alice, rows_bytes(8))
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


def preview(client: TestClient, account: Account, **body: Any) -> Any:
    return client.post(PREVIEW, json=body, headers=account.headers)


def events(text: str) -> list[tuple[str, Any]]:
    """(event, parsed data) for each server-sent event in a body."""
    out = []
    for block in text.strip().split("\n\n"):
        if block.startswith(":"):  # a keep-alive comment: clients ignore it
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


class TestPreview:
    def test_scores_the_rows_of_a_dataset(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        response = preview(client, alice, code=CHECKS, dataset_id=dataset)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["isolation"] in ("bubblewrap", "rlimits-only")
        results = body["results"]
        assert [r["row_index"] for r in results] == list(range(8))
        assert [r["score"] for r in results] == [1.0, 0.25, None, None, None, 0.25, 1.0, 0.25]
        assert [r["is_score_valid"] for r in results] == [True, True, False, False, False] + [
            True
        ] * 3
        assert results[0]["reason"] == "parity"
        assert results[0]["metrics"] == {"len": {"score": 1.0, "reason": None}}
        assert all(r["duration_ms"] >= 0 for r in results)
        summary = body["summary"]
        assert (summary["count"], summary["valid"], summary["invalid"]) == (8, 5, 3)
        assert summary["mean_score"] == pytest.approx((1.0 + 0.25 * 3 + 1.0) / 5)
        assert [b["count"] for b in summary["histogram"]] == [0, 0, 3, 0, 0, 0, 0, 0, 0, 2]
        assert summary["histogram"][2] == {"start": 0.2, "end": 0.3, "count": 3}
        assert summary["duration_ms"] > 0

    def test_histogram_bins_any_float_rewards_on_their_own_range(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        # TRL takes any float (unsloth's correctness reward gives 2.0, verl's math_dapo -1.0):
        # fixed 0-1 bins would pile every score into the two end bins.
        code = (
            "def correctness_reward(completions, ground_truth, **kwargs):\n"
            "    return [2.0 if g % 2 else -1.0 for g in ground_truth]\n"
        )
        summary = preview(client, alice, code=code, dataset_id=dataset).json()["summary"]
        assert summary["valid"] == 8
        bins = summary["histogram"]
        assert (bins[0]["start"], bins[-1]["end"]) == (-1.0, 2.0)
        assert [b["count"] for b in bins] == [4, 0, 0, 0, 0, 0, 0, 0, 0, 4]
        assert bins[1]["start"] == pytest.approx(-0.7)

    def test_prints_come_back_per_row(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        results = preview(client, alice, code=CHECKS, dataset_id=dataset).json()["results"]
        assert [r["stdout"] for r in results[:2]] == ["got 1 want 1\n", "got 2 want 2\n"]

    def test_exception_gives_traceback_and_user_line(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        row = preview(client, alice, code=CHECKS, dataset_id=dataset, rows=[2]).json()
        [result] = row["results"]
        assert result["row_index"] == 2 and result["is_score_valid"] is False
        assert result["error_line"] == 5
        assert "ValueError: three is not allowed" in result["error"]
        assert "three is not allowed" in result["reason"]
        assert result["stdout"] == "got 3 want 3\n"

    def test_nan_and_out_of_range_are_invalid_with_a_reason(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        body = preview(client, alice, code=CHECKS, dataset_id=dataset, rows=[3, 4]).json()
        nan, high = body["results"]
        assert (nan["row_index"], nan["score"], nan["is_score_valid"]) == (3, None, False)
        assert "NaN" in nan["reason"]
        assert (high["row_index"], high["is_score_valid"]) == (4, False)
        assert "1.7" in high["reason"] and "outside" in high["reason"]
        assert body["summary"]["mean_score"] is None

    def test_syntax_error_is_refused_with_its_line(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        code = "def evaluate(messages, **kw):\n    return 1.0 +\n"
        response = preview(client, alice, code=code, dataset_id=dataset)
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "Invalid evaluator code"
        assert body["errors"][0]["field"] == "code" and body["errors"][0]["line"] == 2

    def test_chosen_rows_in_their_order_and_limit(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        chosen = preview(client, alice, code=CHECKS, dataset_id=dataset, rows=[7, 0, 7]).json()
        assert [r["row_index"] for r in chosen["results"]] == [7, 0, 7]
        assert [r["score"] for r in chosen["results"]] == [0.25, 1.0, 0.25]
        first = preview(client, alice, code=CHECKS, dataset_id=dataset, limit=2).json()
        assert [r["row_index"] for r in first["results"]] == [0, 1]
        many = preview(client, alice, code=CHECKS, dataset_id=dataset, limit=1000).json()
        assert many["summary"]["count"] == 8

    @pytest.mark.parametrize(
        ("extra", "field"),
        [
            ({"rows": [8]}, "rows"),
            ({"rows": [-1]}, "rows.0"),  # the element is named
            ({"rows": []}, "rows"),
            ({"limit": 1001}, "limit"),
            ({"limit": 0}, "limit"),
            ({"colour": "red"}, "colour"),
        ],
    )
    def test_bad_rows_or_limit_are_named(
        self, client: TestClient, alice: Account, dataset: int, extra: dict[str, Any], field: str
    ) -> None:
        response = preview(client, alice, code=CHECKS, dataset_id=dataset, **extra)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]

    def test_grader_spec_as_object_or_json_text(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        for code in (SPEC, json.dumps(SPEC)):
            body = preview(client, alice, code=code, dataset_id=dataset, limit=3).json()
            assert [r["score"] for r in body["results"]] == [1.0, 1.0, 1.0]

    def test_other_users_dataset_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, dataset: int
    ) -> None:
        response = preview(client, bob, code=CHECKS, dataset_id=dataset)
        assert response.status_code == 404
        assert response.json() == {
            "detail": f"Dataset {dataset} not found",
            "errors": [{"field": "dataset_id", "message": f"dataset {dataset} not found"}],
        }


class TestPreviewStream:
    def test_one_result_event_per_row_then_summary_and_end(
        self, client: TestClient, alice: Account, dataset: int
    ) -> None:
        body = {"code": CHECKS, "dataset_id": dataset, "rows": [0, 2, 5, 6]}
        response = client.post(f"{PREVIEW}/stream", json=body, headers=alice.headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        sent = events(response.text)
        assert [kind for kind, _ in sent] == ["result"] * 4 + ["summary", "end"]
        by_row = {data["row_index"]: data for kind, data in sent if kind == "result"}
        assert sorted(by_row) == [0, 2, 5, 6]
        assert by_row[0]["score"] == 1.0 and by_row[0]["stdout"] == "got 1 want 1\n"
        assert by_row[2]["error_line"] == 5
        summary = sent[4][1]
        assert (summary["count"], summary["valid"], summary["invalid"]) == (4, 3, 1)
        assert len(summary["histogram"]) == 10
        assert sent[5][1]["count"] == 4

    def test_refusals_come_before_the_stream_as_json(
        self, client: TestClient, alice: Account, bob: Account, dataset: int
    ) -> None:
        bad = {"code": "def evaluate(:\n", "dataset_id": dataset}
        response = client.post(f"{PREVIEW}/stream", json=bad, headers=alice.headers)
        assert response.status_code == 422 and response.json()["errors"][0]["line"] == 1
        theirs = {"code": CHECKS, "dataset_id": dataset}
        assert client.post(f"{PREVIEW}/stream", json=theirs, headers=bob.headers).status_code == 404


class TestSharedPool:
    def test_one_pool_per_app_closed_on_shutdown(
        self, settings: Settings, alice: Account, session_factory: Any
    ) -> None:
        app = create_app(settings.model_copy(update={"evaluator_preview_workers": 1}))
        shared = app.state.evaluator_pool
        with TestClient(app) as test_client:
            assert not shared.started  # nothing runs until the first preview
            ident = upload(test_client, alice, rows_bytes(3)).json()["id"]
            preview(test_client, alice, code=CHECKS, dataset_id=ident)
            pool = shared.get()
            assert pool.size == 1
            preview(test_client, alice, code=CHECKS, dataset_id=ident, limit=1)
            assert shared.get() is pool
        assert pool.closed and not shared.started
        app.state.engine.dispose()
