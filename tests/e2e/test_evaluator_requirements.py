"""A person declares a package their reward function imports, saves, reads pip's install log in
the environment panel, and runs the evaluator with it (pip reads a wheel built here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from tests.api.test_evaluator_requirements import USES_PACKAGE, build_wheel
from tests.e2e.test_evaluations import answered_rows, create_dataset, set_code

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "tinyreward", "0.1", "SCORE = 0.75\n")
    return settings.model_copy(update={"evaluator_pip_args": f"--no-index --find-links {wheels}"})


def test_declare_a_requirement_save_read_the_log_and_run(
    signed_in_page: Page, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    create_dataset(settings, session_factory, "alice", answered_rows(3))
    page = signed_in_page
    page.goto(page.url.rstrip("/") + "/evaluations")
    page.wait_for_function("document.getElementById('ide').dataset.warm === 'done'")
    set_code(page, USES_PACKAGE)
    page.get_by_test_id("environment").locator("summary").first.click()
    page.get_by_label("Requirements of this evaluator").fill("tinyreward==0.1")

    page.get_by_label("Run on").select_option("first")
    page.get_by_label("N", exact=True).fill("3")
    page.get_by_role("button", name="Run", exact=True).click()
    # The first run installs the package (pip, cold caches on a fresh machine): not 5 s.
    expect(page.locator("#results tbody td.score")).to_have_text(["0.75"] * 3, timeout=60_000)

    page.get_by_label("Name", exact=True).fill("uses a package")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("evaluator-version")).to_have_text(re.compile(r"ID \d+ · v1"))
    expect(page.get_by_test_id("env-status")).to_have_text("Environment ready: tinyreward==0.1")
    page.get_by_text("pip's install log").click()
    expect(page.get_by_test_id("env-log")).to_contain_text("Successfully installed tinyreward-0.1")

    # A requirement pip cannot find: not saved, and pip's words are shown.
    page.get_by_label("Requirements of this evaluator").fill("tinyreward==0.1\nnothere")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("env-log")).to_contain_text("No matching distribution")
    expect(page.get_by_test_id("evaluator-version")).to_have_text(re.compile(r"ID \d+ · v1"))
