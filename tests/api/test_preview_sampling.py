"""The evaluator preview on prompt-only rows (the usual RFT row: a prompt and a ground truth):
completions sampled from the demo model, or from a checkpoint's LoRA adapter, by a real
`rft worker` process, each scored by the evaluator in the sandboxed pool; and completions typed
by hand. Bad sampling requests are refused naming the field."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.main import create_app
from app.models import Checkpoint, Job
from app.services import demo
from tests.api.test_evaluator_preview import events
from tests.conftest import Account
from tests.datasets_support import upload
from tests.helpers import demo_model, free_port, running_worker, wait_for

PRETRAIN_STEPS = 300  # enough to answer and stop; learning is not what is tested here
PREVIEW = "/api/v1/evaluators/preview"
EXACT = """def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"].strip()
    print(f"answered {answer!r}")
    return {"score": 1.0 if answer == ground_truth else 0.0, "reason": f"expected {ground_truth}"}
"""


def prompt_rows(count: int) -> bytes:
    """Rows "a+b=" with the sum as ground truth and no answer: nothing to score without a model."""
    pairs = [(i % 10, (3 * i + 1) % 10) for i in range(count)]
    return b"".join(
        json.dumps(
            {"messages": [{"role": "user", "content": f"{a}+{b}="}], "ground_truth": str(a + b)}
        ).encode()
        + b"\n"
        for a, b in pairs
    )


@pytest.fixture(scope="module")
def models_dir() -> Path:
    return demo_model(PRETRAIN_STEPS)


@pytest.fixture
def model_settings(settings: Settings, models_dir: Path) -> Settings:
    return settings.model_copy(update={"models_dir": models_dir})


@pytest.fixture
def model_client(
    model_settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    app = create_app(model_settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def worker(server_env: dict[str, str], models_dir: Path) -> Iterator[None]:
    with running_worker(server_env, models_dir):
        yield


@pytest.fixture
def prompts(model_client: TestClient, alice: Account) -> int:
    response = upload(model_client, alice, prompt_rows(4))
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


def make_checkpoint(settings: Settings, factory: sessionmaker[Session], account: Account) -> int:
    """A checkpoint with a LoRA adapter of the demo model (random, non-zero weights)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    storage = Storage.from_settings(settings)
    with transaction(factory) as session:
        job = Job(owner_id=account.user.id, name="j", base_model=demo.DEMO_MODEL, spec={})
        session.add(job)
        session.flush()
        key = f"jobs/{job.id}/checkpoint-10"
        torch.manual_seed(1)
        base = AutoModelForCausalLM.from_pretrained(settings.models_path / demo.DEMO_MODEL)
        config = LoraConfig(r=4, lora_alpha=4, target_modules="all-linear", init_lora_weights=False)
        get_peft_model(base, config).save_pretrained(Path(storage.path(key)))
        checkpoint = Checkpoint(job_id=job.id, step=10, path=key)
        session.add(checkpoint)
        session.flush()
        return checkpoint.id


def sampled_body(dataset: int, **sample: Any) -> dict[str, Any]:
    spec = {"model": demo.DEMO_MODEL, "n": 3, "temperature": 1.0, "max_tokens": 8, **sample}
    return {"code": EXACT, "dataset_id": dataset, "sample": spec}


def assert_scored_samples(results: list[dict[str, Any]], rows: int, n: int) -> None:
    """Every row got n completions, each scored by the evaluator (none "no completion")."""
    by_row: dict[int, list[int]] = {}
    for r in results:
        assert r["source"] == "sampled", r
        assert r["is_score_valid"], r
        assert r["score"] in (0.0, 1.0)
        assert r["reason"].startswith("expected ")
        assert isinstance(r["completion"], str)
        assert r["stdout"] == f"answered {r['completion'].strip()!r}\n"
        by_row.setdefault(r["row_index"], []).append(r["sample_index"])
    assert {row: sorted(ks) for row, ks in by_row.items()} == {
        row: list(range(n)) for row in range(rows)
    }


def test_without_a_model_prompt_only_rows_have_no_completion(
    model_client: TestClient, alice: Account, prompts: int
) -> None:
    response = model_client.post(
        PREVIEW, json={"code": EXACT, "dataset_id": prompts}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    reasons = [r["reason"] for r in response.json()["results"]]
    assert all(r.startswith("no completion") for r in reasons), reasons


def test_prompt_only_rows_scored_on_completions_sampled_from_the_demo_model(
    model_client: TestClient,
    model_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    prompts: int,
    worker: None,
) -> None:
    response = model_client.post(PREVIEW, json=sampled_body(prompts), headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_scored_samples(body["results"], rows=4, n=3)
    assert body["summary"]["count"] == 12 and body["summary"]["invalid"] == 0
    print(f"\n4 rows x 3 samples, cold worker: {body['summary']['duration_ms']:.0f} ms")
    # The model's own answers (300 pre-training steps answer, rarely right: scores may be 0).
    assert any(r["completion"].strip() for r in body["results"]), body["results"]

    # Streamed: progress while the worker generates, then each scored completion.
    with model_client.stream(
        "POST", PREVIEW + "/stream", json=sampled_body(prompts, n=2), headers=alice.headers
    ) as streamed:
        assert streamed.status_code == 200
        got = events(streamed.read().decode())
    kinds = [kind for kind, _ in got]
    assert kinds[-2:] == ["summary", "end"] and "error" not in kinds
    progress = [data for kind, data in got if kind == "progress"]
    assert progress[0] == {"generated": 0, "rows": 4}
    assert progress[-1] == {"generated": 4, "rows": 4}
    assert_scored_samples([data for kind, data in got if kind == "result"], rows=4, n=2)
    warm = next(data for kind, data in got if kind == "summary")["duration_ms"]
    print(f"4 rows x 2 samples, model loaded: {warm:.0f} ms")

    # A checkpoint of alice's: its adapter generates.
    checkpoint = make_checkpoint(model_settings, session_factory, alice)
    response = model_client.post(
        PREVIEW,
        json=sampled_body(prompts, model=None, checkpoint_id=checkpoint, n=1),
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    assert_scored_samples(response.json()["results"], rows=4, n=1)


def test_a_completion_typed_by_hand_is_scored(
    model_client: TestClient, alice: Account, prompts: int
) -> None:
    body = {"code": EXACT, "dataset_id": prompts, "rows": [0, 1], "completions": {"1": " 5 "}}
    response = model_client.post(PREVIEW, json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["source"] == "dataset" and first["reason"].startswith("no completion")
    assert second["source"] == "typed" and second["completion"] == " 5 "  # row 1 is "1+4="
    assert second["score"] == 1.0 and second["stdout"] == "answered '5'\n"


@pytest.mark.parametrize(
    ("sample", "status", "field"),
    [
        ({"n": 0}, 422, "sample.n"),
        ({"n": 9}, 422, "sample.n"),
        ({"temperature": 0}, 422, "sample.temperature"),
        ({"model": "no-such-model"}, 422, "sample.model"),
        ({"checkpoint_id": 1}, 422, "sample"),  # both a model and a checkpoint
        ({"model": None}, 422, "sample"),  # neither
        ({"model": None, "checkpoint_id": 999999}, 404, "sample.checkpoint_id"),
    ],
)
def test_bad_sampling_requests_name_the_field(
    model_client: TestClient,
    alice: Account,
    prompts: int,
    sample: dict[str, Any],
    status: int,
    field: str,
) -> None:
    for path in (PREVIEW, PREVIEW + "/stream"):
        response = model_client.post(
            path, json=sampled_body(prompts, **sample), headers=alice.headers
        )
        assert response.status_code == status, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text


def test_another_users_checkpoint_is_not_found(
    model_client: TestClient,
    model_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    bob: Account,
    prompts: int,
) -> None:
    theirs = make_checkpoint(model_settings, session_factory, bob)
    body = sampled_body(prompts, model=None, checkpoint_id=theirs)
    response = model_client.post(PREVIEW, json=body, headers=alice.headers)
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["field"] == "sample.checkpoint_id"


def test_a_typed_completion_for_a_row_not_run_is_refused(
    model_client: TestClient, alice: Account, prompts: int
) -> None:
    body = {"code": EXACT, "dataset_id": prompts, "rows": [0], "completions": {"3": "7"}}
    response = model_client.post(PREVIEW, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "completions.3"


def test_no_worker_is_a_503_at_once_not_a_hang(
    model_client: TestClient, alice: Account, prompts: int
) -> None:
    for path in (PREVIEW, PREVIEW + "/stream"):
        response = model_client.post(path, json=sampled_body(prompts), headers=alice.headers)
        assert response.status_code == 503, response.text
        assert "worker" in response.json()["detail"]


def test_a_client_that_leaves_stops_the_generation(
    model_settings: Settings,
    session_factory: sessionmaker[Session],
    model_client: TestClient,
    alice: Account,
    worker: None,
) -> None:
    """Leaving mid-run stops the worker's generation (8,000 completions, ~100 s here) and
    drops what it had queued, so the next preview is served at once, not after it."""
    big = upload(model_client, alice, prompt_rows(1000)).json()["id"]
    small = upload(model_client, alice, prompt_rows(2)).json()["id"]
    body = sampled_body(big, n=8, temperature=2.0, max_tokens=256)
    body["limit"] = 1000
    port = free_port()
    app = create_app(model_settings.model_copy(update={"port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the web app")
    url = f"http://127.0.0.1:{port}{PREVIEW}"
    try:
        with httpx.stream(
            "POST", url + "/stream", json=body, headers=alice.headers, timeout=600
        ) as s:
            assert s.status_code == 200
            for line in s.iter_lines():
                if line.startswith("event: result"):  # generation is under way: leave
                    break
        left = time.monotonic()
        response = httpx.post(
            url, json=sampled_body(small, n=1), headers=alice.headers, timeout=600
        )
        print(f"\nnext preview done {time.monotonic() - left:.1f} s after the client left")
        assert response.status_code == 200, response.text
        assert_scored_samples(response.json()["results"], rows=2, n=1)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
