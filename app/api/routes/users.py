"""Users, for admins: deleting one removes everything they own, files included."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.api.deps import AdminUser, PathId, SessionDep, SettingsDep
from app.core.config import Settings
from app.services import user_deletion

router = APIRouter(prefix="/api/v1/users", tags=["users"])
STOP_WAIT_S = 30.0  # how long a deletion waits for the user's running jobs to stop
_POLL_S = 0.5


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: PathId, session: SessionDep, settings: SettingsDep, _admin: AdminUser
) -> None:
    """Admin only (403 otherwise). Deletes the user with their keys, datasets, evaluators, jobs
    (checkpoints, exports) and deployments, and removes their files. Their unfinished jobs are
    cancelled first and running ones get 30 s to stop (then 409 naming them: try again). The
    last admin cannot be deleted (409)."""
    running = await run_in_threadpool(_stop_work, session, user_id)
    deadline = time.monotonic() + STOP_WAIT_S
    while running and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_S)
        running = await run_in_threadpool(_still_running, session, user_id)
    await run_in_threadpool(_delete, session, settings, user_id)


def _stop_work(session: Session, user_id: int) -> list[int]:
    user = user_deletion.get(session, user_id)
    user_deletion.check_deletable(session, user)
    running = user_deletion.stop_work(session, user)
    session.commit()  # the cancels must reach the workers before anything waits for them
    return running


def _still_running(session: Session, user_id: int) -> list[int]:
    running = user_deletion.still_running(session, user_deletion.get(session, user_id))
    session.commit()  # no connection held while waiting
    return running


def _delete(session: Session, settings: Settings, user_id: int) -> None:
    user_deletion.delete(session, settings, user_deletion.get(session, user_id))
