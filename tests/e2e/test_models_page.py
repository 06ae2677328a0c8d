"""The Models page in a real browser: an admin adds a hub id, a real worker downloads it (from a
stand-in hub: this host has no internet), the status widget shows the progress, stops polling
when done, and the model appears in the list."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Account
from tests.worker.test_downloads import hub, worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]


def test_an_admin_adds_a_hub_model_and_watches_it_download(
    page: Page,
    admin: Account,
    login_link: Callable[[str], str],
    worker: None,  # noqa: F811
) -> None:
    page.goto(login_link("root"))  # the admin fixture's user
    page.wait_for_url("**/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_label("Hub id").fill("acme/tiny")
    page.get_by_role("button", name="Add from the hub").click()

    widget = page.get_by_test_id("model-download")
    expect(widget).to_have_attribute("data-state", "downloading", timeout=60_000)
    expect(widget).to_contain_text(re.compile(r"\d of 4 files"))
    row = page.get_by_test_id("model-row").filter(has_text="acme/tiny")
    expect(row).to_contain_text("LlamaForCausalLM", timeout=60_000)  # the list reloaded itself
    expect(row).to_contain_text("hub")
    expect(widget).to_have_count(0)  # a finished download leaves the page, and stops polling
