"""Fixtures for the evaluator runtime tests: one shared sandboxed pool with a short timeout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.evaluators import EvaluatorPool
from tests.evaluators.support import TIMEOUT_S


@pytest.fixture(scope="session")
def pool() -> Iterator[EvaluatorPool]:
    with EvaluatorPool(size=2, timeout_s=TIMEOUT_S) as shared:
        yield shared


@pytest.fixture(scope="session")
def nltk_pool() -> Iterator[EvaluatorPool]:
    """For graders that import NLTK when they load (about a second, more in a busy sandbox):
    the production time limit (10 s), not the tests' short one."""
    with EvaluatorPool(size=1, timeout_s=10.0) as shared:
        yield shared


class _JudgeHandler(BaseHTTPRequestHandler):
    """A stand-in OpenAI-compatible server: answers every chat completion with `reply`."""

    reply = "7"
    base_url = ""
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        answer = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": self.reply}}]}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: object) -> None:  # keep test output clean
        return


@pytest.fixture
def judge_server() -> Iterator[type[_JudgeHandler]]:
    _JudgeHandler.requests = []
    _JudgeHandler.reply = "7"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JudgeHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    _JudgeHandler.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield _JudgeHandler
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def roomy_pool() -> Iterator[EvaluatorPool]:
    """For rows that legitimately take about a second: no risk of the 1.5 s limit on a busy
    machine."""
    with EvaluatorPool(size=1, timeout_s=10.0) as shared:
        yield shared


@pytest.fixture(scope="session")
def network_pool() -> Iterator[EvaluatorPool]:
    with EvaluatorPool(size=1, timeout_s=5.0, allow_network=True) as shared:
        yield shared
