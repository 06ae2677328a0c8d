"""A person uploads a JSONL file on the Datasets page, then pages through its rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.datasets_support import rows_bytes

pytestmark = pytest.mark.e2e

RECORD_STATUS = """() => {
  const status = document.getElementById("upload-status");
  new MutationObserver(() => {
    const log = JSON.parse(sessionStorage.getItem("status-log") || "[]");
    log.push(status.textContent);
    sessionStorage.setItem("status-log", JSON.stringify(log));
  }).observe(status, {childList: true, characterData: true, subtree: true});
}"""


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_upload_then_page_through_rows(signed_in_page: Page, tmp_path: Path) -> None:
    path = tmp_path / "adds.jsonl"
    path.write_bytes(rows_bytes(45) + rows_bytes(20000, start=45))  # ~4 MB: progress events
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    expect(page.get_by_role("heading", name="Datasets", exact=True)).to_be_visible()
    page.evaluate(RECORD_STATUS)
    page.get_by_label("JSONL file", exact=True).set_input_files(path)
    page.get_by_label("Name").fill("adds")
    page.get_by_role("button", name="Upload").click()

    page.wait_for_url(re.compile(r"/datasets/\d+$"))
    log = page.evaluate("JSON.parse(sessionStorage.getItem('status-log') || '[]')")
    assert any(entry.startswith("Uploading") for entry in log), log
    assert "Done: opening the dataset…" in log
    expect(page.get_by_role("heading", level=1)).to_contain_text("adds")
    expect(page.get_by_test_id("row-count")).to_have_text("20,045")
    assert no_horizontal_scroll(page)

    status = page.get_by_test_id("rows-status")
    expect(status).to_have_text(re.compile(r"Rows 0\u201319\s+of 20,045"))
    page.get_by_role("button", name="Next →").click()
    expect(status).to_have_text(re.compile(r"Rows 20\u201339\s+of 20,045"))
    # The keyboard works too. One call focuses and presses on the button as it is now: a
    # separate focus() could land on the button the swap above was still replacing (CI saw it).
    page.get_by_role("button", name="Next →").press("Enter")
    expect(status).to_have_text(re.compile(r"Rows 40\u201359"))
    expect(page).to_have_url(re.compile(r"offset=40"))

    page.get_by_label("Go to row").fill("20040")
    page.get_by_label("Go to row").press("Enter")
    expect(status).to_have_text(re.compile(r"Rows 20,040\u201320,044\s+of 20,045"))
    expect(page.get_by_role("button", name="Next →")).to_be_disabled()

    page.get_by_text("JSON of row 20042", exact=True).click()
    expect(page.locator("details[open] pre")).to_contain_text('"ground_truth": 20043')
    page.get_by_role("button", name="← Previous").click()
    expect(status).to_have_text(re.compile(r"Rows 20,020\u201320,039"))
    assert no_horizontal_scroll(page)


def test_refused_upload_lists_the_lines(signed_in_page: Page, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(rows_bytes(2) + b'{"messages": [{"role": "bot", "content": "x"}]}\n')
    page = signed_in_page
    page.goto(page.url.rstrip("/") + "/datasets")
    page.get_by_label("JSONL file", exact=True).set_input_files(path)
    page.get_by_role("button", name="Upload").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Invalid dataset")
    expect(alert).to_contain_text("line 3: messages[0].role: unknown role 'bot'")
    expect(page.locator("#upload-status")).to_contain_text("refused")
    expect(page.get_by_text("No datasets yet")).to_be_visible()
    assert no_horizontal_scroll(page)
