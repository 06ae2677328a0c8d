"""The fine-tune wizard over HTTP: the steps, errors at their fields, review, copy, launch."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.models import Job, User
from app.services import demo
from tests.web.test_pages import sign_in


@pytest.fixture
def setup(
    client: TestClient, settings: Settings, session_factory: sessionmaker[Session]
) -> dict[str, str]:
    """A signed-in user with the demo dataset and evaluator, and a model folder (config only)."""
    folder = settings.models_path / demo.DEMO_MODEL
    folder.mkdir(parents=True)
    config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 256}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    csrf = sign_in(client, session_factory)
    with transaction(session_factory) as session:
        user = session.query(User).filter_by(name="alice").one()
        resources = demo.seed(session, settings, user)
    return {
        "X-CSRF-Token": csrf,
        "HX-Request": "true",
        "dataset": str(resources.dataset_id),
        "evaluator": str(resources.evaluator_id),
    }


def form(setup: dict[str, str], **params: str) -> dict[str, str]:
    return {
        "base_model": demo.DEMO_MODEL,
        "dataset_id": setup["dataset"],
        "validation": "none",
        "evaluator": setup["evaluator"],
        f"weight_{setup['evaluator']}": "1",
        **params,
    }


def headers(setup: dict[str, str]) -> dict[str, str]:
    return {"X-CSRF-Token": setup["X-CSRF-Token"], "HX-Request": "true"}


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="err-{re.escape(field)}"[^>]*>([^<]*)<', html)
    assert match, f"no error element for {field}"
    return match.group(1).strip()


def test_page_shows_each_step_with_models_data_evaluators_and_parameter_guide(
    client: TestClient, setup: dict[str, str]
) -> None:
    html = client.get("/fine-tuning/new").text
    for step in ("1. Base model", "2. Data", "3. Evaluators", "4. Parameters", "5. Review"):
        assert step in html
    assert demo.DEMO_MODEL in html and "Qwen2ForCausalLM" in html and ">256<" in html
    assert "rows)" in html and "open in the IDE" in html
    assert "between 0.1 and 2.0" in html and "never near 0" in html  # range and guide
    assert "/fine-tuning/new" in client.get("/fine-tuning").text  # the way in


def test_errors_come_back_at_their_fields(client: TestClient, setup: dict[str, str]) -> None:
    params = {"rollout.temperature": "0", "rollout.n": "1", "training.lora_rank": "12"}
    html = client.post(
        "/fine-tuning/new/check", data=form(setup, **params), headers=headers(setup)
    ).text
    assert "between 0.1 and 2.0" in field_error(html, "rollout-temperature")
    assert "from 2 to 8" in field_error(html, "rollout-n")
    assert "4, 8, 16, 32, 64, 128" in field_error(html, "training-lora_rank")
    assert field_error(html, "rollout-top_p") == ""  # good fields are cleared
    fixed = client.post("/fine-tuning/new/check", data=form(setup), headers=headers(setup)).text
    assert field_error(fixed, "rollout-temperature") == ""


def test_review_shows_derived_values_and_an_estimate(
    client: TestClient, setup: dict[str, str]
) -> None:
    html = client.post("/fine-tuning/new/review", data=form(setup), headers=headers(setup)).text
    assert "training.max_context_length" in html and "256" in html and "derived" in html
    assert "steps" in html and "Estimated wall time" in html
    assert "no job has finished on this installation yet" in html


def test_launch_queues_one_job_and_copy_refills_the_form(
    client: TestClient, setup: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        assert session.query(Job).count() == 0  # checks and reviews queued nothing
    data = form(setup, **{"rollout.temperature": "0.9", "validation": "carve"})
    data["validation_percent"] = "20"
    response = client.post("/fine-tuning/new/launch", data=data, headers=headers(setup))
    assert response.status_code == 204, response.text
    job_id = int(response.headers["hx-redirect"].rsplit("/", 1)[1])
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.spec["rollout"]["temperature"] == 0.9
        assert job.validation_dataset_id is not None  # carved out at launch
    copy = client.get(f"/fine-tuning/new?from={job_id}").text
    prefill = json.loads(
        re.search(r"data-prefill='([^']*)'", copy).group(1).replace("&#34;", '"')  # type: ignore[union-attr]
    )
    assert prefill["rollout.temperature"] == 0.9
    assert "rollout.max_tokens" not in prefill  # derived: derived again for the copy


def test_launch_with_a_bad_value_queues_nothing(
    client: TestClient, setup: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    data = form(setup, **{"rollout.n": "1"})
    response = client.post("/fine-tuning/new/launch", data=data, headers=headers(setup))
    assert response.status_code == 422
    assert "rollout.n" in response.text
    with session_factory() as session:
        assert session.query(Job).count() == 0


def test_peek_shows_row_count_and_first_rows(client: TestClient, setup: dict[str, str]) -> None:
    response = client.get(f"/fine-tuning/new/peek?dataset_id={setup['dataset']}")
    assert response.status_code == 200, response.text
    assert "rows" in response.text and "ground_truth" in response.text
