"""What a job request becomes: defaults derived from the chosen model and data, and the plan.

One derivation for the API, the CLI and the wizard. A field the user left unset is derived,
never a fixed number the model cannot take; an explicit value is checked and refused with the
field named. Prompt lengths come from the dataset's recorded token estimate (~4 characters a
token, app.ingest.rows.tokens_of): the web process does not load tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.models import Dataset, Job, User
from app.schemas.job_params import CONTEXT_CAP, MAX_TOKENS_CAP, JobCreate
from app.services import base_models
from app.services.base_models import BaseModel

MIN_COMPLETION = 16  # rollout.max_tokens' lower bound
# A run this short keeps its full learning rate (the parameter guide: "constant keeps the full
# rate for short runs"); a linear decay would spend half of it at half the rate or less.
SHORT_RUN_STEPS = 200
# Below this many parameters a model takes the top of the learning-rate range: LoRA on a small
# model moves too little at 1e-4 in a short run. Measured on the demo model and data, every
# other parameter unset (62 steps, reward of the first 6 -> last 6 steps): 1e-4 linear
# 0.60 -> 0.58; 5e-4 constant 0.61 -> 0.73 (tests/worker/test_default_job.py).
SMALL_MODEL_PARAMETERS = 100_000_000
SMALL_MODEL_LEARNING_RATE = 5e-4
DEFAULT_STEP_SECONDS = (2.0, 30.0)  # said when no job has finished on this installation yet
CALIBRATION_JOBS = 20


@dataclass
class Resolved:
    request: JobCreate  # every derived field filled in
    model: BaseModel
    dataset: Dataset
    validation: Dataset | None
    prompts_per_step: int
    steps_per_epoch: int
    total_steps: int
    derived: list[str] = field(default_factory=list)  # the fields that were left unset
    warnings: list[str] = field(default_factory=list)

    @property
    def tokens_per_step(self) -> int:
        rollout = self.request.rollout
        prompt = _tokens(self.dataset)["mean"]
        return int(self.prompts_per_step * rollout.n * (prompt + (rollout.max_tokens or 0)))

    def plan(self) -> dict[str, Any]:
        return {
            "prompts_per_step": self.prompts_per_step,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "tokens_per_step": self.tokens_per_step,
            "rows": self.dataset.row_count,
            "longest_prompt_tokens": _longest(self.dataset, self.validation),
        }


def owned_dataset(session: Session, owner: User, dataset_id: int, field_: str) -> Dataset:
    row = session.get(Dataset, dataset_id)
    if row is None or row.owner_id != owner.id:
        raise InvalidInput(
            "Invalid job request", [{"field": field_, "message": f"dataset {dataset_id} not found"}]
        )
    return row


def _tokens(dataset: Dataset) -> dict[str, Any]:
    recorded = (dataset.meta or {}).get("tokens") or {}
    return {
        "min": int(recorded.get("min") or 1),
        "max": int(recorded.get("max") or 1),
        "mean": float(recorded.get("mean") or 1.0),
    }


def _longest(dataset: Dataset, validation: Dataset | None) -> int:
    return int(max(_tokens(d)["max"] for d in (dataset, validation) if d is not None))


def _refuse(field_: str, message: str) -> InvalidInput:
    detail = {"training": "Invalid training parameters", "rollout": "Invalid rollout parameters"}
    return InvalidInput(
        detail.get(field_.split(".")[0], "Invalid job request"),
        [{"field": field_, "message": message}],
    )


def _context(request: JobCreate, model: BaseModel) -> int:
    chosen = request.training.max_context_length
    if chosen is None:
        return min(model.max_context_length, CONTEXT_CAP)
    if chosen > model.max_context_length:
        raise _refuse(
            "training.max_context_length",
            f"must be at most {model.max_context_length}, the limit of {model.name} (got {chosen})",
        )
    return chosen


def _max_tokens(request: JobCreate, context: int, longest: int) -> int:
    room = context - longest
    chosen = request.rollout.max_tokens
    said = f"the longest prompt (~{longest} tokens, estimated) plus max_tokens must fit in"
    if chosen is None:
        if room < MIN_COMPLETION:
            where = (
                "training.max_context_length"
                if request.training.max_context_length is not None
                else "dataset_id"
            )
            raise _refuse(
                where,
                f"{said} max_context_length {context}: that leaves {max(room, 0)} tokens, fewer "
                f"than {MIN_COMPLETION} for a completion; shorten the prompts or pick a model "
                "with a longer context",
            )
        return min(MAX_TOKENS_CAP, room)
    if chosen >= context:
        raise _refuse(
            "rollout.max_tokens",
            f"must be below training.max_context_length ({context}) (got {chosen}): "
            "lower max_tokens or raise max_context_length",
        )
    if chosen > room:
        raise _refuse(
            "rollout.max_tokens",
            f"must be at most {room}: {said} max_context_length {context} (got {chosen})",
        )
    return chosen


def resolve(session: Session, settings: Settings, owner: User, request: JobCreate) -> Resolved:
    """The request with its defaults derived, checked against the model and the data."""
    model = base_models.get_model(settings, request.base_model)
    dataset = owned_dataset(session, owner, request.dataset_id, "dataset_id")
    validation = None
    if request.validation_dataset_id is not None:
        validation = owned_dataset(
            session, owner, request.validation_dataset_id, "validation_dataset_id"
        )
    training, rollout = request.training, request.rollout
    derived = [
        f"training.{name}"
        for name in ("max_context_length", "batch_size", "learning_rate", "lr_scheduler")
    ]
    derived = [p for p in derived if p.split(".")[1] not in training.model_fields_set]
    if rollout.max_tokens is None:
        derived.append("rollout.max_tokens")
    context = _context(request, model)
    max_tokens = _max_tokens(request, context, _longest(dataset, validation))

    rows, n, tokens = dataset.row_count, rollout.n, _tokens(dataset)
    batch = training.batch_size
    prompts = max(1, batch // int(n * (tokens["mean"] + max_tokens)))
    warnings = []
    if prompts > rows and "training.batch_size" in derived:
        # Lowered as if every prompt were 1 token long: the worker divides batch_size by the
        # prompts' real (tokenized) length, which the estimate here may overstate, and must
        # still find at most `rows` prompts a step. The worker never changes batch_size itself
        # (an explicit value is the user's: docs/api.md, "Prompts per step").
        batch = rows * n * (1 + max_tokens)
        prompts = min(rows, max(1, batch // int(n * (tokens["mean"] + max_tokens))))
        warnings.append(
            f"prompts per step lowered to {prompts}: the dataset has {rows} rows "
            f"(batch_size {training.batch_size} -> {batch} tokens)"
        )
    steps_per_epoch = rows // prompts
    total = training.max_steps or training.epochs * steps_per_epoch
    if steps_per_epoch == 0 or total == 0:
        raise _refuse(
            "training.batch_size",
            f"no optimizer step would run: the dataset has {rows} rows and batch_size {batch} "
            f"asks for ~{prompts} prompts per step, so an epoch holds no full step whatever "
            f"epochs ({training.epochs}) or max_steps ({training.max_steps}) say; lower "
            "batch_size or leave it unset",
        )
    rate, schedule = _rate_and_schedule(request, model, total, derived)
    filled = request.model_copy(
        update={
            "training": training.model_copy(
                update={
                    "max_context_length": context,
                    "batch_size": batch,
                    "learning_rate": rate,
                    "lr_scheduler": schedule,
                }
            ),
            "rollout": rollout.model_copy(update={"max_tokens": max_tokens}),
        }
    )
    return Resolved(
        request=filled,
        model=model,
        dataset=dataset,
        validation=validation,
        prompts_per_step=prompts,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        derived=derived,
        warnings=warnings,
    )


def _rate_and_schedule(
    request: JobCreate, model: BaseModel, total_steps: int, derived: list[str]
) -> tuple[float, str]:
    """The learning rate and its schedule: the user's when set; else fitted to the model's size
    and the run's length."""
    training = request.training
    rate, schedule = training.learning_rate, training.lr_scheduler
    if "training.learning_rate" in derived:
        small = model.parameters is not None and model.parameters < SMALL_MODEL_PARAMETERS
        rate = SMALL_MODEL_LEARNING_RATE if small else rate
    if "training.lr_scheduler" in derived and total_steps <= SHORT_RUN_STEPS:
        schedule = "constant"
    return rate, schedule


@dataclass(frozen=True)
class Estimate:
    low_seconds: float
    high_seconds: float
    basis: str  # how it was calibrated, said next to the numbers


def estimate(session: Session, resolved: Resolved) -> Estimate:
    """Wall time of the run: measured seconds per step of this installation's finished jobs,
    scaled by tokens per step; a stated default range when no job has finished yet."""
    query = (
        select(Job)
        .where(Job.status == "completed", Job.step > 0, Job.started_at.is_not(None))
        .order_by(Job.id.desc())
        .limit(CALIBRATION_JOBS)
    )
    per_step = []
    for job in session.scalars(query):
        if job.finished_at is None or job.started_at is None:
            continue
        seconds = (job.finished_at - job.started_at).total_seconds() / job.step
        their_tokens = (job.spec.get("plan") or {}).get("tokens_per_step")
        scale = resolved.tokens_per_step / their_tokens if their_tokens else 1.0
        per_step.append(seconds * scale)
    steps = resolved.total_steps
    if not per_step:
        low, high = DEFAULT_STEP_SECONDS
        basis = f"no job has finished on this installation yet: assumed {low:g}-{high:g} s a step"
        return Estimate(low * steps, high * steps, basis)
    low, high = min(per_step), max(per_step)
    if len(per_step) == 1:
        low, high = low * 0.7, high * 1.5
    basis = (
        f"from {len(per_step)} finished job(s) here: {low:.2g}-{high:.2g} s a step "
        "at this job's tokens per step"
    )
    return Estimate(low * steps, high * steps, basis)
