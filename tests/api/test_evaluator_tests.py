"""Test cases of an evaluator through HTTP: pinned rows with an expected score range, run with
the latest version or with unsaved code, in the real sandboxed pool."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import EvaluatorTestCase
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload

# Rows i = 0..7: the assistant answers str(i + 1); ground_truth is i + 1.
PARITY = """def evaluate(messages, ground_truth, **kwargs):
    print(f"row with truth {ground_truth}")
    return 1.0 if ground_truth % 2 else 0.25
"""
RAISES = """def evaluate(messages, ground_truth, **kwargs):
    if ground_truth == 2:
        raise ValueError("two")
    return 1.0
"""
API = "/api/v1/evaluators"


@pytest.fixture
def dataset(client: TestClient, alice: Account) -> int:
    response = upload(client, alice, rows_bytes(8))
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


@pytest.fixture
def evaluator(client: TestClient, alice: Account) -> int:
    body = {"name": "parity", "code": PARITY}
    response = client.post(API, json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


def pin(client: TestClient, who: Account, evaluator: int, **body: Any) -> Any:
    return client.post(f"{API}/{evaluator}/tests", json=body, headers=who.headers)


def run(client: TestClient, who: Account, evaluator: int, **body: Any) -> Any:
    return client.post(f"{API}/{evaluator}/tests/run", json=body, headers=who.headers)


def pin_two(client: TestClient, alice: Account, evaluator: int, dataset: int) -> list[int]:
    """Row 0 (truth 1, parity scores 1.0) expects 0.9 to 1; row 1 (truth 2 -> 0.25) expects 1."""
    first = pin(client, alice, evaluator, dataset_id=dataset, row_index=0, min_score=0.9,
                max_score=1.0, note="odd")  # fmt: skip
    second = pin(client, alice, evaluator, dataset_id=dataset, row_index=1, min_score=1.0,
                 max_score=1.0)  # fmt: skip
    assert first.status_code == 201 and second.status_code == 201, second.text
    return [first.json()["id"], second.json()["id"]]


class TestCases:
    def test_pin_list_and_delete(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        first, second = pin_two(client, alice, evaluator, dataset)
        listed = client.get(f"{API}/{evaluator}/tests", headers=alice.headers).json()
        assert listed["count"] == 2
        case = listed["data"][0]
        assert case["id"] == first and case["evaluator_id"] == evaluator
        assert (case["dataset_id"], case["row_index"], case["note"]) == (dataset, 0, "odd")
        assert (case["min_score"], case["max_score"]) == (0.9, 1.0)
        gone = client.delete(f"{API}/{evaluator}/tests/{first}", headers=alice.headers)
        assert gone.status_code == 204
        listed = client.get(f"{API}/{evaluator}/tests", headers=alice.headers).json()
        assert [c["id"] for c in listed["data"]] == [second]
        again = client.delete(f"{API}/{evaluator}/tests/{first}", headers=alice.headers)
        assert again.status_code == 404

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"row_index": 8}, 422, "row_index"),
            ({"row_index": -1}, 422, "row_index"),
            ({"min_score": 0.8, "max_score": 0.2}, 422, "max_score"),
            ({"max_score": 1.5}, 422, "max_score"),
            ({"dataset_id": 999}, 404, "dataset_id"),
            ({"colour": "red"}, 422, "colour"),
        ],
    )
    def test_bad_cases_are_refused_naming_the_field(
        self,
        client: TestClient,
        alice: Account,
        evaluator: int,
        dataset: int,
        body: dict[str, Any],
        status: int,
        field: str,
    ) -> None:
        full = {"dataset_id": dataset, "row_index": 0, "min_score": 0.0, "max_score": 1.0} | body
        response = pin(client, alice, evaluator, **full)
        assert response.status_code == status, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]

    def test_deleting_the_evaluator_deletes_its_cases(
        self,
        client: TestClient,
        alice: Account,
        evaluator: int,
        dataset: int,
        session_factory: sessionmaker[Session],
    ) -> None:
        pin_two(client, alice, evaluator, dataset)
        assert client.delete(f"{API}/{evaluator}", headers=alice.headers).status_code == 204
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(EvaluatorTestCase)) == 0


class TestRun:
    def test_latest_version_by_default(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        first, second = pin_two(client, alice, evaluator, dataset)
        response = run(client, alice, evaluator)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["passed"], body["failed"]) == (1, 1)
        ok, bad = body["data"]
        assert (ok["test"]["id"], ok["score"], ok["passed"]) == (first, 1.0, True)
        assert ok["stdout"] == "row with truth 1\n" and ok["error"] is None
        assert (bad["test"]["id"], bad["score"], bad["passed"]) == (second, 0.25, False)

    def test_unsaved_code_changes_the_outcome(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        pin_two(client, alice, evaluator, dataset)
        body = run(client, alice, evaluator, code="def evaluate(messages, **kw):\n    return 1.0\n")
        assert (body.json()["passed"], body.json()["failed"]) == (2, 0)
        raised = run(client, alice, evaluator, code=RAISES).json()
        assert (raised["passed"], raised["failed"]) == (1, 1)
        failed = raised["data"][1]
        assert failed["score"] is None and failed["passed"] is False
        assert "ValueError: two" in failed["error"] and failed["error_line"] == 3

    def test_code_that_does_not_parse_is_refused_with_its_line(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        pin_two(client, alice, evaluator, dataset)
        response = run(client, alice, evaluator, code="def evaluate(:\n")
        assert response.status_code == 422
        assert response.json()["errors"][0]["line"] == 1

    def test_no_cases_is_an_empty_run(
        self, client: TestClient, alice: Account, evaluator: int
    ) -> None:
        assert run(client, alice, evaluator).json() == {"data": [], "passed": 0, "failed": 0}

    def test_a_case_whose_dataset_was_deleted_fails_and_says_why(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        pin_two(client, alice, evaluator, dataset)
        assert (
            client.delete(f"/api/v1/datasets/{dataset}", headers=alice.headers).status_code == 204
        )
        listed = client.get(f"{API}/{evaluator}/tests", headers=alice.headers).json()
        assert [c["dataset_id"] for c in listed["data"]] == [None, None]
        body = run(client, alice, evaluator).json()
        assert (body["passed"], body["failed"]) == (0, 2)
        assert all("was deleted" in r["error"] for r in body["data"])


class TestOwnership:
    def test_another_users_evaluator_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, evaluator: int, dataset: int
    ) -> None:
        [first, _] = pin_two(client, alice, evaluator, dataset)
        missing = {"detail": f"Evaluator {evaluator} not found", "errors": []}
        calls = [
            client.get(f"{API}/{evaluator}/tests", headers=bob.headers),
            pin(client, bob, evaluator, dataset_id=dataset, row_index=0, min_score=0, max_score=1),
            client.delete(f"{API}/{evaluator}/tests/{first}", headers=bob.headers),
            run(client, bob, evaluator),
        ]
        for response in calls:
            assert response.status_code == 404, response.text
            assert response.json() == missing
        assert client.get(f"{API}/{evaluator}/tests", headers=alice.headers).json()["count"] == 2

    def test_pinning_another_users_dataset_is_not_found(
        self, client: TestClient, alice: Account, bob: Account, dataset: int
    ) -> None:
        own = client.post(API, json={"name": "bobs", "code": PARITY}, headers=bob.headers).json()
        response = pin(client, bob, own["id"], dataset_id=dataset, row_index=0, min_score=0,
                       max_score=1)  # fmt: skip
        assert response.status_code == 404
        assert response.json()["errors"] == [
            {"field": "dataset_id", "message": f"dataset {dataset} not found"}
        ]

    def test_a_case_of_one_evaluator_cannot_be_deleted_through_another(
        self, client: TestClient, alice: Account, evaluator: int, dataset: int
    ) -> None:
        [first, _] = pin_two(client, alice, evaluator, dataset)
        other = client.post(API, json={"name": "other", "code": PARITY}, headers=alice.headers)
        response = client.delete(f"{API}/{other.json()['id']}/tests/{first}", headers=alice.headers)
        assert response.status_code == 404
