"""`rft users delete NAME`: asks first, cancels the user's running job, removes their files."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.core.config import Settings
from app.models import User
from tests.conftest import Account
from tests.user_files_support import give_everything, server_files, stop_when_cancelled


def test_delete_asks_then_removes_everything_the_user_owns(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    server_env: dict[str, str],
    alice: Account,
) -> None:
    from app.cli.main import cli

    baseline = server_files(settings)
    job = give_everything(client, settings, session_factory, alice)
    env = {**server_env, "COLUMNS": "200"}
    runner = CliRunner()
    kept = runner.invoke(cli, ["users", "delete", "alice"], input="n\n", env=env)
    assert kept.exit_code != 0
    assert "Delete user 'alice': 1 datasets, 1 evaluators, 1 jobs, 1 checkpoints" in kept.output
    assert len(server_files(settings) - baseline) == 6  # nothing removed
    stopper = stop_when_cancelled(session_factory, job.id)
    done = runner.invoke(cli, ["users", "delete", "alice"], input="y\n", env=env)
    stopper.join(timeout=60)
    assert done.exit_code == 0, done.output
    assert "deleted user 'alice'" in done.output
    assert server_files(settings) == baseline
    with session_factory() as session:
        assert session.get(User, alice.user.id) is None


def test_unknown_user_is_an_error(server_env: dict[str, str]) -> None:
    from app.cli.main import cli

    result = CliRunner().invoke(cli, ["users", "delete", "nobody", "--yes"], env=server_env)
    assert result.exit_code == 1
    assert "User 'nobody' not found" in result.output
