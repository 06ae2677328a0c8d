"""The job pages in Chromium on real demo jobs: two short GRPO + LoRA runs through a real
`rft worker`. The pages need a run's records, not a model that learns: the demo model here is
pre-trained 100 steps (seconds to build; cached in .cache/ like the one of tests/worker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from tests.conftest import Account
from tests.e2e.test_job_page import CHARTS, chart_points
from tests.helpers import demo_model
from tests.worker.conftest import (  # noqa: F401  (fixtures)
    demo_request,
    train_env,
    train_settings,
    wait_for_job,
    worker_process,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
STEPS, EVERY = 24, 8
PRETRAIN_STEPS = 100


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return demo_model(PRETRAIN_STEPS)


@pytest.fixture
def settings(settings: Settings, models_dir: Path) -> Settings:
    """The live server knows the demo model (job requests name it)."""
    return settings.model_copy(update={"models_dir": models_dir})


def launch(live_server: str, alice: Account, request: dict[str, Any], **training: Any) -> int:
    body = {**request, "training": {**request["training"], **training}}
    body["training"].update(max_steps=STEPS, eval_steps=EVERY, save_steps=EVERY)
    response = httpx.post(f"{live_server}/api/v1/jobs", json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_real_jobs_on_the_job_pages(
    page: Page,
    live_server: str,
    login_link: Callable[[str], str],
    alice: Account,
    demo_request: dict[str, Any],  # noqa: F811
    worker_process: Any,  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    worker_process()
    first = launch(live_server, alice, demo_request, lora_rank=8, beta=0.04)
    second = launch(live_server, alice, demo_request, lora_rank=4)
    page.goto(login_link("alice"))
    page.goto(f"{live_server}/fine-tuning/{first}")  # opened while queued or running: live
    wait_for_job(session_factory, first, lambda j: j.status == "completed", timeout=400)
    expect(page.get_by_test_id("job-status")).to_have_text("completed", timeout=30_000)
    expect(page.get_by_test_id("job-step")).to_have_text(f"{STEPS}/{STEPS}")

    # A finished job's page: its final state on first paint, nothing "running".
    page.goto(f"{live_server}/fine-tuning/{first}")
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    assert "running" not in page.locator("#job").inner_text().lower()
    expect(page.get_by_test_id("job-eta")).to_have_text("—")
    points = chart_points(page)
    assert set(points) == set(CHARTS)
    assert all(n > 0 for n in points.values()), points
    expect(page.get_by_test_id("best-checkpoint")).to_have_count(1)
    expect(page.locator("[data-testid=checkpoints] tbody tr")).to_have_count(STEPS // EVERY)
    expect(page.get_by_test_id("summary-best")).not_to_have_text("—")

    # Completions: by reward, then by step.
    results = page.get_by_test_id("completions-results")
    expect(results).not_to_have_attribute("data-count", "0")
    api = f"{live_server}/api/v1/jobs/{first}/completions"
    at_least_one = httpx.get(api, params={"reward_min": 1}, headers=alice.headers).json()
    page.get_by_test_id("reward-min").fill("1")
    page.get_by_test_id("reward-min").dispatch_event("change")
    expect(results).to_have_attribute("data-count", str(at_least_one["count"]))
    rewards = page.eval_on_selector_all(
        "[data-testid=completion-row]", "rows => rows.map(r => +r.dataset.reward)"
    )
    assert all(r >= 1 for r in rewards)
    page.get_by_test_id("reward-min").fill("")
    slider = page.get_by_test_id("step-slider")
    slider.fill("0")  # no samples at step 0: the first step that has some
    slider.dispatch_event("change")
    total = httpx.get(api, headers=alice.headers).json()["count"]
    oldest = httpx.get(api, params={"offset": total - 1}, headers=alice.headers).json()["data"]
    first_step = oldest[0]["step"]
    expect(page.get_by_test_id("shown-step")).to_have_text(str(first_step))
    steps = page.eval_on_selector_all(
        "[data-testid=completion-row]", "rows => [...new Set(rows.map(r => r.dataset.step))]"
    )
    assert steps == [str(first_step)]

    # Two jobs compared, with their configuration diff.
    wait_for_job(session_factory, second, lambda j: j.status == "completed", timeout=400)
    page.goto(f"{live_server}/fine-tuning/compare?ids={first},{second}")
    expect(page.get_by_test_id("compare-run")).to_have_count(2)
    keys = page.eval_on_selector_all(
        "[data-testid=diff-row]", "rows => rows.map(r => r.dataset.key)"
    )
    assert "training.lora_rank" in keys and "training.beta" in keys
    assert "training.learning_rate" not in keys
    compared = chart_points(page)
    assert compared["reward"] > 0 and compared["eval/reward"] > 0
