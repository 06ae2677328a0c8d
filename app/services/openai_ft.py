"""OpenAI reinforcement fine-tuning jobs mapped onto this product's jobs.

``POST /v1/fine_tuning/jobs`` becomes a job created by ``services.jobs.create``: the model name
through the ``RFT_OPENAI_MODELS`` setting, the files (datasets), the grader as a saved evaluator
("openai grader: NAME", one version per distinct spec), the hyperparameters as training and
rollout parameters (``openai_params``). What the job was asked in OpenAI's terms is kept in
``spec["openai"]`` so that it is answered back as sent. A ``ftjob-<id>`` is job ``<id>``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import InvalidInput, NotFound
from app.models import Checkpoint, Evaluator, Job, JobMetric, User
from app.schemas.job_params import parse_job_request
from app.schemas.openai_ft import FineTuningJobCreate
from app.services import base_models, evaluators, job_records, jobs, openai_files, openai_params
from app.services.openai_errors import OpenAIError

_JOB_ID = re.compile(r"^ftjob-(\d{1,18})$")
GRADER_PARAM = "method.reinforcement.grader"


def job_public_id(job_id: int) -> str:
    return f"ftjob-{job_id}"


def get_job(session: Session, owner: User, value: str) -> Job:
    match = _JOB_ID.match(value)
    if match:
        try:
            return jobs.get(session, owner, int(match.group(1)))
        except NotFound:
            pass
    raise OpenAIError(
        f"No such fine-tuning job: {value}", param="fine_tuning_job_id", status_code=404
    )


def resolve_model(settings: Settings, name: str) -> base_models.BaseModel:
    """The local base model for an OpenAI model name (RFT_OPENAI_MODELS), or a local name."""
    local = {m.name: m for m in base_models.list_models(settings)}
    target = settings.openai_models.get(name, name)
    if target in local:
        return local[target]
    usable = [f"{k} (-> {v})" for k, v in sorted(settings.openai_models.items()) if v in local]
    names = ", ".join([*usable, *sorted(local)]) or "none yet (run `rft demo`)"
    why = (
        f"it is mapped to {target!r}, which is not under RFT_MODELS_DIR"
        if name in settings.openai_models
        else "map OpenAI model names to local models with the RFT_OPENAI_MODELS setting"
    )
    raise OpenAIError(
        f"Model {name!r} is not available for fine-tuning on this server ({why}). "
        f"Available: {names}.",
        param="model",
        code="model_not_available",
    )


def normalize_grader(grader: dict[str, Any]) -> dict[str, Any]:
    """The grader as our runtime takes it. A multi grader's ``graders`` maps names to graders
    (OpenAI's API); the openai client's types also allow one grader object there."""
    children = grader.get("graders")
    if grader.get("type") != "multi" or not isinstance(children, dict):
        return grader
    if isinstance(children.get("type"), str):
        return {**grader, "graders": {str(children.get("name") or children["type"]): children}}
    return grader


def _judges_without_endpoint(spec: Any, path: str = "") -> list[str]:
    """score_model graders that name no endpoint: OpenAI runs its own models, this server
    calls the OpenAI-compatible endpoint the grader names (``base_url``)."""
    if not isinstance(spec, dict):
        return []
    path = path or str(spec.get("name") or spec.get("type"))
    if spec.get("type") == "score_model" and not spec.get("base_url"):
        return [path]
    children = spec.get("graders") if spec.get("type") == "multi" else None
    if not isinstance(children, dict):
        return []
    return [p for name, sub in children.items() for p in _judges_without_endpoint(sub, name)]


def check_grader(grader: dict[str, Any]) -> dict[str, Any]:
    """The normalized grader, or OpenAI's 400 saying what is wrong with it."""
    spec = normalize_grader(grader)
    try:
        evaluators.check(spec)
    except InvalidInput as exc:
        message = "; ".join(str(e.get("message")) for e in exc.errors) or exc.detail
        raise OpenAIError(f"Invalid grader: {message}", param=GRADER_PARAM) from None
    missing = _judges_without_endpoint(spec)
    if missing:
        raise OpenAIError(
            f"Invalid grader: score_model grader {', '.join(missing)} needs an OpenAI-compatible "
            "endpoint here: add 'base_url' (and 'api_key') to it, e.g. a model deployed on "
            "this server",
            param=GRADER_PARAM,
        )
    return spec


def save_grader(session: Session, owner: User, spec: dict[str, Any]) -> Evaluator:
    """The grader as a saved evaluator: one per grader name, a new version when it changes."""
    name = f"openai grader: {spec.get('name') or spec['type']}"[:200]
    note = "from POST /v1/fine_tuning/jobs"
    existing = evaluators.find_by_name(session, owner, name)
    if existing is None:
        return evaluators.create(session, owner, name, spec, note)
    if existing.latest.code != evaluators.code_text(spec):
        evaluators.add_version(session, existing, spec, note)
    return existing


def _reinforcement(body: FineTuningJobCreate) -> Any:
    method = body.method
    if method is None or method.type != "reinforcement":
        kind = method.type if method is not None else "supervised (the default)"
        raise OpenAIError(
            f"Fine-tuning method {kind} is not available here: this server runs reinforcement "
            'fine-tuning only (method={"type": "reinforcement", "reinforcement": {"grader": ...}})',
            param="method.type",
            code="unsupported_method",
        )
    if method.reinforcement is None:
        raise OpenAIError(
            "Missing required parameter: 'method.reinforcement' (with its grader)",
            param="method.reinforcement",
        )
    if body.hyperparameters:
        raise OpenAIError(
            "The top-level 'hyperparameters' is deprecated: send them in "
            "method.reinforcement.hyperparameters",
            param="hyperparameters",
        )
    return method.reinforcement


def create(session: Session, settings: Settings, owner: User, body: FineTuningJobCreate) -> Job:
    """A queued job for an OpenAI reinforcement fine-tuning request (the caller enqueues it)."""
    model = resolve_model(settings, body.model)
    reinforcement = _reinforcement(body)
    train = openai_files.get_dataset(session, owner, body.training_file, "training_file")
    validation = None
    if body.validation_file:
        validation = openai_files.get_dataset(
            session, owner, body.validation_file, "validation_file"
        )
    grader = check_grader(reinforcement.grader)
    plan = openai_params.plan(reinforcement.hyperparameters, model, train)
    evaluator = save_grader(session, owner, grader)
    request = parse_job_request(
        {
            "name": f"{body.model}:{body.suffix}" if body.suffix else f"openai: {body.model}",
            "base_model": model.name,
            "dataset_id": train.id,
            "validation_dataset_id": validation.id if validation else None,
            "evaluators": [{"id": evaluator.id, "weight": 1.0}],
            "training": plan.training,
            "rollout": plan.rollout,
        }
    )
    job = jobs.create(session, settings, owner, request)
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    job.spec = {
        **job.spec,
        "seed": seed,
        "openai": {
            "model": body.model,
            "suffix": body.suffix,
            "metadata": body.metadata,
            "training_file": body.training_file,
            "validation_file": body.validation_file,
            "grader": reinforcement.grader,
            "hyperparameters": plan.resolved,
        },
    }
    notes = [*plan.notes]
    if body.integrations:
        notes.append(
            "integrations are not sent from here: export metrics with the server's "
            "RFT_REPORT_TO setting (wandb, mlflow, tensorboard)"
        )
    jobs.add_event(session, job, "note", {"level": "info", "message": plan.summary})
    for note in notes:
        jobs.add_event(session, job, "note", {"level": "warn", "message": note})
    return job


def pause(session: Session, owner: User, value: str) -> Job:
    """A queued job pauses at once; a running one at its next step, keeping a checkpoint."""
    job = get_job(session, owner, value)
    if job.status == "queued":
        job.status = "paused"
        jobs.add_event(session, job, "status", {"status": "paused", "step": job.step})
    elif job.status == "running":
        if job.cancel_requested and not job.pause_requested:
            raise OpenAIError(f"Job {value} is being cancelled: it cannot be paused")
        job.cancel_requested = job.pause_requested = True
        jobs.add_event(session, job, "pause_requested", {"step": job.step})
    elif job.status != "paused":
        raise OpenAIError(f"Job {value} is already {_status(job)}: it cannot be paused")
    return job


def resume(session: Session, owner: User, value: str) -> tuple[Job, bool]:
    """(the job, whether it must be enqueued): a paused job goes back to the queue and
    continues from its last checkpoint; a pause not yet reached is withdrawn."""
    job = get_job(session, owner, value)
    if job.status == "paused":
        job.status, job.heartbeat_at = "queued", utcnow()
        # A pause that was pending when recovery re-queued the job must not stop it again.
        job.cancel_requested = job.pause_requested = False
        jobs.add_event(session, job, "status", {"status": "queued", "reason": "resumed"})
        return job, True
    if job.status == "running" and job.pause_requested:
        job.cancel_requested = job.pause_requested = False
        jobs.add_event(session, job, "pause_withdrawn", {"step": job.step})
        return job, False
    raise OpenAIError(f"Job {value} is {_status(job)}, not paused: there is nothing to resume")


def list_jobs(
    session: Session,
    owner: User,
    after: str | None,
    limit: int,
    metadata: dict[str, str] | None = None,
) -> tuple[list[Job], bool]:
    """The caller's jobs, newest first, after the cursor; with ``metadata``, those whose
    metadata holds every given pair."""
    query = select(Job).where(Job.owner_id == owner.id).order_by(Job.id.desc())
    if after:
        match = _JOB_ID.match(after)
        if match is None:
            raise OpenAIError(f"Invalid 'after': {after!r} is not a job id", param="after")
        query = query.where(Job.id < int(match.group(1)))
    found: list[Job] = []
    for job in session.scalars(query):
        mine = (job.spec.get("openai") or {}).get("metadata") or {}
        if not metadata or all(mine.get(k) == v for k, v in metadata.items()):
            found.append(job)
            if len(found) > limit:
                break
    return found[:limit], len(found) > limit


STATUSES = {"completed": "succeeded"}


def _status(job: Job) -> str:
    return STATUSES.get(job.status, job.status)


def org_of(owner: User) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", owner.name) or f"user-{owner.id}"


def model_name(job: Job, owner: User) -> str:
    """``ft:<base>:<org>:<suffix>:<job id>``, as OpenAI names a fine-tuned model."""
    asked = job.spec.get("openai") or {}
    base, suffix = asked.get("model") or job.base_model, asked.get("suffix") or ""
    return f"ft:{base}:{org_of(owner)}:{suffix}:{job.id}"


def checkpoint_model_name(job: Job, owner: User, step: int) -> str:
    return f"{model_name(job, owner)}:ckpt-step-{step}"


_MODEL_NAME = re.compile(r"^ft:[^:]+:[^:]*:[^:]*:(?P<job>\d{1,18})(?::ckpt-step-(?P<step>\d+))?$")


def checkpoint_for_model(session: Session, owner: User, name: str) -> Checkpoint | None:
    """THE SEAM for /v1/chat/completions: the checkpoint to deploy for a ``fine_tuned_model``
    (the job's last checkpoint, once it succeeded) or a ``fine_tuned_model_checkpoint``
    (``…:ckpt-step-N``) of the caller; None when the name is not one of theirs."""
    match = _MODEL_NAME.match(name)
    if match is None:
        return None
    job = session.get(Job, int(match.group("job")))
    if job is None or job.owner_id != owner.id:
        return None
    step = match.group("step")
    expected = checkpoint_model_name(job, owner, int(step)) if step else model_name(job, owner)
    if name != expected:
        return None
    if step is None:
        return job_records.last_checkpoint(session, job) if job.status == "completed" else None
    query = select(Checkpoint).where(Checkpoint.job_id == job.id, Checkpoint.step == int(step))
    return session.scalars(query).first()


def fine_tuned_models(session: Session, owner: User) -> list[tuple[str, Checkpoint]]:
    """Every model name of the caller's succeeded jobs with its checkpoint: each job's
    ``fine_tuned_model`` (its last checkpoint) and each ``…:ckpt-step-N`` (for /v1/models)."""
    query = (
        select(Job, Checkpoint)
        .join(Checkpoint, Checkpoint.job_id == Job.id)
        .where(Job.owner_id == owner.id, Job.status == "completed")
        .order_by(Job.id.desc(), Checkpoint.step.desc())
    )
    found: list[tuple[str, Checkpoint]] = []
    last_job = None
    for job, checkpoint in session.execute(query):
        if job.id != last_job:  # the highest step comes first: the job's final model
            found.append((model_name(job, owner), checkpoint))
            last_job = job.id
        found.append((checkpoint_model_name(job, owner, checkpoint.step), checkpoint))
    return found


def trained_tokens(session: Session, job: Job) -> int | None:
    """Tokens the trainer processed (TRL's ``num_tokens``), once the job has ended."""
    if not job.is_terminal:
        return None
    query = (
        select(JobMetric.values)
        .where(JobMetric.job_id == job.id, JobMetric.kind == "train")
        .order_by(JobMetric.step.desc())
        .limit(1)
    )
    values = session.scalars(query).first() or {}
    tokens = values.get("num_tokens")
    return int(tokens) if tokens is not None else 0
