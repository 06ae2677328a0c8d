"""`rft jobs create --help` states every parameter as the API validates it."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli.main import cli


def test_create_help_lists_each_parameter_with_default_range_and_guide() -> None:
    result = CliRunner().invoke(cli, ["jobs", "create", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "rollout.temperature (0.7; between 0.1 and 2.0)" in text
    assert "training.lora_rank (8; one of 4, 8, 16, 32, 64, 128)" in text
    assert "training.max_context_length (the model's limit, at most 8192;" in text
    assert "never near 0 (no exploration, no learning signal)" in text
