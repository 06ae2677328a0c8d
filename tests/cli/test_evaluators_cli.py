"""`rft evaluators …` against a live server: preview (streamed), create, list, templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli.main import cli
from tests.conftest import Account
from tests.datasets_support import rows_bytes

CODE = """def evaluate(messages, ground_truth, **kwargs):
    print("checking", ground_truth)
    if ground_truth == 2:
        raise KeyError("two")
    return 1.0 if ground_truth % 2 else 0.5
"""
Run = Callable[..., Result]


@pytest.fixture
def run(api_url: str, alice: Account) -> Run:
    """run("list") -> the CliRunner result, with alice's key in the environment."""
    runner = CliRunner()
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": alice.key, "COLUMNS": "200"}

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["evaluators", *args], env=env)

    return invoke


@pytest.fixture
def dataset(api_url: str, alice: Account) -> int:
    response = httpx.post(
        f"{api_url}/api/v1/datasets",
        files={"file": ("adds.jsonl", rows_bytes(5), "application/jsonl")},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


@pytest.fixture
def code_file(tmp_path: Path) -> Path:
    path = tmp_path / "parity.py"
    path.write_text(CODE)
    return path


def table_rows(output: str) -> dict[str, list[str]]:
    """Row number -> cells of the results table."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0].isdigit():
            found[cells[0]] = cells[1:]
    return found


class TestPreview:
    def test_prints_scores_reasons_and_summary(
        self, run: Run, dataset: int, code_file: Path
    ) -> None:
        result = run("preview", str(code_file), "--dataset", str(dataset))
        assert result.exit_code == 0, result.output
        rows = table_rows(result.stdout)
        assert sorted(rows) == ["0", "1", "2", "3", "4"]
        assert rows["0"][:2] == ["1.000", "yes"] and rows["0"][-1] == "checking 1"
        assert rows["1"][:2] == ["-", "no"]
        assert rows["1"][-1] == "line 4: KeyError: 'two'"
        assert rows["3"][:2] == ["0.500", "yes"]
        assert "5 rows: 4 valid, 1 invalid, mean score 0.875" in result.stdout

    def test_chosen_rows_and_json(self, run: Run, dataset: int, code_file: Path) -> None:
        result = run("preview", str(code_file), "--dataset", str(dataset), "--rows", "4,0")
        assert result.exit_code == 0, result.output
        assert sorted(table_rows(result.stdout)) == ["0", "4"]
        answer = json.loads(
            run(
                "preview", str(code_file), "--dataset", str(dataset), "--limit", "2", "--json"
            ).stdout
        )
        assert [r["score"] for r in answer["results"]] == [1.0, None]
        assert answer["summary"]["count"] == 2

    def test_refusals_are_printed_with_their_line_or_field(
        self, run: Run, dataset: int, tmp_path: Path, code_file: Path
    ) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text("def evaluate(messages, **kw):\n    return (\n")
        result = run("preview", str(bad), "--dataset", str(dataset))
        assert result.exit_code == 1
        assert "error 422: Invalid evaluator code" in result.stderr
        assert "line 2:" in result.stderr
        result = run("preview", str(code_file), "--dataset", str(dataset), "--rows", "9")
        assert result.exit_code == 1 and "rows: rows must be at most" in result.stderr
        result = run("preview", str(code_file), "--dataset", str(dataset), "--rows", "a")
        assert result.exit_code == 2 and "--rows 'a'" in result.stderr


class TestCreateAndList:
    def test_create_then_list(self, run: Run, code_file: Path) -> None:
        assert "no evaluators yet" in run("list").stdout
        created = run("create", str(code_file), "--name", "parity")
        assert created.exit_code == 0, created.output
        assert "version 1, evaluate entry point evaluate" in created.stdout
        listed = run("list")
        assert "parity" in listed.stdout and "1 evaluator(s)" in listed.stdout
        again = run("create", str(code_file), "--name", "parity")
        assert again.exit_code == 1 and "error 409" in again.stderr


class TestTemplates:
    def test_lists_and_shows_templates(self, run: Run) -> None:
        listed = run("templates")
        assert listed.exit_code == 0, listed.output
        lines = [line for line in listed.stdout.splitlines() if "_" in line]
        assert "math_answer" in lines[0]
        shown = run("templates", "--show", "math_answer")
        assert shown.stdout.startswith('"""Math answer')
