"""The OpenAI fine-tuning API as an OpenAI script uses it: the official `openai` client against
a live server (no worker here: jobs stay queued; tests/api/test_openai_ft_training.py trains)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.paths import ROOT
from app.models import Job
from app.services import job_records, openai_ft
from tests.conftest import Account

MODEL = "o4-mini-2025-04-16"
LOCAL = "tiny-local"

STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.ground_truth}}",
    "operation": "eq",
}
MULTI = {
    "type": "multi",
    "name": "exact and close",
    "graders": {
        "exact": STRING_CHECK,
        "close": {
            "type": "text_similarity",
            "name": "close",
            "input": "{{sample.output_text}}",
            "reference": "{{item.ground_truth}}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * exact + 0.5 * close",
}


def rows(count: int) -> bytes:
    lines = []
    for i in range(count):
        a, b = i % 10, (i * 3) % 10
        row = {"messages": [{"role": "user", "content": f"{a}+{b}="}], "ground_truth": str(a + b)}
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A local model folder (config and tokenizer files: enough to be listed) and the mapping."""
    folder = tmp_path / "models" / LOCAL
    folder.mkdir(parents=True)
    config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 256}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    return settings.model_copy(
        update={"models_dir": tmp_path / "models", "openai_models": {MODEL: LOCAL}}
    )


@pytest.fixture
def client(live_server: str, alice: Account) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{live_server}/v1", api_key=alice.key, max_retries=0) as api:
        yield api


def upload(client: OpenAI, data: bytes, name: str = "train.jsonl") -> Any:
    return client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune")


def create_job(client: OpenAI, training: str, **extra: Any) -> Any:
    method = {"type": "reinforcement", "reinforcement": {"grader": STRING_CHECK}}
    return client.fine_tuning.jobs.create(
        model=MODEL, training_file=training, method=extra.pop("method", method), **extra
    )


def test_files_round_trip(client: OpenAI) -> None:
    data = rows(12)
    created = upload(client, data)
    assert created.id.startswith("file-") and created.object == "file"
    assert created.bytes == len(data) and created.filename == "train.jsonl"
    assert created.purpose == "fine-tune" and created.status == "processed"

    assert client.files.retrieve(created.id).id == created.id
    assert client.files.content(created.id).read() == data
    second = upload(client, rows(3), "validation.jsonl")
    page = client.files.list(limit=1)
    assert [f.id for f in page.data] == [second.id] and page.has_more
    assert [f.id for f in client.files.list()] == [second.id, created.id]  # follows the cursor

    deleted = client.files.delete(created.id)
    assert deleted.deleted and deleted.id == created.id
    with pytest.raises(openai.NotFoundError) as missing:
        client.files.retrieve(created.id)
    assert missing.value.body["param"] == "file_id"  # type: ignore[index]


def test_a_bad_file_is_refused_naming_its_line(client: OpenAI) -> None:
    bad = rows(2) + b'{"messages": "not a list"}\n'
    with pytest.raises(openai.BadRequestError) as refused:
        upload(client, bad)
    assert "line 3" in refused.value.message
    assert client.files.list().data == []  # nothing half-stored
    with pytest.raises(openai.BadRequestError) as purpose:
        client.files.create(file=("x.jsonl", io.BytesIO(rows(1))), purpose="assistants")
    assert purpose.value.body["param"] == "purpose"  # type: ignore[index]


def test_files_and_jobs_belong_to_their_owner(
    live_server: str, client: OpenAI, bob: Account
) -> None:
    mine = upload(client, rows(8))
    job = create_job(client, mine.id)
    with OpenAI(base_url=f"{live_server}/v1", api_key=bob.key, max_retries=0) as theirs:
        with pytest.raises(openai.NotFoundError):
            theirs.files.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            theirs.fine_tuning.jobs.retrieve(job.id)
        with pytest.raises(openai.NotFoundError):
            create_job(theirs, mine.id)
        assert theirs.fine_tuning.jobs.list().data == []


def test_a_bad_key_gets_openais_401(live_server: str) -> None:
    api = OpenAI(base_url=f"{live_server}/v1", api_key="nope", max_retries=0)
    with api, pytest.raises(openai.AuthenticationError) as refused:
        api.files.list()
    assert refused.value.code == "invalid_api_key"
    raw = httpx.get(f"{live_server}/v1/fine_tuning/jobs")
    assert raw.status_code == 401 and set(raw.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }


def test_a_reinforcement_job_is_mapped_and_answered_as_sent(client: OpenAI) -> None:
    training, validation = upload(client, rows(16)), upload(client, rows(4), "valid.jsonl")
    hyper = {
        "n_epochs": 2,
        "batch_size": 4,
        "learning_rate_multiplier": 2.0,
        "compute_multiplier": 2,
        "eval_interval": 2,
        "eval_samples": 3,
        "reasoning_effort": "low",
    }
    job = create_job(
        client,
        training.id,
        validation_file=validation.id,
        suffix="adder",
        seed=7,
        metadata={"team": "math"},
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": MULTI, "hyperparameters": hyper},
        },
    )
    assert job.id.startswith("ftjob-") and job.object == "fine_tuning.job"
    assert job.status == "queued" and job.model == MODEL and job.fine_tuned_model is None
    assert job.training_file == training.id and job.validation_file == validation.id
    assert job.seed == 7 and job.metadata == {"team": "math"} and job.error is None
    assert job.method is not None and job.method.type == "reinforcement"
    resolved = job.method.reinforcement.hyperparameters  # type: ignore[union-attr]
    assert resolved.n_epochs == 2 and resolved.batch_size == 4
    assert resolved.learning_rate_multiplier == 2.0 and resolved.compute_multiplier == 2.0
    assert job.method.reinforcement.grader.type == "multi"  # type: ignore[union-attr]

    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id)]
    assert any("Mapped onto tiny-local" in m and "4 prompts x 8 completions" in m for m in messages)
    assert any("eval_samples=3 has no counterpart" in m for m in messages)
    assert any("reasoning_effort=low has no counterpart" in m for m in messages)

    native = httpx.get(
        f"{client.base_url}".replace("/v1/", "/api/v1/jobs/") + job.id.removeprefix("ftjob-"),
        headers={"Authorization": f"Bearer {client.api_key}"},
    ).json()
    assert native["training"]["epochs"] == 2 and native["training"]["learning_rate"] == 2e-4
    assert native["rollout"]["n"] == 8 and native["training"]["eval_steps"] == 2
    assert native["evaluators"][0]["name"] == "openai grader: exact and close"


def test_requests_with_no_counterpart_are_refused_naming_the_parameter(client: OpenAI) -> None:
    training = upload(client, rows(8))
    with pytest.raises(openai.BadRequestError) as model:
        client.fine_tuning.jobs.create(model="gpt-4.1", training_file=training.id)
    assert model.value.body["param"] == "model"  # type: ignore[index]
    assert f"{MODEL} (-> {LOCAL})" in model.value.message
    assert "RFT_OPENAI_MODELS" in model.value.message

    with pytest.raises(openai.BadRequestError) as supervised:
        create_job(client, training.id, method={"type": "supervised", "supervised": {}})
    assert supervised.value.body["param"] == "method.type"  # type: ignore[index]

    bad_grader = {**STRING_CHECK, "operation": "regex"}
    with pytest.raises(openai.BadRequestError) as grader:
        create_job(
            client,
            training.id,
            method={"type": "reinforcement", "reinforcement": {"grader": bad_grader}},
        )
    assert grader.value.body["param"] == "method.reinforcement.grader"  # type: ignore[index]
    assert "operation" in grader.value.message

    too_big = {"grader": STRING_CHECK, "hyperparameters": {"batch_size": 9}}
    with pytest.raises(openai.BadRequestError) as batch:
        create_job(client, training.id, method={"type": "reinforcement", "reinforcement": too_big})
    assert batch.value.body["param"] == "method.reinforcement.hyperparameters.batch_size"  # type: ignore[index]

    epochs = {"grader": STRING_CHECK, "hyperparameters": {"n_epochs": 50}}
    with pytest.raises(openai.BadRequestError) as many:
        create_job(client, training.id, method={"type": "reinforcement", "reinforcement": epochs})
    assert many.value.body["param"] == "method.reinforcement.hyperparameters.n_epochs"  # type: ignore[index]

    with pytest.raises(openai.NotFoundError) as missing:
        create_job(client, "file-999999")
    assert missing.value.body["param"] == "training_file"  # type: ignore[index]
    assert client.fine_tuning.jobs.list().data == []


def test_jobs_page_pause_resume_and_cancel(client: OpenAI) -> None:
    training = upload(client, rows(8))
    made = [create_job(client, training.id, metadata={"n": str(i)}) for i in range(3)]
    page = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [made[2].id, made[1].id] and page.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == [j.id for j in made[::-1]]
    chosen = client.fine_tuning.jobs.list(metadata={"n": "1"}).data
    assert [j.id for j in chosen] == [made[1].id]

    job = made[0]
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"  # queued: at once
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.resume(job.id)  # not paused
    client.fine_tuning.jobs.pause(job.id)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)
    statuses = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=3)]
    assert statuses[0] == "Job cancelled"
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []


def test_grader_validate_and_run(client: OpenAI) -> None:
    valid = client.fine_tuning.alpha.graders.validate(grader=MULTI)  # type: ignore[arg-type]
    assert valid.grader is not None and valid.grader.type == "multi"
    with pytest.raises(openai.BadRequestError) as invalid:
        client.fine_tuning.alpha.graders.validate(
            grader={**MULTI, "calculate_output": "exact +"}  # type: ignore[arg-type]
        )
    assert invalid.value.body["param"] == "method.reinforcement.grader"  # type: ignore[index]

    judge = {
        "type": "score_model",
        "name": "judge",
        "model": "o3-mini",
        "input": [{"role": "user", "content": "Grade {{sample.output_text}}"}],
    }
    with pytest.raises(openai.BadRequestError) as endpointless:
        client.fine_tuning.alpha.graders.validate(
            grader={**MULTI, "graders": {**MULTI["graders"], "judge": judge}}  # type: ignore
        )
    assert "score_model grader judge needs an OpenAI-compatible endpoint" in (
        endpointless.value.message
    )
    assert client.fine_tuning.alpha.graders.validate(
        grader={**judge, "base_url": "http://127.0.0.1:9/v1"}  # type: ignore[arg-type]
    ).grader

    item = {"ground_truth": "7"}
    run = client.fine_tuning.alpha.graders.run(grader=MULTI, model_sample="7", item=item)  # type: ignore[arg-type]
    assert run.reward == 1.0 and run.sub_rewards == {"exact": 1.0, "close": 1.0}
    assert run.metadata.name == "exact and close" and run.metadata.type == "multi"
    assert not run.metadata.errors.other_error
    miss = client.fine_tuning.alpha.graders.run(grader=STRING_CHECK, model_sample="8", item=item)  # type: ignore[arg-type]
    assert miss.reward == 0.0

    python = {
        "type": "python",
        "name": "crash",
        "source": "def grade(sample, item):\n    return 1 / 0\n",
    }
    broken = client.fine_tuning.alpha.graders.run(grader=python, model_sample="7", item=item)  # type: ignore[arg-type]
    assert broken.reward == 0.0 and broken.metadata.errors.python_grader_runtime_error
    assert "ZeroDivisionError" in (broken.metadata.errors.python_grader_runtime_error_details or "")
    typo = {**STRING_CHECK, "reference": "{{item.answer}}"}
    unknown = client.fine_tuning.alpha.graders.run(grader=typo, model_sample="7", item=item)  # type: ignore[arg-type]
    assert unknown.metadata.errors.invalid_variable_error


def test_a_running_job_pauses_at_its_next_step_and_resumes_from_the_queue(
    client: OpenAI, session_factory: sessionmaker[Session]
) -> None:
    """The worker's side as the worker writes it: a pause is a cancel the job survives."""
    job = create_job(client, upload(client, rows(8)).id)
    number = int(job.id.removeprefix("ftjob-"))
    with transaction(session_factory) as session:
        assert job_records.claim(session, number, "worker-1") is not None

    assert client.fine_tuning.jobs.pause(job.id).status == "running"  # until its next step
    with session_factory() as session:
        row = session.get(Job, number)
        assert row is not None and row.cancel_requested and row.pause_requested
    with transaction(session_factory) as session:  # the trainer stopped, as for a cancel
        job_records.finish(session, number, "cancelled", worker="worker-1")
    paused = client.fine_tuning.jobs.retrieve(job.id)
    assert paused.status == "paused" and paused.finished_at is None

    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    with session_factory() as session:
        row = session.get(Job, number)
        assert row is not None and not row.cancel_requested and not row.pause_requested

    with transaction(session_factory) as session:
        job_records.claim(session, number, "worker-2")
    client.fine_tuning.jobs.pause(job.id)
    assert client.fine_tuning.jobs.resume(job.id).status == "running"  # the pause withdrawn
    client.fine_tuning.jobs.cancel(job.id)
    with transaction(session_factory) as session:
        job_records.finish(session, number, "cancelled", worker="worker-2")
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"


def test_a_malformed_request_names_the_parameter(live_server: str, alice: Account) -> None:
    body = {
        "model": MODEL,
        "training_file": "file-1",
        "method": {
            "type": "reinforcement",
            "reinforcement": {"grader": STRING_CHECK, "hyperparameters": {"n_epochs": "lots"}},
        },
        "learning_rate": 0.1,
    }
    answer = httpx.post(
        f"{live_server}/v1/fine_tuning/jobs",
        json=body,
        headers={"Authorization": f"Bearer {alice.key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "method.reinforcement.hyperparameters.n_epochs"
    assert "n_epochs: must be 'auto' or a number" in error["message"]
    assert "learning_rate: unknown parameter" in error["message"]
    assert error["type"] == "invalid_request_error"


def test_the_migration_guides_script_runs_with_base_url_and_api_key_changed(
    live_server: str, alice: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = (ROOT / "docs" / "openai-migration.md").read_text()
    script = guide.split("```python\n", 1)[1].split("```", 1)[0]
    lines = script.splitlines()
    marked = ("base_url=", "api_key=")
    changed = [i for i, line in enumerate(lines) if line.lstrip().startswith(marked)]
    assert len(changed) == 2, "the script changes exactly base_url and api_key"
    lines[changed[0]] = f'    base_url="{live_server}/v1",'
    lines[changed[1]] = f'    api_key="{alice.key}",'
    answer = [
        json.dumps({"messages": [{"role": "user", "content": f"{i}*7="}], "reference_answer": "7"})
        for i in range(10)
    ]
    (tmp_path / "train.jsonl").write_text("\n".join(answer) + "\n")
    (tmp_path / "valid.jsonl").write_text("\n".join(answer[:3]) + "\n")
    monkeypatch.chdir(tmp_path)
    printed: list[str] = []
    namespace: dict[str, Any] = {"print": lambda *a: printed.append(" ".join(map(str, a)))}
    exec(compile("\n".join(lines), "docs/openai-migration.md", "exec"), namespace)
    assert printed[0] == "1.0"  # the grader's trial run
    assert any("Mapped onto tiny-local" in line for line in printed)
    assert any("reasoning_effort=medium has no counterpart" in line for line in printed)
    assert namespace["job"].status == "queued" and printed[-1] == "None"  # no worker here


def test_a_succeeded_job_names_models_that_resolve_to_its_checkpoints(
    client: OpenAI, alice: Account, bob: Account, session_factory: sessionmaker[Session]
) -> None:
    """The seam /v1/chat/completions and /v1/models use: model names -> checkpoints."""
    job = create_job(client, upload(client, rows(8)).id, suffix="adder")
    number = int(job.id.removeprefix("ftjob-"))
    with transaction(session_factory) as session:
        job_records.claim(session, number, "worker-1")
        for step in (2, 4):
            job_records.add_checkpoint(session, number, step, f"jobs/{number}/c{step}", {}, None)
    assert client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model is None  # still running
    with transaction(session_factory) as session:
        job_records.finish(session, number, "completed", worker="worker-1")

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == f"ft:{MODEL}:alice:adder:{number}"
    kept = client.fine_tuning.jobs.checkpoints.list(job.id)
    names = [c.fine_tuned_model_checkpoint for c in kept]
    assert names == [f"{done.fine_tuned_model}:ckpt-step-{s}" for s in (4, 2)]
    with session_factory() as session:
        final = openai_ft.checkpoint_for_model(session, alice.user, done.fine_tuned_model)
        early = openai_ft.checkpoint_for_model(session, alice.user, names[1])
        listed = [n for n, _c in openai_ft.fine_tuned_models(session, alice.user)]
        assert openai_ft.checkpoint_for_model(session, bob.user, done.fine_tuned_model) is None
        renamed = done.fine_tuned_model.replace(":adder:", ":other:")
        assert openai_ft.checkpoint_for_model(session, alice.user, renamed) is None
    assert final is not None and final.step == 4 and early is not None and early.step == 2
    assert listed == [done.fine_tuned_model, *names]
