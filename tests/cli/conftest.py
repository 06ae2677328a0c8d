"""The CLI talks to a live server (tests/conftest.py), as it would to `rft serve`."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_url(live_server: str) -> str:
    return live_server
