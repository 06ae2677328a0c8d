"""`rft models add|list|remove` against a live server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli.main import cli
from tests.conftest import Account


def test_add_list_remove_a_local_folder(api_url: str, admin: Account, tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 1024}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": admin.key, "COLUMNS": "200"}
    runner = CliRunner()
    added = runner.invoke(cli, ["models", "add", "acme/my-model", "--path", str(folder)], env=env)
    assert added.exit_code == 0, added.output
    assert "acme/my-model added" in added.output
    listed = runner.invoke(cli, ["models", "list"], env=env)
    assert "acme/my-model" in listed.output and "1024" in listed.output
    again = runner.invoke(cli, ["models", "add", "acme/my-model", "--path", str(folder)], env=env)
    assert again.exit_code != 0 and "already exists" in again.output
    removed = runner.invoke(cli, ["models", "remove", "acme/my-model"], env=env)
    assert removed.exit_code == 0, removed.output
    assert "acme/my-model" not in runner.invoke(cli, ["models", "list"], env=env).output
