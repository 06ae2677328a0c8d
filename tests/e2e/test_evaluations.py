"""A person writes an evaluator on the Evaluations page, runs it on real rows, reads its print
output, fixes a bug shown at its line, saves versions and pins a row as a test case."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage, staging_dir
from app.ingest.jsonl import JsonlValidator
from app.ingest.uploads import StagedUpload
from app.schemas.dataset import DatasetUploadForm
from app.services import datasets, demo, evaluators, users

pytestmark = pytest.mark.e2e

ROWS = 40
LATENCY_LIMIT_MS = 500
SCREENSHOT = Path(__file__).parents[2] / "docs" / "evaluations.png"

# Prints what it compares; 1.0 for a right sum, 0.0 for a wrong one (every third row is wrong).
CODE_V1 = """def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"]
    print(f"answer {answer} truth {ground_truth}")
    return {"score": 1.0 if answer == ground_truth else 0.0, "reason": "exact sum"}
"""
# Line 4 divides by zero on every row.
CODE_BUG = """def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"]
    print(f"checking {answer}")
    ratio = int(answer) / (int(ground_truth) - int(ground_truth))
    return ratio
"""
# Half credit for everything: a pinned row that expects 1.0 now fails.
CODE_HALF = """def evaluate(messages, ground_truth, **kwargs):
    return 0.5
"""
TIMING = """() => {
  window.__ide = {};
  document.addEventListener("click", (e) => {
    if (e.target.id === "run") window.__ide.clicked = performance.now();
  }, true);
  const body = document.querySelector("#results tbody");
  new MutationObserver(() => {
    if (window.__ide.first === undefined && body.querySelector("tr")) {
      window.__ide.first = performance.now();
    }
  }).observe(body, {childList: true});
}"""


def answered_rows(count: int) -> list[dict[str, Any]]:
    """The demo's addition rows with an assistant answer: right, except every third row."""
    rows = demo.addition_rows(count, seed=0)
    for i, row in enumerate(rows):
        answer = int(row["ground_truth"]) + (1 if i % 3 == 0 else 0)
        row["messages"].append({"role": "assistant", "content": str(answer)})
    return rows


def expected_score(i: int) -> str:
    return "0.00" if i % 3 == 0 else "1.00"


def create_dataset(
    settings: Settings, factory: sessionmaker[Session], owner: str, rows: list[dict[str, Any]]
) -> int:
    """A dataset for ``owner`` made through the services (as an upload would be)."""
    stem = staging_dir(settings) / uuid.uuid4().hex
    data, index = Path(f"{stem}.jsonl"), Path(f"{stem}.idx")
    payload = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    data.write_bytes(payload)
    with index.open("wb") as out:
        validator = JsonlValidator(out)
        validator.feed(payload)
        report = validator.finish()
    staged = StagedUpload(data, index, report, filename="adds.jsonl")
    try:
        with transaction(factory) as session:
            user = users.get_or_create(session, owner)
            storage = Storage.from_settings(settings)
            row = datasets.create(session, storage, user, staged, DatasetUploadForm(name="adds"))
            return row.id
    finally:
        staged.discard()


@pytest.fixture
def ide(
    signed_in_page: Page,
    settings: Settings,
    session_factory: sessionmaker[Session],
    live_server: str,
) -> Page:
    """Alice on the Evaluations page with a dataset of answered additions, workers warm."""
    create_dataset(settings, session_factory, "alice", answered_rows(ROWS))
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Evaluations").click()
    page.wait_for_url("**/evaluations")
    expect(page.get_by_test_id("ide-rows-status")).to_have_text(f"Rows 0\u20139 of {ROWS}")
    # The page starts the user's sandboxed workers when it opens (a person takes longer than
    # that to write code); a Run right after the page loads waits for them instead.
    page.wait_for_function("document.getElementById('ide').dataset.warm === 'done'")
    return page


def set_code(page: Page, code: str) -> None:
    page.evaluate("code => RftIde.editor.setValue(code)", code)


def editor_code(page: Page) -> str:
    return str(page.evaluate("RftIde.editor.getValue()"))


def result_scores(page: Page) -> list[str]:
    return page.locator("#results tbody td.score").all_inner_texts()


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_write_run_fix_save_and_pin(ide: Page) -> None:
    page = ide
    assert no_horizontal_scroll(page)
    expect(page.locator("#ide-status")).to_contain_text("Ctrl+M makes Tab move focus")
    assert "def evaluate" in editor_code(page)  # a new evaluator starts from the math template
    expect(page.get_by_label("Start from a template")).to_contain_text("Math answer")

    # Run on the first 20 rows: each result appears as its row finishes.
    set_code(page, CODE_V1)
    expect(page.get_by_label("Run on")).to_have_value("first")
    expect(page.get_by_label("N", exact=True)).to_have_value("20")
    page.evaluate(TIMING)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#results tbody tr")).to_have_count(20)
    timing = page.evaluate("window.__ide")
    latency_ms = timing["first"] - timing["clicked"]
    print(f"\nfirst result of a 20-row run: {latency_ms:.0f} ms after clicking Run")
    assert latency_ms < LATENCY_LIMIT_MS

    assert result_scores(page) == [expected_score(i) for i in range(20)]
    expect(page.locator("#results tbody td.reason").first).to_have_text("exact sum")
    rows = answered_rows(20)
    console = page.get_by_test_id("console")
    for i in (0, 1, 19):
        answer, truth = rows[i]["messages"][-1]["content"], rows[i]["ground_truth"]
        expect(console).to_contain_text(f"answer {answer} truth {truth}")
    expect(page.get_by_test_id("mean-score")).to_have_text(f"{13 / 20:.2f}")
    expect(page.get_by_test_id("summary")).to_contain_text("20 valid")
    assert no_horizontal_scroll(page)
    if os.environ.get("RFT_SCREENSHOT"):
        page.locator("#results tbody tr button").nth(1).click()
        page.screenshot(path=str(SCREENSHOT))

    # Save: version 1, with its id for jobs.
    page.get_by_label("Name", exact=True).fill("exact sum")
    page.get_by_label("Version note").fill("first try")
    page.get_by_role("button", name="Save").click()
    version = page.get_by_test_id("evaluator-version")
    expect(version).to_have_text(re.compile(r"ID \d+ · v1"))
    evaluator_id = int(re.findall(r"\d+", version.inner_text())[0])
    expect(page).to_have_url(re.compile(rf"/evaluations\?evaluator={evaluator_id}$"))

    # Pin row 1 (scored 1.0): the form is prefilled with the score it just got.
    page.get_by_role("button", name="Pin row 1 as a test case").click()
    expect(page.locator(".pin-form input[name=min_score]")).to_have_value("1")
    page.locator(".pin-form input[name=note]").fill("right answer")
    page.get_by_role("button", name="Add test").click()
    expect(page.get_by_role("status").first).to_contain_text("Pinned row 1")
    page.get_by_role("tab", name=re.compile("Tests")).click()
    page.get_by_role("button", name="Run tests").click()
    expect(page.get_by_test_id("tests-summary")).to_have_text("1 passed, 0 failed")

    # A bug: the traceback in the console, the failing line marked in the editor.
    page.get_by_role("tab", name="Results").click()
    set_code(page, CODE_BUG)
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#results tbody tr")).to_have_count(20)
    expect(page.locator("#results tbody .pill.invalid")).to_have_count(20)
    expect(console).to_contain_text("ZeroDivisionError: division by zero")
    expect(console).to_contain_text(f"checking {rows[19]['messages'][-1]['content']}")
    markers = page.evaluate(
        "monaco.editor.getModelMarkers({owner: 'rft-run'}).map(m => [m.startLineNumber, m.message])"
    )
    assert markers == [[4, "ZeroDivisionError: division by zero"]]
    expect(page.locator("#editor .ide-error-line")).to_have_count(1)
    page.locator("#console .tb-line").first.click()
    assert page.evaluate("RftIde.editor.getPosition().lineNumber") == 4

    # Saving the changed code makes version 2.
    page.get_by_label("Version note").fill("divide")
    page.keyboard.press("Control+s")
    expect(version).to_have_text(f"ID {evaluator_id} · v2")
    page.get_by_role("tab", name="Versions").click()
    expect(page.get_by_test_id("versions").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("versions")).to_contain_text("divide")
    expect(page.locator("#job-hint-command")).to_contain_text(f"--evaluator {evaluator_id}")

    # The pinned test fails now, and with a half-credit evaluator too.
    page.get_by_role("tab", name=re.compile("Tests")).click()
    page.get_by_role("button", name="Run tests").click()
    expect(page.get_by_test_id("tests-summary")).to_have_text("0 passed, 1 failed")
    set_code(page, CODE_HALF)
    page.get_by_role("button", name="Run tests").click()
    expect(page.get_by_test_id("tests")).to_contain_text("fail 0.50")
    expect(page.get_by_test_id("tests-summary")).to_have_text("0 passed, 1 failed")

    # Diff v1 against the editor, then restore v1 (as version 3).
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("tab", name="Versions").click()
    versions = page.get_by_test_id("versions")
    versions.locator('li[data-version="1"]').get_by_role("button", name="Diff vs editor").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Diff: v1 → editor")
    expect(dialog.locator(".monaco-diff-editor")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    versions.locator('li[data-version="1"]').get_by_role("button", name="Restore").click()
    expect(version).to_have_text(f"ID {evaluator_id} · v3")
    assert editor_code(page) == CODE_V1
    assert no_horizontal_scroll(page)


def test_unsaved_edits_survive_a_reload_and_are_never_replaced_silently(ide: Page) -> None:
    page = ide
    draft = "# my draft\n" + CODE_V1
    set_code(page, draft)
    expect(page.get_by_test_id("dirty")).to_be_visible()
    page.wait_for_function("localStorage.getItem('rft-ide:draft:new') !== null")
    page.reload()
    expect(page.get_by_test_id("dirty")).to_be_visible()
    assert editor_code(page) == draft
    expect(page.locator("#ide-status")).to_contain_text("Restored your unsaved edits")

    # Picking a template asks first; declining keeps the edits.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_label("Start from a template").select_option("exact_match")
    assert editor_code(page) == draft
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Start from a template").select_option("exact_match")
    assert editor_code(page) != draft


def test_run_one_row_and_stop_a_running_batch(ide: Page) -> None:
    page = ide
    page.locator('li[data-row="4"] .row-select').click()
    page.get_by_label("Run on").select_option("row")
    set_code(page, CODE_V1)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results tbody tr")).to_have_attribute("data-row", "4")

    slow = CODE_V1.replace("    answer =", "    import time\n    time.sleep(0.5)\n    answer =")
    set_code(page, slow)
    page.get_by_label("Run on").select_option("first")
    page.get_by_label("N", exact=True).fill("40")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#results tbody tr").first).to_be_visible()
    stop = page.get_by_role("button", name="Stop")
    stop.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("console")).to_contain_text("Stopped after")
    expect(stop).to_be_disabled()
    assert page.locator("#results tbody tr").count() < ROWS

    # Tab indents in the editor; after Ctrl+M it moves the focus on, as the status line says.
    expect(page.locator("#ide-status")).to_contain_text("Stopped")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+m")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "dataset-select"


def test_open_a_saved_evaluator_by_id(ide: Page, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        alice = users.get_or_create(session, "alice")
        saved = evaluators.create(session, alice, "saved one", CODE_V1, "v1 note")
        ident = saved.id
    page = ide
    page.reload()  # the list of saved evaluators is part of the page
    page.get_by_label("Evaluator", exact=True).select_option(label="saved one")
    page.wait_for_url(f"**/evaluations?evaluator={ident}")
    expect(page.get_by_test_id("evaluator-version")).to_have_text(f"ID {ident} · v1")
    expect(page.get_by_label("Name", exact=True)).to_have_value("saved one")
    assert editor_code(page) == CODE_V1
