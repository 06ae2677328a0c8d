"""`rft jobs watch` ends with the run summary (jobs built through the services, no training)."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli.main import cli
from app.core.db import transaction
from app.models import Job
from app.services import job_records
from tests.conftest import Account
from tests.job_records_support import finished_job, make_job, record_steps


def watch(api_url: str, account: Account, job_id: int):  # type: ignore[no-untyped-def]
    env = {"RFT_API_URL": api_url, "RFT_API_KEY": account.key, "COLUMNS": "200"}
    return CliRunner().invoke(cli, ["jobs", "watch", str(job_id)], env=env)


def test_finished_job_prints_its_summary(
    api_url: str, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        job_id = finished_job(session, alice.user).id
    result = watch(api_url, alice, job_id)
    assert result.exit_code == 0, result.output
    assert "validation at step 0" in result.output and "0.500 (step 0)" in result.output
    assert "best validation" in result.output and "0.767 (step 20)" in result.output
    assert "+0.267" in result.output and f"job {job_id} completed" in result.output


def test_running_job_is_followed_to_its_end(
    api_url: str, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        job = make_job(session, alice.user, "live")
        record_steps(session, job, range(1, 6), 10)
        job_id = job.id

    def finish_later() -> None:
        time.sleep(1.0)
        with transaction(session_factory) as session:
            found = session.get(Job, job_id)
            assert found is not None
            record_steps(session, found, range(6, 11), 10)
            job_records.finish(session, job_id, "failed", "evaluator crashed")

    threading.Thread(target=finish_later, daemon=True).start()
    result = watch(api_url, alice, job_id)
    assert result.exit_code != 0
    assert "best validation" in result.output and "(step 10)" in result.output
    assert "evaluator crashed" in result.output
