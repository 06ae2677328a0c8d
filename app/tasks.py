"""The contract between the web process and the workers: task names, queues, typed payloads.

Every message either side sends is a pydantic model here; the web side dumps it to JSON, the
worker validates what it receives back into the same model. The web process builds its Celery
*client* from this module and never imports ``worker``; the worker's Celery app
(``worker/celery_app.py``) reuses ``configure`` and registers the task bodies.

The database is the source of truth for job state; the broker is only a doorbell. Hence
``acks_late`` with prefetch 1: a task whose worker dies goes back to the queue (Redis) or is
found again from its database row (filesystem broker, which loses it).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Literal

from celery import Celery
from kombu import Exchange, Queue
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.schemas.job_params import RolloutParams, TrainingParams

log = logging.getLogger("rft.tasks")

QUEUES = ("gpu", "cpu")

PING_TASKS = {"gpu": "rft.ping.gpu", "cpu": "rft.ping.cpu"}
TRAIN_TASK = "rft.jobs.train"
PREFLIGHT_TASK = "rft.jobs.preflight"
DEMO_TASK = "rft.demo.build"

# Task name -> queue. Training jobs and pre-flight hold the accelerator; the rest is CPU work.
ROUTES = {
    PING_TASKS["gpu"]: {"queue": "gpu"},
    PING_TASKS["cpu"]: {"queue": "cpu"},
    TRAIN_TASK: {"queue": "gpu"},
    PREFLIGHT_TASK: {"queue": "gpu"},
    DEMO_TASK: {"queue": "cpu"},
}


class Message(BaseModel):
    """A payload on the wire: unknown fields are a bug in the sender, not something to drop."""

    model_config = ConfigDict(extra="forbid")


# --- payloads -------------------------------------------------------------------------------


class Ping(Message):
    sent_at: float = Field(description="Sender's time.time(), to measure the one-way delay.")


class Pong(Message):
    worker: str = Field(description="host:pid of the worker process that answered.")
    received_after_ms: float


class TrainJob(Message):
    """The doorbell for a job: the job row holds everything else (its validated spec)."""

    job_id: int


class EvaluatorPin(Message):
    """An evaluator at the version a job or pre-flight uses, with its code."""

    id: int
    name: str
    version: int
    weight: float
    components: dict[str, float] | None = None  # a subset of the module's reward functions
    code: str
    requirements: list[str] = []  # declared packages: the worker installs (or reuses) their env


class JobSpec(BaseModel):
    """A job's stored spec (``Job.spec``): the parameters the API validated, evaluators pinned.

    Validated again by the worker into the same parameter models the API used; fields the
    worker does not read (added by newer API versions) are ignored rather than refused."""

    model_config = ConfigDict(extra="ignore")

    training: TrainingParams
    rollout: RolloutParams
    evaluators: list[EvaluatorPin] = Field(min_length=1)
    evaluators_revision: int = 1
    seed: int = 0  # the trainer's seed (the OpenAI API sets it: POST /v1/fine_tuning/jobs)

    @model_validator(mode="after")
    def _resolved(self) -> JobSpec:
        # A stored spec carries the values derived at creation (app.services.job_defaults).
        if self.rollout.max_tokens is None or self.training.max_context_length is None:
            raise ValueError("max_tokens and max_context_length must be resolved in a stored spec")
        return self

    @property
    def evaluator_dicts(self) -> list[dict[str, Any]]:
        return [e.model_dump() for e in self.evaluators]


class PreflightRequest(Message):
    owner_id: int
    base_model: str
    dataset_id: int
    evaluators: list[EvaluatorPin] = Field(min_length=1)
    rollout: RolloutParams
    prompts: int = Field(ge=1)


class PreflightExample(Message):
    prompt: str
    completion: str
    reward: float | None
    error: str | None


class PreflightReport(Message):
    prompts: int
    n: int
    reward_mean: float
    reward_std: float
    frac_reward_zero_std: float
    evaluator_error_rate: float
    verdict: Literal["ready", "too_easy", "too_hard", "no_signal", "fix_evaluator"]
    advice: str
    examples: list[PreflightExample]


class BuildDemoModel(Message):
    name: str = Field(description="Folder name of the demo model under RFT_MODELS_DIR.")


def pong_now(ping: Ping) -> Pong:
    """The worker's answer to a ping (here so both sides agree on what a pong holds)."""
    return Pong(
        worker=f"{socket.gethostname()}:{os.getpid()}",
        received_after_ms=round((time.time() - ping.sent_at) * 1000, 1),
    )


# --- the Celery client ----------------------------------------------------------------------


def broker_options(settings: Settings) -> dict[str, object]:
    if not settings.broker_is_filesystem:
        return {"visibility_timeout": 24 * 3600}
    folder = settings.broker_folder
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def configure(celery: Celery, settings: Settings) -> None:
    """The configuration both sides share: queues, routes, serialisation, delivery."""
    if settings.results.startswith("file://"):
        (settings.data_path / "results").mkdir(parents=True, exist_ok=True)
    celery.conf.update(
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_default_queue="cpu",
        task_default_exchange="cpu",
        task_default_routing_key="cpu",
        task_routes=ROUTES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        # The filesystem transport has no broadcast fast enough for remote control or events.
        worker_enable_remote_control=not settings.broker_is_filesystem,
        worker_send_task_events=False,
    )


def make_client(settings: Settings) -> Celery:
    """A Celery app that only sends tasks and reads their results (the web process's)."""
    celery = Celery("rft", broker=settings.broker, backend=settings.results, set_as_current=False)
    configure(celery, settings)
    return celery


# --- sending --------------------------------------------------------------------------------


def send(celery: Celery, name: str, payload: Message, **options: Any) -> Any:
    """Send one typed payload (the task receives it as its single JSON argument)."""
    return celery.send_task(name, args=[payload.model_dump(mode="json")], **options)


def enqueue_job(celery: Celery, job_id: int) -> None:
    """Ring the doorbell for a job. A lost message is harmless: recovery re-sends it."""
    try:
        send(celery, TRAIN_TASK, TrainJob(job_id=job_id))
    except Exception:  # the broker is only a doorbell: the job row stays queued
        log.exception("could not enqueue job %s; the recovery loop will retry", job_id)


def enqueue_job_after_commit(session: Session, celery: Celery, job_id: int) -> None:
    """Ring the doorbell once ``session`` commits (a worker must find the row), never before,
    and not at all when the transaction rolls back."""

    def committed(_session: Session) -> None:
        event.remove(session, "after_soft_rollback", rolled_back)
        enqueue_job(celery, job_id)

    def rolled_back(_session: Session, _previous: Any) -> None:
        event.remove(session, "after_commit", committed)

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_soft_rollback", rolled_back, once=True)


def send_ping(celery: Celery, queue: str, expires: float) -> Any:
    return send(celery, PING_TASKS[queue], Ping(sent_at=time.time()), expires=expires)


def request_preflight(celery: Celery, request: PreflightRequest, timeout: float) -> PreflightReport:
    """Send a pre-flight to a worker and wait for its report (raises when none comes)."""
    result = send(celery, PREFLIGHT_TASK, request, expires=timeout)
    return PreflightReport.model_validate(result.get(timeout=timeout, interval=0.1))


def request_demo_model(celery: Celery, name: str) -> None:
    send(celery, DEMO_TASK, BuildDemoModel(name=name))


# --- base model downloads (the worker downloads; progress in RFT_MODELS_DIR/.downloads) -----

DOWNLOAD_TASK = "rft.models.download"
ROUTES[DOWNLOAD_TASK] = {"queue": "cpu"}  # network and disk: never holds the accelerator


class DownloadModel(Message):
    hub_id: str = Field(description="org/name on the Hugging Face hub (or HF_ENDPOINT).")


def request_model_download(celery: Celery, hub_id: str) -> None:
    send(celery, DOWNLOAD_TASK, DownloadModel(hub_id=hub_id))


# --- IDE preview: completions sampled from a model ------------------------------------------
# One task generates every row of a preview (the engine batches them); each row's completions
# are stored in the result backend under an id the web chose for that row, as soon as they are
# ready, so the IDE scores and shows them while the other rows are still being generated. The
# web stores a result under `cancel_id` when its client leaves: the worker then stops.

SAMPLE_TASK = "rft.preview.sample"
ROUTES[SAMPLE_TASK] = {"queue": "gpu"}  # it holds the model, as pre-flight does


class SamplePrompts(Message):
    owner_id: int
    base_model: str
    checkpoint_id: int | None = None
    adapter_key: str | None = Field(default=None, description="Storage key of the LoRA adapter.")
    rows: list[dict[str, Any]] = Field(min_length=1, description="Rows to generate for.")
    result_ids: list[str] = Field(min_length=1, description="Where row i's completions go.")
    cancel_id: str
    n: int = Field(ge=1)
    temperature: float
    max_tokens: int = Field(ge=1)

    @model_validator(mode="after")
    def _one_id_per_row(self) -> SamplePrompts:
        if len(self.rows) != len(self.result_ids):
            raise ValueError("one result id per row")
        return self


class SampledRow(Message):
    """One row's completions, or why there are none (a prompt too long for the model...)."""

    completions: list[str] = Field(default_factory=list)
    error: str | None = None


def request_samples(celery: Celery, request: SamplePrompts, expires: float) -> Any:
    """Send the task; the caller polls ``request.result_ids`` in the result backend."""
    return send(celery, SAMPLE_TASK, request, expires=expires)
