"""Bad settings stop start-up with one line that names the setting: no traceback, no hang."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers import free_port, run_rft


def assert_one_line_error(done: subprocess.CompletedProcess[str], setting: str, text: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {setting}: "), lines[0]
    assert text in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture
def env(server_env: dict[str, str]) -> dict[str, str]:
    return dict(server_env)


def test_unreachable_database(env: dict[str, str]) -> None:
    env["RFT_DATABASE_URL"] = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/rft"
    done = run_rft(["serve", "--port", str(free_port())], env)
    assert_one_line_error(
        done, "RFT_DATABASE_URL", "cannot connect to postgresql+psycopg://nobody:***@"
    )
    assert "hunter2" not in done.stderr


def test_unknown_database_scheme(env: dict[str, str]) -> None:
    env["RFT_DATABASE_URL"] = "mysql://root@localhost/rft"
    assert_one_line_error(run_rft(["serve"], env), "RFT_DATABASE_URL", "unsupported database URL")


@pytest.mark.parametrize(
    ("url", "text"),
    [("redis//localhost:6379", "unsupported broker URL"), ("redis://", "names no host")],
)
def test_malformed_broker_url(env: dict[str, str], url: str, text: str) -> None:
    env["RFT_BROKER_URL"] = url
    assert_one_line_error(run_rft(["serve"], env), "RFT_BROKER_URL", text)


def test_unreachable_broker(env: dict[str, str]) -> None:
    env["RFT_BROKER_URL"] = "redis://127.0.0.1:1/0"
    assert_one_line_error(
        run_rft(["serve", "--port", str(free_port())], env), "RFT_BROKER_URL", "cannot connect"
    )


def test_unwritable_data_dir(env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env["RFT_DATA_DIR"] = str(blocker / "data")
    done = run_rft(["serve", "--port", str(free_port())], env)
    assert_one_line_error(done, "RFT_DATA_DIR", "is not writable")


def test_port_in_use(env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = run_rft(["serve", "--port", str(port)], env)
    assert_one_line_error(done, "RFT_PORT", f"port {port} on 127.0.0.1 is already in use")


def test_port_not_a_number(env: dict[str, str]) -> None:
    env["RFT_PORT"] = "eighty"
    assert_one_line_error(run_rft(["serve"], env), "RFT_PORT", "valid integer")


def test_worker_unknown_queue(env: dict[str, str]) -> None:
    assert_one_line_error(run_rft(["worker", "--queues", "tpu"], env), "--queues", "tpu")
