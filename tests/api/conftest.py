"""Fixtures of the jobs API tests: a model folder and the demo request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.services import demo
from tests.conftest import Account


@pytest.fixture
def fake_model(settings: Settings) -> str:
    """A model folder as GET /api/v1/models sees it (config only: nothing here loads it)."""
    folder = settings.models_path / demo.DEMO_MODEL
    folder.mkdir(parents=True)
    config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 256}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    return demo.DEMO_MODEL


@pytest.fixture
def request_body(
    settings: Settings, session_factory: sessionmaker[Session], alice: Account, fake_model: str
) -> dict[str, Any]:
    with transaction(session_factory) as session:
        resources = demo.seed(session, settings, alice.user)
    return demo.job_request(resources)
