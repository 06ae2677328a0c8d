"""A person signs in with the printed link, sees the navigation, and manages API keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_login_link_shows_navigation(page: Page, login_link: Callable[[str], str]) -> None:
    page.goto(login_link("admin"))
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Datasets", "Evaluations", "Fine-tuning", "Deployments"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page.locator(".user")).to_have_text("admin")


def test_pages_redirect_to_login_without_session(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/datasets")
    expect(page).to_have_url(f"{live_server}/login?next=/datasets")
    expect(page.get_by_role("heading", name="Sign in to RFT Studio")).to_be_visible()


def test_used_login_link_is_refused(page: Page, login_link: Callable[[str], str]) -> None:
    link = login_link("admin")
    page.goto(link)
    page.context.clear_cookies()
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("already used or has expired")


def test_create_key_then_sign_in_with_it(signed_in_page: Page, live_server: str) -> None:
    page = signed_in_page
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("New key named").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text().strip()
    assert key.startswith("rft_")
    expect(page.get_by_role("cell", name="laptop")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".user")).to_have_text("alice")


def test_status_widget_reports_database_and_broker(signed_in_page: Page) -> None:
    status = signed_in_page.locator("#status")
    expect(status.locator("[data-component=database]")).to_contain_text("online")
    expect(status.locator("[data-component=broker]")).to_contain_text("online")
