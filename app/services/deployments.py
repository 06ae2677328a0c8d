"""Deployments as users see them: create (named, owned), list, read, stop; and the model
server's side: which deployments a server must serve and the state it reports back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.models import Checkpoint, Deployment, Job, User
from app.models.deployment import ACTIVE_STATES, TERMINAL_STATES
from app.schemas.deployment import DeploymentCreate, DeploymentPublic
from app.services import base_models, openai_ft

INVALID = "Invalid deployment request"


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(INVALID, [{"field": field, "message": message}])


def _owned_checkpoint(session: Session, owner: User, checkpoint_id: int) -> tuple[Checkpoint, Job]:
    checkpoint = session.get(Checkpoint, checkpoint_id)
    job = session.get(Job, checkpoint.job_id) if checkpoint is not None else None
    if checkpoint is None or job is None or job.owner_id != owner.id:
        raise _invalid("checkpoint_id", f"checkpoint {checkpoint_id} not found")
    return checkpoint, job


def _by_name(session: Session, owner: User, name: str) -> Deployment | None:
    query = select(Deployment).where(Deployment.owner_id == owner.id, Deployment.name == name)
    return session.scalars(query).first()


def _free_name(session: Session, owner: User, wanted: str | None, default: str) -> str:
    """The requested name (409 when an active deployment holds it), else the default made
    unique with a suffix. A stopped or failed deployment gives its name up."""
    candidates = [wanted] if wanted else [default, *(f"{default}-{i}" for i in range(2, 1000))]
    for name in candidates:
        holder = _by_name(session, owner, name)
        if holder is None:
            return name
        if holder.state in TERMINAL_STATES:
            session.delete(holder)
            session.flush()
            return name
    if wanted:
        raise Conflict(
            f"A deployment named {wanted!r} is already {holder.state}",  # type: ignore[union-attr]
            [{"field": "name", "message": "name taken: delete that deployment or pick another"}],
        )
    raise Conflict(f"No free name left for {default!r}")


def create(
    session: Session, settings: Settings, owner: User, request: DeploymentCreate
) -> Deployment:
    if request.checkpoint_id is not None:
        checkpoint, job = _owned_checkpoint(session, owner, request.checkpoint_id)
        base, adapter = job.base_model, checkpoint.path
        default = f"ft-{job.id}-step{checkpoint.step}"
    else:
        base, adapter, default = str(request.base_model), None, str(request.base_model)
        known = [m.name for m in base_models.list_models(settings)]
        if base not in known:
            available = ", ".join(known) or "none yet: run `rft demo`"
            raise _invalid("base_model", f"unknown model {base!r} (available: {available})")
    deployment = Deployment(
        owner_id=owner.id,
        name=_free_name(session, owner, request.name, default),
        base_model=base,
        checkpoint_id=request.checkpoint_id,
        adapter_path=adapter,
        state="pending",
    )
    session.add(deployment)
    session.flush()
    return deployment


def list_for(session: Session, owner: User, offset: int = 0, limit: int = 100) -> list[Deployment]:
    query = (
        select(Deployment)
        .where(Deployment.owner_id == owner.id)
        .order_by(Deployment.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_for(session: Session, owner: User) -> int:
    query = select(func.count()).where(Deployment.owner_id == owner.id)
    return session.scalar(query) or 0


def get(session: Session, owner: User, deployment_id: int) -> Deployment:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None or deployment.owner_id != owner.id:
        raise NotFound(f"Deployment {deployment_id} not found")
    return deployment


def find_or_deploy(
    session: Session, settings: Settings, owner: User, name: str
) -> Deployment | None:
    """The deployment answering ``name``. A fine-tuned model's OpenAI name (``ft:…``, from
    POST /v1/fine_tuning/jobs) is deployed on its first use, so the script's next line works."""
    found = find_by_name(session, owner, name)
    if found is not None and found.state not in TERMINAL_STATES:
        return found
    checkpoint = openai_ft.checkpoint_for_model(session, owner, name)
    if checkpoint is None:
        return found
    # The name is the one the job answered (ft:<base>:<org>:<suffix>:<id>): taken as given.
    request = DeploymentCreate.model_construct(checkpoint_id=checkpoint.id, name=name)
    return create(session, settings, owner, request)


def find_by_name(session: Session, owner: User, name: str) -> Deployment | None:
    return _by_name(session, owner, name)


def servable(session: Session, owner: User) -> list[Deployment]:
    """What /v1/models lists: the caller's deployments that answer or will answer soon."""
    query = (
        select(Deployment)
        .where(Deployment.owner_id == owner.id, Deployment.state.in_(ACTIVE_STATES))
        .order_by(Deployment.id)
    )
    return list(session.scalars(query))


def stop(session: Session, owner: User, deployment_id: int) -> Deployment:
    """Stopped at once here; its model server unloads it on its next look at the database."""
    deployment = get(session, owner, deployment_id)
    if deployment.state in TERMINAL_STATES:
        raise Conflict(f"Deployment {deployment_id} is already {deployment.state}")
    deployment.state = "stopped"
    deployment.cause = "stopped by its owner"
    deployment.stopped_at = utcnow()
    return deployment


def public(session: Session, deployment: Deployment) -> DeploymentPublic:
    job_id = step = None
    if deployment.checkpoint_id is not None:
        checkpoint = session.get(Checkpoint, deployment.checkpoint_id)
        if checkpoint is not None:
            job_id, step = checkpoint.job_id, checkpoint.step
    return DeploymentPublic.model_validate(
        {
            **{
                k: getattr(deployment, k)
                for k in DeploymentPublic.model_fields
                if hasattr(deployment, k)
            },
            "job_id": job_id,
            "step": step,
        }
    )


def record_request(session: Session, deployment_id: int) -> None:
    """One more request served (an UPDATE, so concurrent requests never lose a count)."""
    session.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id)
        .values(requests_served=Deployment.requests_served + 1, last_request_at=utcnow())
    )


# The model server's side.


def for_server(session: Session, bases: list[str] | None) -> list[Deployment]:
    """Every deployment a server for ``bases`` (None: all) must hold or let go of."""
    query = select(Deployment).order_by(Deployment.id)
    if bases is not None:
        query = query.where(Deployment.base_model.in_(bases))
    return list(session.scalars(query))


def set_state(
    session: Session,
    deployment_id: int,
    state: str,
    *,
    cause: str | None = None,
    server_url: str | None = None,
    loaded: bool | None = None,
) -> None:
    """A transition reported by the model server; a deployment stopped meanwhile stays stopped."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None or deployment.state == "stopped":
        return
    deployment.state = state
    deployment.cause = cause
    if server_url is not None:
        deployment.server_url = server_url
    if loaded is not None:
        deployment.loaded = loaded
    now: datetime = utcnow()
    if state == "ready" and deployment.ready_at is None:
        deployment.ready_at = now
    if state in TERMINAL_STATES:
        deployment.stopped_at = now


def set_loaded(session: Session, deployment_id: int, loaded: bool) -> None:
    session.execute(update(Deployment).where(Deployment.id == deployment_id).values(loaded=loaded))


def deployable_checkpoints(session: Session, owner: User, limit: int = 200) -> list[Checkpoint]:
    """The owner's checkpoints, newest first, for the deploy form."""
    query = (
        select(Checkpoint)
        .join(Job, Job.id == Checkpoint.job_id)
        .where(Job.owner_id == owner.id)
        .order_by(Checkpoint.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def base_of(session: Session, owner: User, deployment: Deployment) -> Deployment | None:
    """The owner's active deployment of this deployment's base model itself, if any."""
    query = select(Deployment).where(
        Deployment.owner_id == owner.id,
        Deployment.base_model == deployment.base_model,
        Deployment.adapter_path.is_(None),
        Deployment.state.in_(ACTIVE_STATES),
    )
    return session.scalars(query.order_by(Deployment.id)).first()


def any_server_url(session: Session) -> str | None:
    """The address of a model server that answered for a ready deployment most recently."""
    query = (
        select(Deployment.server_url)
        .where(Deployment.state == "ready", Deployment.server_url.is_not(None))
        .order_by(Deployment.ready_at.desc())
    )
    return session.scalars(query).first()
