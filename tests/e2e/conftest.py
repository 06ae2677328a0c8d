"""Browser tests: Playwright driving Debian's Chromium against a live server on a free port."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.services import auth_sessions, users

# RFT_TEST_CHROMIUM: another Chromium binary (e.g. one unpacked where none is installed).
CHROMIUM = os.environ.get("RFT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must install it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login_link(live_server: str, session_factory: sessionmaker[Session]) -> Callable[[str], str]:
    """login_link("alice") -> a one-time login URL for that user, as `rft login` prints."""

    def make(user_name: str = "admin") -> str:
        with transaction(session_factory) as session:
            user = users.get_or_create(session, user_name)
            token = auth_sessions.create_login_token(session, user, 60)
        return f"{live_server}/login?token={token}"

    return make


@pytest.fixture
def signed_in_page(page: Page, login_link: Callable[[str], str]) -> Page:
    """A browser page signed in as user "alice" (sitting on the dashboard)."""
    page.goto(login_link("alice"))
    page.wait_for_url("**/")
    return page
