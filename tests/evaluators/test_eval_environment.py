"""The evaluator environment: listed with versions by the API and on the Evaluations page, and
a missing import says what there is."""

from __future__ import annotations

from importlib import metadata

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.evaluators import EvaluatorPool, Sample
from tests.conftest import Account
from tests.web.test_pages import sign_in

REQUIRED = {
    "numpy", "scipy", "sympy", "pandas", "rapidfuzz", "rouge-score", "nltk", "jsonschema",
    "math-verify", "latex2sympy2_extended",
}  # fmt: skip


def test_api_lists_the_packages_with_versions(client: TestClient, alice: Account) -> None:
    response = client.get("/api/v1/evaluators/environment", headers=alice.headers)
    assert response.status_code == 200
    listed = {p["name"]: p for p in response.json()["data"]}
    assert set(listed) >= REQUIRED
    assert listed["rapidfuzz"]["version"] == metadata.version("rapidfuzz")
    assert listed["math-verify"]["import_name"] == "math_verify"


def test_the_evaluations_page_shows_them(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, session_factory, "alice")
    page = client.get("/evaluations").text
    assert 'data-testid="environment"' in page
    assert f"<td>{metadata.version('sympy')}</td>" in page


def test_a_missing_import_says_what_there_is(pool: EvaluatorPool) -> None:
    code = "import not_a_real_package\n\ndef evaluate(messages, **kw):\n    return 1.0\n"
    [result] = pool.score(code, [Sample({"prompt": "q"}, "a")])
    assert not result.is_score_valid
    assert result.reason is not None
    assert "'not_a_real_package' is not in the evaluator environment" in result.reason
    assert "math_verify" in result.reason
    assert "declare it in the evaluator's requirements" in result.reason
