"""Celery tasks: thin wrappers that validate their payload (app.tasks) and call worker code."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from app.core.config import Settings
from app.tasks import (
    DEMO_TASK,
    DOWNLOAD_TASK,
    PING_TASKS,
    PREFLIGHT_TASK,
    SAMPLE_TASK,
    TRAIN_TASK,
    BuildDemoModel,
    DownloadModel,
    Ping,
    PreflightRequest,
    SampledRow,
    SamplePrompts,
    TrainJob,
    pong_now,
)


@shared_task(name=PING_TASKS["cpu"])
def ping_cpu(payload: dict[str, Any]) -> dict[str, Any]:
    return pong_now(Ping.model_validate(payload)).model_dump(mode="json")


@shared_task(name=PING_TASKS["gpu"])
def ping_gpu(payload: dict[str, Any]) -> dict[str, Any]:
    return pong_now(Ping.model_validate(payload)).model_dump(mode="json")


@shared_task(name=TRAIN_TASK)
def train_job(payload: dict[str, Any]) -> str:
    from worker.training.runner import run_job

    return run_job(TrainJob.model_validate(payload).job_id, Settings())


@shared_task(name=PREFLIGHT_TASK)
def preflight_job(payload: dict[str, Any]) -> dict[str, Any]:
    from worker.training.preflight import run_preflight

    report = run_preflight(PreflightRequest.model_validate(payload), Settings())
    return report.model_dump(mode="json")


@shared_task(name=DEMO_TASK)
def build_demo_model(payload: dict[str, Any]) -> str:
    from worker.training.demo_model import build_with_status

    request = BuildDemoModel.model_validate(payload)
    return str(build_with_status(Settings().models_path, request.name))


@shared_task(name=DOWNLOAD_TASK)
def download_model(payload: dict[str, Any]) -> dict[str, Any]:
    from worker.downloads import download

    request = DownloadModel.model_validate(payload)
    return asdict(download(Settings(), request.hub_id))


@shared_task(name=SAMPLE_TASK, bind=True)
def sample_completions(self: Any, payload: dict[str, Any]) -> int:
    """Completions for the IDE preview: each row's are stored under its result id as soon as
    they are ready (the web polls them); a result stored under ``cancel_id`` stops the run."""
    from celery import states

    from worker.serving.sampling import sample, watch_cancel

    request = SamplePrompts.model_validate(payload)
    backend = self.backend

    def store(position: int, row: SampledRow) -> None:
        backend.store_result(request.result_ids[position], row.model_dump(mode="json"), "SUCCESS")

    def gone() -> bool:
        return bool(backend.get_state(request.cancel_id) == states.SUCCESS)

    cancelled, stop_watching = watch_cancel(gone)
    try:
        return sample(request, Settings(), store, cancelled.is_set)
    finally:
        stop_watching()
