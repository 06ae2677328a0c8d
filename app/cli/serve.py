"""`rft serve`: checks, migrations, the login URL, uvicorn and (embedded mode) one worker and
one model server.

The worker runs in its own session so that the terminal's Ctrl-C reaches only us: we stop it
in order (SIGTERM, then SIGKILL of its whole process group) and never leave an orphan. If this
process is killed outright, the kernel sends the worker SIGTERM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from app import tasks
from app.core import checks
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.migrate import upgrade
from app.services import auth_sessions, demo, users

WORKER_STOP_SECONDS = 6.0
console = Console()


def prepare(settings: Settings) -> None:
    """Everything a process needs before it serves: reachable services, current schema."""
    checks.check_data_dir(settings)
    checks.check_database(settings)
    checks.check_broker(settings)
    upgrade(settings.database)
    from app.core.storage import Storage, staging_dir
    from app.services.datasets import sweep_partials

    staging_dir(settings)  # sweeps what a crash left in the upload staging folder
    sweep_partials(Storage.from_settings(settings))  # and half-written storage files


def login_url(settings: Settings, user_name: str | None = None) -> str:
    engine = make_engine(settings.database)
    try:
        with transaction(make_session_factory(engine)) as session:
            auth_sessions.purge_expired(session)
            admin = users.ensure_admin(session, settings.admin_user)
            user = users.get_or_create(session, user_name) if user_name else admin
            token = auth_sessions.create_login_token(session, user, settings.login_token_minutes)
    finally:
        engine.dispose()
    return f"{settings.base_url}/login?token={token}"


def seed_demo(settings: Settings) -> Path:
    """The admin's demo resources (fast: no model work here) and the job preset file."""
    engine = make_engine(settings.database)
    try:
        with transaction(make_session_factory(engine)) as session:
            admin = users.ensure_admin(session, settings.admin_user)
            resources = demo.seed(session, settings, admin)
    finally:
        engine.dispose()
    preset = settings.data_path / "demo-job.json"
    preset.write_text(json.dumps(demo.job_request(resources), indent=2))
    return preset


def request_demo_model(settings: Settings) -> None:
    """Have a worker build the demo model in the background (progress on the dashboard)."""
    if demo.model_status(settings)["state"] in ("ready", "building"):
        return
    tasks.request_demo_model(tasks.make_client(settings), demo.DEMO_MODEL)


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RFT_DATA_DIR": str(settings.data_path)}
    # Two processes: one can train while the other answers pings, pre-flights and builds.
    command = [sys.executable, "-m", "app.cli", "worker", "--queues", settings.worker_queues]
    command += ["--concurrency", "2"]
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def start_model_server(settings: Settings) -> subprocess.Popen[bytes]:
    """Always started in embedded mode, idle until something is deployed: it reads its work
    from the database, so a deployment made from any process (API, CLI, page) is picked up
    without the web app having to start anything, and torch is imported only on the first
    deployment (an idle server costs one small process)."""
    env = {**os.environ, "RFT_DATA_DIR": str(settings.data_path)}
    command = [sys.executable, "-m", "app.cli", "model-server"]
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=WORKER_STOP_SECONDS)
    # The pool's children may outlive the main worker process: end the whole group.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=2)


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    # uvicorn re-raises the signals it captured once it has shut down; the default SIGTERM
    # action would end us before the worker is stopped.
    raise SystemExit(128 + signum)


def serve(settings: Settings) -> None:
    from app.main import create_app

    sock = checks.bind_socket(settings.host, settings.port)
    prepare(settings)
    url = login_url(settings)
    if settings.seed_demo:
        seed_demo(settings)
        request_demo_model(settings)
    worker = start_worker(settings) if settings.runs_embedded_worker else None
    server = start_model_server(settings) if settings.runs_embedded_model_server else None
    mode = "embedded worker" if worker else "no embedded worker (run `rft worker`)"
    console.print(f"[bold]RFT Studio[/] on {settings.base_url} — {mode}")
    console.print(f"Open this link to sign in (one use): [bold cyan]{url}[/]", soft_wrap=True)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    config = uvicorn.Config(
        create_app(settings),
        log_level="info",
        timeout_graceful_shutdown=3,
        proxy_headers=True,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for process in (worker, server):
            if process is not None:
                stop_worker(process)
        sock.close()
