"""docker-compose.yml cannot run here (no Docker engine): check its shape and settings instead."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.core.config import Settings
from app.core.paths import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: str) -> dict[str, str]:
    return dict(COMPOSE["services"][service]["environment"])


def test_production_shape() -> None:
    assert set(COMPOSE["services"]) == {"web", "worker", "model-server", "redis", "postgres"}
    assert COMPOSE["services"]["model-server"]["command"][:2] == ["rft", "model-server"]
    assert COMPOSE["services"]["worker"]["command"][:2] == ["rft", "worker"]
    assert COMPOSE["services"]["web"]["command"][:2] == ["rft", "serve"]


def test_every_variable_is_a_setting() -> None:
    fields = {f"RFT_{name.upper()}" for name in Settings.model_fields}
    for service in ("web", "worker", "model-server"):
        unknown = set(_env(service)) - fields
        assert not unknown, f"{service} sets variables Settings does not read: {unknown}"


def test_settings_from_compose_are_valid() -> None:
    env = {k: v for k, v in _env("web").items() if "${" not in v}
    settings = Settings(
        _env_file=None, **{k.removeprefix("RFT_").lower(): v for k, v in env.items()}
    )  # type: ignore[call-arg]
    assert not settings.broker_is_filesystem
    assert not settings.runs_embedded_worker
    assert settings.database.startswith("postgresql+psycopg://")


def test_web_healthcheck_uses_healthz() -> None:
    assert "/healthz" in " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])


def test_image_copies_what_the_app_reads() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("app", "worker", "migrations", "templates", "static"):
        assert f"COPY {folder} {folder}" in dockerfile
    assert Path(ROOT / "alembic.ini").exists()
