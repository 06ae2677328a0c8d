"""Small things a user trips on, in a real browser: a refused IDE run says so where the
results go; red danger buttons show their text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.datasets_support import rows_bytes

pytestmark = pytest.mark.e2e


def test_refused_run_replaces_running_in_the_results(signed_in_page: Page, tmp_path: Path) -> None:
    page = signed_in_page
    data = tmp_path / "adds.jsonl"
    data.write_bytes(rows_bytes(5))
    page.goto(page.url.rstrip("/") + "/datasets")
    page.get_by_label("JSONL file", exact=True).set_input_files(data)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+$"))

    # The Delete button is red with readable (white) text.
    delete = page.get_by_role("button", name=re.compile("Delete"))
    colors = delete.evaluate(
        "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    )
    assert colors[0] != colors[1], colors

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evaluations").click()
    page.wait_for_function("window.RftIde && RftIde.editor")
    page.evaluate("code => RftIde.editor.setValue(code)", "def evaluate(:\n    return 1\n")
    page.get_by_role("button", name=re.compile(r"^Run")).first.click()
    summary = page.get_by_test_id("summary")
    expect(summary).to_contain_text("Not run")
    expect(summary).not_to_contain_text("Running")
