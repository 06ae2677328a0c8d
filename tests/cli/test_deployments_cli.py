"""`rft deployments …` and `rft export` against a live server: the same rules as the API."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli.main import cli
from app.core.config import Settings
from app.core.storage import Storage
from app.models import Checkpoint
from tests.api.test_deployments import make_checkpoint
from tests.conftest import Account


def test_create_list_delete(
    api_url: str, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": alice.key}
    checkpoint_id = make_checkpoint(session_factory, alice, step=40)
    made = runner.invoke(
        cli, ["deployments", "create", "--checkpoint", str(checkpoint_id)], env=env
    )
    assert made.exit_code == 0, made.output
    assert "step40" in made.output and "pending" in made.output
    listed = runner.invoke(cli, ["deployments", "list", "--json"], env=env)
    deployment = json.loads(listed.output)["data"][0]
    assert deployment["step"] == 40
    stopped = runner.invoke(cli, ["deployments", "delete", str(deployment["id"])], env=env)
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    again = runner.invoke(cli, ["deployments", "delete", str(deployment["id"])], env=env)
    assert again.exit_code == 1 and "already stopped" in again.output
    refused = runner.invoke(cli, ["deployments", "create", "--base-model", "nope"], env=env)
    assert refused.exit_code == 1 and "base_model" in refused.output


def test_export_adapter_keeps_the_peft_files_only(
    api_url: str,
    alice: Account,
    bob: Account,
    settings: Settings,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    checkpoint_id = make_checkpoint(session_factory, alice, step=50)
    storage = Storage.from_settings(settings)
    with session_factory() as session:
        key = session.get(Checkpoint, checkpoint_id).path  # type: ignore[union-attr]
    folder = Path(storage.path(key))
    folder.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors", "optimizer.pt"):
        (folder / name).write_text(name)
    runner = CliRunner()
    out = tmp_path / "out"
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": alice.key}
    done = runner.invoke(cli, ["export", str(checkpoint_id), "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    exported = next(out.iterdir())
    assert sorted(p.name for p in exported.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert (exported / "adapter_config.json").read_text() == "adapter_config.json"
    env_bob = {**env, "RFT_API_KEY": bob.key}
    denied = runner.invoke(cli, ["export", str(checkpoint_id), "--out", str(out)], env=env_bob)
    assert denied.exit_code == 1 and "not found" in denied.output
