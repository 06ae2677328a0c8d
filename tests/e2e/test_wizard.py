"""A new user's own fine-tune in the browser: upload data, save an evaluator, set up the job in
the wizard (errors shown at their fields), pre-flight, estimate, Launch, and the job trains.

With RFT_SCREENSHOT=1 each wizard step is saved to docs/wizard/ at 1440x900."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.paths import ROOT
from app.models import Job
from app.services import demo
from tests.helpers import demo_model, running_worker

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

SHOTS = ROOT / "docs" / "wizard"
TINY_PRETRAIN_STEPS = 20  # enough to load and train; learning is tests/worker's business
EVALUATOR = """def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"].strip()
    return {"score": 1.0 if answer == ground_truth else 0.0, "reason": f"expected {ground_truth}"}
"""


@pytest.fixture(scope="session")
def tiny_models_dir() -> Path:
    return demo_model(TINY_PRETRAIN_STEPS)


@pytest.fixture
def settings(settings: Settings, tiny_models_dir: Path) -> Settings:
    return settings.model_copy(update={"models_dir": tiny_models_dir})


@pytest.fixture
def worker(server_env: dict[str, str], tiny_models_dir: Path) -> Iterator[None]:
    with running_worker(server_env, tiny_models_dir):
        yield


@pytest.fixture
def wide_page(browser: Browser, login_link: Callable[[str], str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(login_link("newcomer"))
    page.wait_for_url("**/")
    yield page
    context.close()


def own_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        a, b = i % 10, (i * 7) % 10
        rows.append(
            {"messages": [{"role": "user", "content": f"{a}+{b}="}], "ground_truth": str(a + b)}
        )
    return rows


def shoot(page: Page, name: str) -> None:
    if os.environ.get("RFT_SCREENSHOT"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def wait_for(
    factory: sessionmaker[Session], job_id: int, until: Callable[[Job], bool], timeout: float
) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with factory() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if until(job):
                return job
            assert job.status not in ("failed", "cancelled"), (job.status, job.error)
        assert time.monotonic() < deadline, f"job {job_id} still {job.status} at step {job.step}"
        time.sleep(0.5)


def field_error(page: Page, path: str) -> Any:
    return page.locator(f"#err-{path.replace('.', '-')}")


def test_own_fine_tune_end_to_end(
    wide_page: Page,
    worker: None,
    tmp_path: Path,
    session_factory: sessionmaker[Session],
) -> None:
    page = wide_page
    # Their own dataset, uploaded on the Datasets page.
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in own_rows(24)))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.get_by_label("JSONL file", exact=True).set_input_files(data)
    page.get_by_label("Name").fill("my sums")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))

    # Their own evaluator, saved in the IDE.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evaluations").click()
    page.wait_for_function("window.RftIde && RftIde.editor")
    page.evaluate("code => RftIde.editor.setValue(code)", EVALUATOR)
    page.get_by_label("Name", exact=True).fill("my exact sum")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("evaluator-version")).to_have_text(re.compile(r"ID \d+ · v1"))

    # The wizard, from the Fine-tuning page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Fine-tuning").click()
    page.get_by_role("link", name="Fine-tune a model").click()
    page.wait_for_url("**/fine-tuning/new")
    step1 = page.get_by_role("region", name="Base model")
    expect(step1).to_contain_text(demo.DEMO_MODEL)
    expect(step1).to_contain_text("256")
    shoot(page, "1-base-model")
    page.get_by_role("button", name="Next").click()
    step2 = page.get_by_role("region", name="Data")
    expect(step2).to_be_visible()
    page.get_by_label("Training dataset").select_option(label="my sums (24 rows)")
    expect(page.locator("#peek")).to_contain_text("24 rows")
    expect(page.locator("#peek")).to_contain_text("ground_truth")
    shoot(page, "2-data")
    page.get_by_role("button", name="Next").click()
    step3 = page.get_by_role("region", name="Evaluators")
    expect(step3).to_contain_text("my exact sum")
    expect(step3.get_by_role("link", name="open in the IDE")).to_have_attribute(
        "href", re.compile(r"/evaluations\?evaluator=\d+")
    )
    shoot(page, "3-evaluators")
    page.get_by_role("button", name="Next").click()

    # Bad values: each error appears at its own field, in the server's words.
    page.get_by_label("temperature").fill("0")
    page.get_by_label("n", exact=True).fill("1")
    page.get_by_label("lora_rank").fill("12")
    expect(field_error(page, "rollout.temperature")).to_contain_text("between 0.1 and 2.0")
    expect(field_error(page, "rollout.n")).to_contain_text("from 2 to 8")
    expect(field_error(page, "training.lora_rank")).to_contain_text("one of 4, 8, 16")
    shoot(page, "4-parameters")
    page.get_by_label("temperature").fill("1.0")
    page.get_by_label("n", exact=True).fill("4")
    page.get_by_label("lora_rank").fill("")
    page.get_by_label("max_tokens").fill("16")
    page.get_by_label("max_steps").fill("3")
    page.get_by_label("batch_size").fill("200")  # 2 prompts a step: quick steps on a CPU
    expect(field_error(page, "rollout.temperature")).to_be_empty()
    expect(field_error(page, "rollout.n")).to_be_empty()

    # A reload keeps the form.
    page.reload()
    expect(page.get_by_label("max_steps")).to_have_value("3")

    # Review: derived values, the estimate; pre-flight; Launch.
    page.get_by_role("tab", name="5. Review & launch").click()
    estimate = page.get_by_test_id("estimate")
    expect(estimate).to_contain_text("3 steps (2 prompts")
    expect(estimate).to_contain_text("estimate")
    with session_factory() as session:
        assert session.query(Job).count() == 0  # nothing queued before Launch
    page.get_by_role("button", name="Pre-flight").click()
    expect(page.get_by_test_id("preflight")).to_contain_text("Verdict", timeout=240_000)
    expect(page.get_by_test_id("preflight")).to_contain_text("zero-signal")
    shoot(page, "5-review")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/fine-tuning/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    with session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.spec["rollout"]["temperature"] == 1.0
    trained = wait_for(session_factory, job_id, lambda job: job.step > 0, timeout=600)
    assert trained.status in ("running", "completed"), (trained.status, trained.error)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
