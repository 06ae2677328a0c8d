"""The Alembic revisions are the schema: they match the models and run down and up again."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.core.db import Base, make_engine
from app.core.migrate import alembic_config, upgrade
from app.models import User  # noqa: F401 (registers every model)

pytestmark = pytest.mark.embedded


def test_models_match_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_downgrade_and_upgrade_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(url)
    assert {"users", "api_keys"} <= set(inspect(engine).get_table_names())
    engine.dispose()
