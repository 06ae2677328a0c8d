"""Runs side by side: their curves on shared axes, what differs in their configuration, and
their best validation reward."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Job
from app.services import job_views

MAX_RUNS = 4
COMPARED_METRICS = (
    "reward",
    "eval/reward",
    "kl",
    "loss",
    "entropy",
    "completions/mean_length",
    "frac_reward_zero_std",
)


def flat_config(job: Job) -> dict[str, Any]:
    """The configuration as dotted keys; evaluators by name, version and weight (not code)."""
    spec = job.spec
    flat: dict[str, Any] = {"base_model": job.base_model, "dataset_id": job.dataset_id}
    flat["validation_dataset_id"] = job.validation_dataset_id
    for group in ("training", "rollout"):
        for key, value in (spec.get(group) or {}).items():
            flat[f"{group}.{key}"] = value
    evaluators = spec.get("evaluators", [])
    flat["evaluators"] = ", ".join(
        f"{e['name']} v{e['version']} weight {e['weight']}" for e in evaluators
    )
    for key, value in spec.items():
        if key not in ("training", "rollout", "evaluators", "evaluators_revision") and (
            key not in flat
        ):
            flat[key] = value
    return flat


def config_diff(jobs: list[Job]) -> list[tuple[str, list[Any]]]:
    """Only the keys whose values are not the same in every run."""
    configs = [flat_config(j) for j in jobs]
    keys = sorted({k for c in configs for k in c})
    rows = [(k, [c.get(k) for c in configs]) for k in keys]
    return [(k, values) for k, values in rows if any(v != values[0] for v in values)]


def compare(session: Session, jobs: list[Job]) -> dict[str, Any]:
    runs, charts = [], []
    for job in jobs:
        chart = job_views.chart_data(session, job)
        summary = job_views.summary(session, job, chart)
        for part in ("train", "eval"):
            chart[part]["series"] = {
                k: v for k, v in chart[part]["series"].items() if k in COMPARED_METRICS
            }
        charts.append({"id": job.id, "name": job.name, "train": chart["train"]})
        charts[-1]["eval"] = chart["eval"]
        runs.append({"job": job, "summary": summary})
    return {
        "runs": runs,
        "diff": config_diff(jobs),
        "charts": {"runs": charts, "metrics": list(COMPARED_METRICS)},
    }
