"""The screenshots in docs/ (job page running and finished, completions, compare, job list):
`RFT_SCREENSHOTS=docs pytest tests/e2e/test_job_screenshots.py` writes them; skipped otherwise."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from app.core.db import transaction
from app.services import users
from tests.job_records_support import finished_job, make_job, record_steps

OUT = os.environ.get("RFT_SCREENSHOTS", "")


@pytest.mark.skipif(not OUT, reason="set RFT_SCREENSHOTS=<folder> to write the screenshots")
def test_screenshots(browser, live_server, login_link, session_factory):  # type: ignore[no-untyped-def]
    os.makedirs(OUT, exist_ok=True)
    with transaction(session_factory) as session:
        alice = users.get_or_create(session, "alice")
        done = finished_job(session, alice, 120, "addition, rank 8")
        other = finished_job(session, alice, 120, "addition, rank 16", pace=1.6)
        training = {**other.spec["training"], "lora_rank": 16, "learning_rate": 5e-5}
        other.spec = {**other.spec, "training": training}
        run = make_job(session, alice, "addition, running")
        record_steps(session, run, range(1, 61), 120)
        ids = (done.id, other.id, run.id)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(login_link("alice"))
    page.goto(f"{live_server}/fine-tuning/{ids[0]}")
    expect(page.get_by_test_id("completions-results")).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=f"{OUT}/job-finished.png", full_page=True)
    page.locator("[data-testid=completion-row] button", has_text="group").first.click()
    expect(page.get_by_test_id("group-column")).to_have_count(1)
    page.get_by_test_id("group-other").select_option(index=3)
    expect(page.get_by_test_id("group-column")).to_have_count(2)
    page.locator("#completions").screenshot(path=f"{OUT}/job-completions.png")
    page.goto(f"{live_server}/fine-tuning/{ids[2]}")
    page.wait_for_timeout(500)
    page.screenshot(path=f"{OUT}/job-running.png")
    page.goto(f"{live_server}/fine-tuning/compare?ids={ids[0]},{ids[1]}")
    page.wait_for_timeout(500)
    page.screenshot(path=f"{OUT}/job-compare.png", full_page=True)
    page.goto(f"{live_server}/fine-tuning")
    page.screenshot(path=f"{OUT}/jobs.png")
    context.close()
