"""One job, start to end: claim it, load everything, (resume and) train, record the outcome.

Runs inside a Celery task on the `gpu` queue. A failure anywhere stores a human-readable cause;
a worker that dies leaves a job whose heartbeat stops, which recovery hands to the next worker.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.storage import Storage
from app.evaluators import EvaluatorPool
from app.models import Job
from app.services import evaluator_envs, job_records
from worker.training.causes import human_cause
from worker.training.context import Phase, load_context
from worker.training.recorder import Recorder
from worker.training.trainer import preload, train

log = logging.getLogger("rft.training")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: int, settings: Settings, *, exit_on_stall: bool = True) -> str:
    engine = make_engine(settings.database)
    factory = make_session_factory(engine)
    storage = Storage.from_settings(settings)
    try:
        with factory() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued":  # a duplicate or stale message: no work
                return "not claimed (gone, already taken, finished or cancelled)"
        preload()
        me = worker_name()
        with transaction(factory) as session:
            job = job_records.claim(session, job_id, me)
            if job is None:
                return "not claimed (already taken, finished or cancelled)"
        return _run_claimed(job_id, me, settings, factory, storage, exit_on_stall)
    finally:
        engine.dispose()


def _run_claimed(
    job_id: int,
    me: str,
    settings: Settings,
    factory: sessionmaker[Session],
    storage: Storage,
    exit_on_stall: bool,
) -> str:
    phase = Phase()
    recorder = Recorder(factory, job_id, me).start()
    pool = EvaluatorPool(
        timeout_s=settings.evaluator_timeout_seconds,
        memory_bytes=settings.evaluator_memory_bytes,
        envs_dir=str(evaluator_envs.envs_root(settings)),
    )
    status, cause = "failed", None
    try:
        phase("reading the job and its datasets")
        with transaction(factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            context = load_context(session, settings, storage, job)
        status = train(context, settings, storage, recorder, pool, phase, exit_on_stall)
    except Exception as exc:
        log.exception("job %s failed while %s", job_id, phase.name)
        cause = human_cause(phase.name, exc)
        # The cause is the summary; the library's own words stay in the job's log.
        recorder.log(recorder.step, "error", "training", traceback.format_exc()[-20_000:])
    finally:
        pool.close()
        recorder.stop()
        with transaction(factory) as session:
            job_records.finish(session, job_id, status, cause, worker=me)
    return "lost to another worker" if recorder.lost else status
