"""`rft datasets …` against a live server: the same rules as the API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from tests.conftest import Account
from tests.datasets_support import rows_bytes
from tests.helpers import free_port


@pytest.fixture
def run(api_url: str, alice: Account):  # type: ignore[no-untyped-def]
    """run("upload", "x.jsonl") -> the CliRunner result, with alice's key in the environment."""
    runner = CliRunner()
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": alice.key}

    def invoke(*args: str, **extra_env: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, ["datasets", *args], env={**env, **extra_env})

    return invoke


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "adds.jsonl"
    path.write_bytes(rows_bytes(30))
    return path


class TestUpload:
    def test_uploads_and_prints_the_dataset(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        result = run("upload", str(data_file), "--validation-percent", "10", "--seed", "2")
        assert result.exit_code == 0, result.output
        match = re.search(r"dataset (\d+) adds: 30 messages rows", result.stdout)
        assert match, result.stdout
        first = int(match[1])
        assert f"train split: dataset {first + 1}, 27 rows" in result.stdout
        assert f"validation split: dataset {first + 2}, 3 rows" in result.stdout

    def test_refused_file_prints_each_line(self, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(rows_bytes(2) + b'{"prompt": ""}\n\n[]\n')
        result = run("upload", str(bad))
        assert result.exit_code == 1
        assert "error 422: Invalid dataset" in result.stderr
        assert "line 3: prompt row in a messages file" in result.stderr
        assert "line 5: row must be a JSON object, got array" in result.stderr

    def test_json_output(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        result = run("upload", str(data_file), "--name", "mine", "--json")
        assert json.loads(result.stdout)["name"] == "mine"

    def test_without_a_key(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        result = run("upload", str(data_file), RFT_API_KEY="")
        assert result.exit_code == 2
        assert "no API key: pass --api-key or set RFT_API_KEY" in result.stderr

    def test_wrong_key(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        result = run("upload", str(data_file), "--api-key", "rft_wrong")
        assert result.exit_code == 1 and "error 401: Invalid API key" in result.stderr

    def test_no_server(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        url = f"http://127.0.0.1:{free_port()}"
        result = run("upload", str(data_file), RFT_API_URL=url)
        assert result.exit_code == 1
        assert f"no answer from {url}" in result.stderr and "rft serve" in result.stderr


class TestListAndRows:
    def test_list(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        assert "no datasets yet" in run("list").stdout
        run("upload", str(data_file))
        result = run("list")
        assert result.exit_code == 0 and "adds" in result.stdout and "messages" in result.stdout
        assert json.loads(run("list", "--json").stdout)[0]["row_count"] == 30

    def test_rows_are_json_lines_as_uploaded(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        dataset_id = json.loads(run("upload", str(data_file), "--json").stdout)["id"]
        result = run("rows", str(dataset_id), "--offset", "25", "--limit", "100")
        assert result.exit_code == 0
        assert result.stdout.encode() == rows_bytes(5, start=25)
        assert "rows 25 to 29 of 30" in result.stderr

    def test_rows_of_a_missing_dataset(self, run) -> None:  # type: ignore[no-untyped-def]
        result = run("rows", "99")
        assert result.exit_code == 1 and "error 404: Dataset 99 not found" in result.stderr


class TestSplitAndDelete:
    def test_split_then_delete(self, run, data_file: Path) -> None:  # type: ignore[no-untyped-def]
        dataset_id = json.loads(run("upload", str(data_file), "--json").stdout)["id"]
        result = run("split", str(dataset_id), "--validation-percent", "20", "--seed", "4")
        assert result.exit_code == 0
        assert f"train: dataset {dataset_id + 1} adds (train 80%), 24 rows" in result.stdout
        assert run("delete", str(dataset_id), "--yes").exit_code == 0
        assert "no datasets yet" in run("list").stdout


def test_installed_command(api_url: str, alice: Account, data_file: Path, server_env) -> None:  # type: ignore[no-untyped-def]
    env = {**server_env, "RFT_API_URL": api_url, "RFT_API_KEY": alice.key}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "datasets", "upload", str(data_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "30 messages rows" in done.stdout
