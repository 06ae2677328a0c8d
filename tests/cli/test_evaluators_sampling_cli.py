"""`rft evaluators preview --sample-model …` against a live server and a real `rft worker`:
prompt-only rows are scored on completions the demo model generates, shown in the table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli.main import cli
from app.core.config import Settings
from app.services import demo
from tests.conftest import Account
from tests.helpers import demo_model, running_worker

PRETRAIN_STEPS = 300
CODE = """def evaluate(messages, ground_truth, **kwargs):
    print("said", messages[-1]["content"])
    return 1.0 if messages[-1]["content"].strip() == ground_truth else 0.0
"""


@pytest.fixture(scope="module")
def models_dir() -> Path:
    return demo_model(PRETRAIN_STEPS)


@pytest.fixture
def settings(settings: Settings, models_dir: Path) -> Settings:
    return settings.model_copy(update={"models_dir": models_dir})


@pytest.fixture
def worker(server_env: dict[str, str], models_dir: Path) -> Iterator[None]:
    with running_worker(server_env, models_dir):
        yield


def preview(live_server: str, alice: Account, *args: str) -> Result:
    env = {"RFT_API_URL": live_server, "RFT_API_KEY": alice.key, "COLUMNS": "200"}
    return CliRunner().invoke(cli, ["evaluators", "preview", *args], env=env)


def test_preview_on_completions_sampled_from_the_demo_model(
    live_server: str, alice: Account, tmp_path: Path, worker: None
) -> None:
    rows = [{"messages": [{"role": "user", "content": f"{a}+2="}], "ground_truth": str(a + 2)}
            for a in range(3)]  # fmt: skip
    data = "".join(json.dumps(r) + "\n" for r in rows)
    response = httpx.post(
        f"{live_server}/api/v1/datasets",
        files={"file": ("p.jsonl", data, "application/jsonl")},
        headers=alice.headers,
    )
    dataset = str(response.json()["id"])
    code = tmp_path / "exact.py"
    code.write_text(CODE)
    sample = ["--sample-model", demo.DEMO_MODEL, "--n", "2", "--max-tokens", "8"]
    result = preview(live_server, alice, str(code), "--dataset", dataset, *sample)
    assert result.exit_code == 0, result.output
    lines = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("│") and line.lstrip("│ ")[:1].isdigit()
    ]
    assert len(lines) == 6  # 3 rows x 2 completions, each scored
    assert sum("#1 '" in line for line in lines) == 3 and sum("#2 '" in line for line in lines) == 3
    assert all("said" in line for line in lines)
    assert "6 rows: 6 valid, 0 invalid" in result.stdout

    result = preview(live_server, alice, str(code), "--dataset", dataset, "--sample-model", "nope")
    assert result.exit_code == 1 and "sample.model: unknown model 'nope'" in result.stderr
    result = preview(live_server, alice, str(code), "--dataset", dataset, *sample[:2], "--n", "9")
    assert result.exit_code == 1 and "sample.n" in result.stderr
