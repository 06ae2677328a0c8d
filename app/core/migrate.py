"""Alembic, driven in code with the configured database URL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.core.paths import ALEMBIC_INI, MIGRATIONS_DIR


def alembic_config(database_url: str) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
