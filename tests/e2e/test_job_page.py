"""The job pages in Chromium on records built through the services: charts drawn from the page's
own data, live updates from the stream, filters, compare. (test_job_training.py runs a real job.)"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.services import job_records, users
from tests.job_records_support import finished_job, make_job, record_steps

CHARTS = [
    "reward",
    "evaluator-reward",
    "evaluator-invalid",
    "validation",
    "kl-loss",
    "entropy",
    "length",
    "zero-spread",
    "lr-grad",
    "step-time",
]


def chart_points(page: Page) -> dict[str, int]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        ".chart-panel",
        "els => Object.fromEntries(els.map(e => [e.dataset.chart, +e.dataset.points]))",
    )


def test_finished_job_paints_its_final_state(
    page: Page,
    live_server: str,
    login_link: Callable[[str], str],
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        job_id = finished_job(session, users.get_or_create(session, "alice")).id
    page.goto(login_link("alice"))
    page.goto(f"{live_server}/fine-tuning/{job_id}")
    expect(page.get_by_test_id("job-status")).to_have_text("completed")
    points = chart_points(page)
    assert set(points) == set(CHARTS)
    assert all(n > 0 for n in points.values()), points
    expect(page.get_by_test_id("best-checkpoint")).to_have_count(1)
    expect(page.get_by_test_id("job-summary")).to_be_visible()
    # completions: by reward, then by step with the slider
    expect(page.get_by_test_id("completions-results")).to_have_attribute("data-count", "240")
    page.get_by_test_id("reward-min").fill("0.9")
    page.get_by_test_id("reward-min").dispatch_event("change")
    results = page.get_by_test_id("completions-results")
    expect(results).not_to_have_attribute("data-count", "240")
    rewards = page.eval_on_selector_all(
        "[data-testid=completion-row]", "rows => rows.map(r => +r.dataset.reward)"
    )
    assert rewards and min(rewards) >= 0.9
    page.get_by_test_id("reward-min").fill("")
    slider = page.get_by_test_id("step-slider")
    slider.fill("5")
    slider.dispatch_event("change")
    expect(page.locator("[data-testid=completion-row]").first).to_have_attribute("data-step", "5")
    steps = page.eval_on_selector_all(
        "[data-testid=completion-row]", "rows => [...new Set(rows.map(r => r.dataset.step))]"
    )
    assert steps == ["5"]
    page.locator("[data-testid=completion-row] button", has_text="group").first.click()
    expect(page.get_by_test_id("group-column")).to_have_count(1)


def test_running_job_follows_the_stream_without_replay(
    page: Page,
    live_server: str,
    login_link: Callable[[str], str],
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        job = make_job(session, users.get_or_create(session, "alice"), "live")
        record_steps(session, job, range(1, 21), 40)
        job_id = job.id
    page.goto(login_link("alice"))
    page.goto(f"{live_server}/fine-tuning/{job_id}")
    expect(page.get_by_test_id("job-status")).to_have_text("running")
    expect(page.get_by_test_id("job-step")).to_have_text("20/40")
    steps = "() => window.jobPage.store.train.steps.length"
    assert page.evaluate(steps) == 20
    results = page.get_by_test_id("completions-results")
    expect(results).to_have_attribute("data-count", "160")
    with transaction(session_factory) as session:
        job = session.get(type(job), job_id)
        assert job is not None
        record_steps(session, job, range(21, 41), 40)
        job_records.finish(session, job_id, "completed")
    expect(page.get_by_test_id("job-status")).to_have_text("completed", timeout=15_000)
    expect(page.get_by_test_id("job-step")).to_have_text("40/40")
    expect(results).to_have_attribute("data-count", "320", timeout=15_000)  # followed live
    assert page.evaluate(steps) == 40  # every step once: no replay of what the page had
    expect(page.get_by_test_id("job-summary")).to_be_visible()
    expect(page.get_by_test_id("best-checkpoint")).to_have_count(1)


def test_compare_two_jobs(
    page: Page,
    live_server: str,
    login_link: Callable[[str], str],
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        alice = users.get_or_create(session, "alice")
        first = finished_job(session, alice, 20, "rank 8")
        second = finished_job(session, alice, 20, "rank 16")
        second.spec = {**second.spec, "training": {**second.spec["training"], "lora_rank": 16}}
        ids = (first.id, second.id)
    page.goto(login_link("alice"))
    page.goto(f"{live_server}/fine-tuning")
    for job_id in ids:
        page.get_by_label(f"Compare job {job_id}").check()
    page.get_by_test_id("compare-selected").click()
    expect(page.get_by_test_id("compare-run")).to_have_count(2)
    expect(page.get_by_test_id("diff-row")).to_have_count(1)
    expect(page.get_by_test_id("diff-row")).to_have_attribute("data-key", "training.lora_rank")
    points = chart_points(page)
    assert points["reward"] > 0 and points["eval/reward"] > 0
