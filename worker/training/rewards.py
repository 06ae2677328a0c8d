"""The reward TRL trains on: the job's evaluators, weighted, run through the sandbox pool.

An invalid sample (exception, timeout, bad value in any evaluator) gets None: TRL skips it
and the run goes on. Per-evaluator statistics, sampled completions and the evaluators' print
output and errors go to the recorder. Evaluators can be swapped between steps.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from app.core.config import Settings
from app.evaluators import (
    EvaluatorPool,
    Sample,
    SampleResult,
    component_spec,
    load_evaluator_spec,
)
from app.evaluators.rows import CONTEXT_KEY
from app.evaluators.validate import is_skipped
from app.services import evaluator_envs
from worker.training.data import completion_text, prompt_text
from worker.training.recorder import Recorder

# Per evaluator and step: errors and invalid samples first, then print output.
LOGS_PER_EVALUATOR_STEP = 8


def with_envs(settings: Settings | None, evaluators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluators that declare requirements run with their environment (installed outside the
    sandbox now, unless the web app or an earlier job already did: it is cached by hash)."""
    if settings is None:
        return evaluators
    return [
        {**e, "code": evaluator_envs.runnable(settings, e["code"], e["requirements"])}
        if e.get("requirements")
        else e
        for e in evaluators
    ]


def expand_components(evaluators: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per reward function: a module with several trains each as a component.

    The job's `components` ({name: weight}) picks a subset and their weights; by default every
    reward function of the module counts with weight 1. A component's weight multiplies the
    evaluator's; its metrics are named `rewards/<evaluator>/<component>/...`. Each entry's
    "code" is the checked EvaluatorSpec, so scoring a step does not parse the code again.
    """
    out = []
    for evaluator in evaluators:
        spec = load_evaluator_spec(evaluator["code"])
        names = spec.entry.component_names()
        chosen = evaluator.get("components") or {}
        if len(names) == 1 and not chosen:
            out.append({**evaluator, "code": spec})
            continue
        for name, weight in (chosen or dict.fromkeys(names, 1.0)).items():
            out.append(
                {
                    **evaluator,
                    "name": f"{evaluator['name']}/{name}",
                    "code": component_spec(spec, name),
                    "weight": float(evaluator["weight"]) * float(weight),
                }
            )
    return out


def trl_context(count: int, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """What TRL passes besides the columns, per sample, in a form that crosses the sandbox."""
    ids = kwargs.get("completion_ids")
    state = kwargs.get("trainer_state")
    shared: dict[str, Any] = {}
    if state is not None:
        shared["trainer_state"] = {
            key: getattr(state, key)
            for key in ("global_step", "max_steps", "epoch", "num_train_epochs")
            if isinstance(getattr(state, key, None), int | float)
        }
    out = []
    for i in range(count):
        context = dict(shared)
        if isinstance(ids, list) and i < len(ids):
            context["completion_ids"] = [int(t) for t in ids[i]]
        out.append(context)
    return out


def combine(weights: list[float], scores: list[float | None]) -> float | None:
    """The weighted mean of one sample's scores; None when any evaluator had no valid score."""
    if any(s is None for s in scores):
        return None
    total = sum(weights)
    return sum(w * s for w, s in zip(weights, scores, strict=True) if s is not None) / total


def _stats(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


class RewardHub:
    """Callable as a TRL reward function (batch form); ``step`` is set by the callback;
    ``validating`` says when TRL's evaluation loop (not a training step) is calling."""

    __name__ = "reward"

    def __init__(
        self,
        pool: EvaluatorPool,
        evaluators: list[dict[str, Any]],
        tenant: str,
        recorder: Recorder | None = None,
        completions_per_step: int = 8,
        record_every_seconds: float = 0.5,
        settings: Settings | None = None,
    ) -> None:
        self.pool, self.tenant, self.recorder = pool, tenant, recorder
        self.settings = settings
        self.evaluators = expand_components(with_envs(settings, evaluators))
        self.completions_per_step = completions_per_step
        # Fast steps (the demo makes ~10 a second) are sampled for completions and print output;
        # errors and invalid samples are always recorded.
        self.record_every_seconds = record_every_seconds
        self._recorded_at = -math.inf
        self.step = 0
        self.validating: Callable[[], bool] = lambda: False
        self.last_activity = time.monotonic()
        self._step_metrics: dict[int, dict[str, float]] = {}

    def set_evaluators(self, evaluators: list[dict[str, Any]]) -> None:
        self.evaluators = expand_components(with_envs(self.settings, evaluators))

    def take_metrics(self, step: int) -> dict[str, float]:
        return self._step_metrics.pop(step, {})

    def score(self, rows: list[dict[str, Any]], texts: list[str]) -> list[list[SampleResult]]:
        """Each evaluator's results for the samples, in evaluator order."""
        samples = [Sample(row=row, completion=text) for row, text in zip(rows, texts, strict=True)]
        results = []
        for evaluator in self.evaluators:
            results.append(self.pool.score(evaluator["code"], samples, tenant=self.tenant))
            self.last_activity = time.monotonic()
        return results

    def rewards(self, per_evaluator: list[list[SampleResult]]) -> list[float | None]:
        weights = [float(e["weight"]) for e in self.evaluators]
        count = len(per_evaluator[0]) if per_evaluator else 0
        out = []
        for i in range(count):
            # A reward function that returned None does not apply (TRL's nansum leaves it out).
            kept = [(w, r[i]) for w, r in zip(weights, per_evaluator, strict=True)]
            applying = [(w, r) for w, r in kept if not is_skipped(r)]
            scores = [r.score if r.is_score_valid else None for _, r in applying]
            out.append(combine([w for w, _ in applying], scores) if applying else None)
        return out

    def __call__(
        self, prompts: list[Any], completions: list[Any], row_json: list[str], **kwargs: Any
    ) -> list[float | None]:
        rows = [json.loads(r) for r in row_json]
        for row, context in zip(rows, trl_context(len(rows), kwargs), strict=True):
            if context:
                row[CONTEXT_KEY] = context
        texts = [completion_text(c) for c in completions]
        per_evaluator = self.score(rows, texts)
        rewards = self.rewards(per_evaluator)
        if self.validating():
            self._log_validation(per_evaluator, rewards, kwargs["log_metric"])
            return rewards
        self._remember(per_evaluator)
        if self.recorder is not None and self._due(per_evaluator):
            self._record(prompts, texts, per_evaluator, rewards)
        return rewards

    def _remember(self, per_evaluator: list[list[SampleResult]]) -> None:
        metrics = self._step_metrics.setdefault(self.step, {})
        for evaluator, results in zip(self.evaluators, per_evaluator, strict=True):
            name = evaluator["name"]
            valid = [r.score for r in results if r.is_score_valid and r.score is not None]
            if valid:
                metrics[f"rewards/{name}/mean"], metrics[f"rewards/{name}/std"] = _stats(valid)
            metrics[f"rewards/{name}/invalid_frac"] = 1 - len(valid) / max(1, len(results))

    def _log_validation(
        self,
        per_evaluator: list[list[SampleResult]],
        rewards: list[float | None],
        log_metric: Callable[[str, float], None],
    ) -> None:
        """Validation is not a training step (no completions, logs or step metrics): TRL
        averages these over its evaluation and logs them as ``eval_validation/...``."""
        invalid = sum(r is None for r in rewards) / max(1, len(rewards))
        log_metric("validation/invalid_frac", invalid)
        for evaluator, results in zip(self.evaluators, per_evaluator, strict=True):
            valid = [r.score for r in results if r.is_score_valid and r.score is not None]
            if valid:
                log_metric(f"validation/{evaluator['name']}/mean", sum(valid) / len(valid))

    def _due(self, per_evaluator: list[list[SampleResult]]) -> bool:
        now = time.monotonic()
        trouble = any(not r.is_score_valid for results in per_evaluator for r in results)
        if trouble or now - self._recorded_at >= self.record_every_seconds:
            self._recorded_at = now
            return True
        return False

    def _record(
        self,
        prompts: list[Any],
        texts: list[str],
        per_evaluator: list[list[SampleResult]],
        rewards: list[float | None],
    ) -> None:
        assert self.recorder is not None
        for i in range(min(self.completions_per_step, len(texts))):
            scores = {
                e["name"]: {
                    "score": r[i].score,
                    "reason": r[i].reason,
                    "valid": r[i].is_score_valid,
                }
                for e, r in zip(self.evaluators, per_evaluator, strict=True)
            }
            self.recorder.completion(
                {
                    "step": self.step,
                    "prompt": prompt_text(prompts[i]),
                    "completion": texts[i],
                    "reward": rewards[i],
                    "scores": scores,
                }
            )
        for evaluator, results in zip(self.evaluators, per_evaluator, strict=True):
            self._record_logs(evaluator["name"], results)

    def _record_logs(self, name: str, results: list[SampleResult]) -> None:
        assert self.recorder is not None
        noisy = sorted(
            (r for r in results if r.stdout or r.error or not r.is_score_valid),
            key=lambda r: (r.error is None, r.is_score_valid),
        )
        for result in noisy[:LOGS_PER_EVALUATOR_STEP]:
            level = (
                "error" if result.error else ("warning" if not result.is_score_valid else "info")
            )
            parts = [result.stdout.rstrip()] if result.stdout else []
            if result.error:
                parts.append(result.error)
            elif not result.is_score_valid and result.reason:
                parts.append(f"invalid: {result.reason}")
            self.recorder.log(self.step, level, name, "\n".join(parts))
        if len(noisy) > LOGS_PER_EVALUATOR_STEP:
            more = len(noisy) - LOGS_PER_EVALUATOR_STEP
            self.recorder.log(self.step, "info", name, f"… {more} more samples with output")
