"""Deleting a user: their unfinished work stopped first, then every row and every file they own.

Rows go by the database's ON DELETE CASCADE from ``users``. Files live in two places: storage
(dataset folders, each job's checkpoints under ``jobs/<id>``, merged exports under
``exports/checkpoint-<id>``) and the data dir (a job's working folder ``jobs/<id>``, a
deployment's adapter copy ``serving/adapters/<id>``). They are removed once the deletion is
committed, as a dataset's are.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import Conflict, NotFound
from app.core.storage import Storage
from app.models import Checkpoint, Dataset, Deployment, Evaluator, Job, User
from app.models.job import TERMINAL
from app.services import datasets, job_records, jobs

log = logging.getLogger(__name__)
WORKER_SILENT_S = 60  # a running job whose worker has not beaten for this long is not running
Progress = Callable[[str], None]


@dataclass
class Removal:
    """What deleting a user takes away: counted before the commit, files removed after."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    storage_keys: list[str] = field(default_factory=list)
    local_dirs: list[Path] = field(default_factory=list)


def get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def get_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"User {name!r} not found")
    return user


def check_deletable(session: Session, user: User) -> None:
    """Conflict when `user` is the last admin (no one could administer the server after)."""
    if user.is_admin and _admins(session) <= 1:
        raise Conflict(
            f"{user.name!r} is the last admin: make another admin before deleting it",
            [{"field": "user", "message": "the last admin cannot be deleted"}],
        )


def stop_work(session: Session, user: User) -> list[int]:
    """Cancel the user's unfinished jobs and stop their deployments. Returns the ids of jobs
    still running: a live worker stops each at its next step."""
    silent_since = job_records.stale_cutoff(WORKER_SILENT_S)
    for job in _unfinished(session, user):
        if job.status == "running" and (
            job.heartbeat_at is None or job.heartbeat_at < silent_since
        ):
            # Its worker is gone: nothing will ever stop it, so it ends here.
            job_records.finish(session, job.id, "cancelled", "its owner was deleted")
        elif not job.cancel_requested or job.pause_requested:
            jobs.cancel(session, user, job.id)
    live = select(Deployment).where(
        Deployment.owner_id == user.id, Deployment.state.not_in(("stopped", "failed"))
    )
    for deployment in session.scalars(live):
        deployment.state, deployment.cause = "stopped", "its owner was deleted"
    session.flush()
    return still_running(session, user)


def still_running(session: Session, user: User) -> list[int]:
    """Ids of the user's jobs that have not ended yet (read afresh: a worker ends them)."""
    return [job.id for job in _unfinished(session, user)]


def delete(
    session: Session, settings: Settings, user: User, progress: Progress | None = None
) -> Removal:
    """Delete `user` with everything they own; their files go once this is committed.
    Conflict for the last admin, or while one of their jobs is still running."""
    check_deletable(session, user)
    running = still_running(session, user)
    if running:
        raise Conflict(
            f"{len(running)} job(s) of {user.name!r} are still stopping: try again shortly",
            [{"field": "jobs", "message": f"job {job_id} is still running"} for job_id in running],
        )
    removal = plan(session, settings, user)
    session.delete(user)
    session.flush()
    storage = Storage.from_settings(settings)
    datasets.after_commit(session, lambda: remove_files(storage, removal, progress))
    return removal


def remove_files(storage: Storage, removal: Removal, progress: Progress | None = None) -> None:
    """Remove the user's files; one that cannot be removed is logged, the rest still go."""
    targets = [(key, partial(storage.delete_dir, key)) for key in removal.storage_keys]
    targets += [(str(folder), partial(shutil.rmtree, folder)) for folder in removal.local_dirs]
    for what, remove in targets:
        try:
            remove()
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("could not remove %s of a deleted user", what)
        if progress is not None:
            progress(what)


def _unfinished(session: Session, user: User) -> list[Job]:
    query = select(Job).where(Job.owner_id == user.id, Job.status.not_in(TERMINAL))
    return list(session.scalars(query.execution_options(populate_existing=True)))


def _admins(session: Session) -> int:
    return session.scalar(select(func.count()).where(User.is_admin.is_(True))) or 0


def plan(session: Session, settings: Settings, user: User) -> Removal:
    """What deleting `user` would remove: counts by kind, storage keys and data-dir folders."""
    owned_sets = list(session.scalars(select(Dataset).where(Dataset.owner_id == user.id)))
    owned_jobs = list(session.scalars(select(Job.id).where(Job.owner_id == user.id)))
    checkpoints = list(session.scalars(select(Checkpoint).where(Checkpoint.job_id.in_(owned_jobs))))
    deployments = list(session.scalars(select(Deployment.id).where(Deployment.owner_id == user.id)))
    evaluators = select(func.count()).where(Evaluator.owner_id == user.id)
    removal = Removal(user.name)
    removal.counts = {
        "datasets": len(owned_sets),
        "evaluators": session.scalar(evaluators) or 0,
        "jobs": len(owned_jobs),
        "checkpoints": len(checkpoints),
        "deployments": len(deployments),
    }
    removal.storage_keys = [d.storage_dir for d in owned_sets]
    removal.storage_keys += [f"jobs/{job_id}" for job_id in owned_jobs]
    removal.storage_keys += [c.path for c in checkpoints if not c.path.startswith("jobs/")]
    removal.storage_keys += [f"exports/checkpoint-{c.id}" for c in checkpoints]
    data = settings.data_path
    removal.local_dirs = [data / "jobs" / str(job_id) for job_id in owned_jobs]
    removal.local_dirs += [data / "serving" / "adapters" / str(d) for d in deployments]
    return removal
