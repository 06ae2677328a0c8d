"""A real `rft serve` (web + embedded worker): a task goes through it, and it stops cleanly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account
from tests.helpers import alive, descendants, free_port, start_rft, wait_for

pytestmark = [pytest.mark.embedded, pytest.mark.slow]


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.login_url: str | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"(http://\S+/login\?token=\S+)", line)
            if found:
                self.login_url = found.group(1)

    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def server(server_env: dict[str, str]):  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**server_env, "RFT_EMBEDDED_WORKER": "true", "RFT_SEED_DEMO": "false"}
    srv = Server(start_rft(["serve", "--port", str(port)], env), port)
    try:
        wait_for(lambda: srv.login_url is not None, 60, "the login URL")
        wait_for(lambda: _healthy(srv.url), 30, "/healthz")
        yield srv
    finally:
        if srv.process.poll() is None:
            srv.process.kill()
            srv.process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_prints_login_url_that_signs_in(server: Server) -> None:
    assert server.login_url is not None and server.login_url.startswith(server.url)
    with httpx.Client(follow_redirects=True) as browser:
        page = browser.get(server.login_url)
        assert page.status_code == 200
        assert "rft_session" in browser.cookies
        assert ">Fine-tuning</a>" in page.text


def test_real_task_round_trip_through_embedded_worker(server: Server, alice: Account) -> None:
    response = httpx.post(f"{server.url}/api/v1/system/ping", headers=alice.headers, timeout=60)
    assert response.status_code == 200, response.text + server.output()
    pongs = response.json()["data"]
    assert {p["queue"] for p in pongs} == {"gpu", "cpu"}
    assert all(p["round_trip_ms"] < 10_000 for p in pongs)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_web_and_worker_without_orphans(
    server: Server, alice: Account, sig: signal.Signals
) -> None:
    # The worker must be up (it answered) before we count its processes.
    httpx.post(f"{server.url}/api/v1/system/ping", headers=alice.headers, timeout=60)
    children = descendants(server.process.pid)
    assert children, "the embedded worker is not running"
    server.process.send_signal(sig)
    server.process.wait(timeout=10)  # a hang guard: it stops, however slow the machine
    wait_for(lambda: not any(alive(pid) for pid in children), 2, "worker processes to exit")
    assert "Traceback" not in server.output()


def test_first_start_seeds_the_demo_without_blocking(server_env: dict[str, str]) -> None:
    """The admin gets the demo at once; the model is built by the worker in the background."""
    from app.services import demo

    port = free_port()
    env = {**server_env, "RFT_EMBEDDED_WORKER": "true"}
    srv = Server(start_rft(["serve", "--port", str(port)], env), port)
    try:
        wait_for(lambda: srv.login_url is not None, 60, "the login URL")
        wait_for(lambda: _healthy(srv.url), 30, "/healthz")  # up while the model builds
        with httpx.Client(follow_redirects=True) as browser:
            browser.get(srv.login_url)
            names = browser.get(f"{srv.url}/datasets").text
            assert demo.TRAIN_NAME in names and demo.VALIDATION_NAME in names
            wait_for(
                lambda: "pre-training step" in browser.get(f"{srv.url}/status").text,
                60,
                "the demo model build to report progress",
            )
        preset = json.loads((Path(env["RFT_DATA_DIR"]) / "demo-job.json").read_text())
        assert preset["base_model"] == demo.DEMO_MODEL
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=15)
