from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_are_the_embedded_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = make()
    assert settings.data_path == tmp_path / ".rft"
    assert settings.database == f"sqlite:///{tmp_path / '.rft' / 'rft.db'}"
    assert settings.broker_is_filesystem and settings.runs_embedded_worker
    assert settings.results == f"file://{tmp_path / '.rft' / 'results'}"
    assert settings.storage == str(tmp_path / ".rft" / "storage")
    assert settings.base_url == "http://127.0.0.1:8000"


def test_redis_broker_turns_the_embedded_worker_off() -> None:
    settings = make(broker_url="redis://127.0.0.1:6379/0")
    assert not settings.runs_embedded_worker
    assert settings.results == "redis://127.0.0.1:6379/0"
    assert make(broker_url="redis://h:1/0", embedded_worker=True).runs_embedded_worker


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFT_PORT", "9001")
    monkeypatch.setenv("RFT_HOST", "0.0.0.0")
    settings = make()
    assert settings.port == 9001
    assert settings.base_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("broker_url", "kafka://x", "unsupported broker URL"),
        ("database_url", "mongodb://x", "unsupported database URL"),
        ("port", 70000, "less than or equal to 65535"),
    ],
)
def test_bad_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**{field: value})


def test_every_setting_is_documented() -> None:
    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []
