"""OpenAI's reinforcement hyperparameters -> this product's training and rollout parameters.

Mapped honestly, each decision said in the job's events:
- ``n_epochs`` -> training.epochs; ``learning_rate_multiplier`` -> learning_rate = 1e-4 x it;
- ``batch_size`` (prompts a step) -> a token budget that fits that many prompts of the training
  file's mean length plus the completion length (our batch size is counted in tokens);
- ``compute_multiplier`` -> rollout.n, completions per prompt (4 x it, within 2-8): OpenAI
  describes it as compute spent exploring, which is what the GRPO group size buys;
- ``eval_interval`` -> validation and checkpoint every that many steps;
- ``eval_samples`` and ``reasoning_effort`` have no counterpart: accepted and reported.
Context and completion length come from the model's limit and the file's longest prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.models import Dataset
from app.schemas.job_params import CONTEXT_CAP, MAX_TOKENS_CAP, RolloutParams, TrainingParams
from app.schemas.openai_ft import ReinforcementHyperparameters
from app.services.base_models import BaseModel
from app.services.openai_errors import OpenAIError

PARAM = "method.reinforcement.hyperparameters."
DEFAULT_LR = float(TrainingParams.model_fields["learning_rate"].default)
DEFAULT_N = int(RolloutParams.model_fields["n"].default)
DEFAULT_CONTEXT = CONTEXT_CAP  # what an unset max_context_length becomes at most
DEFAULT_BATCH_TOKENS = int(TrainingParams.model_fields["batch_size"].default)
MAX_COMPLETION = MAX_TOKENS_CAP
LR_MULTIPLIERS = (0.1, 5.0)  # DEFAULT_LR x these = the valid learning-rate range


@dataclass
class Plan:
    training: dict[str, Any] = field(default_factory=dict)
    rollout: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # OpenAI's names, "auto" resolved
    notes: list[str] = field(default_factory=list)
    summary: str = ""


def _given(value: Any) -> bool:
    return value is not None and value != "auto"


def _prompt_tokens(dataset: Dataset) -> tuple[int, int]:
    tokens = dataset.meta.get("tokens") or {}
    return max(1, round(float(tokens.get("mean") or 1))), max(1, int(tokens.get("max") or 1))


def plan(hyper: ReinforcementHyperparameters | None, model: BaseModel, dataset: Dataset) -> Plan:
    hyper = hyper or ReinforcementHyperparameters()
    out = Plan()
    context = min(DEFAULT_CONTEXT, model.max_context_length)
    mean_prompt, longest = _prompt_tokens(dataset)
    # Token estimates are ~4 characters a token: leave room for finer tokenizers.
    max_tokens = max(16, min(MAX_COMPLETION, context - 4 * longest - 8))
    if max_tokens >= context:
        raise OpenAIError(
            f"The model {model.name} takes {context} tokens, too few for the training file's "
            f"prompts (up to ~{longest} tokens) plus an answer",
            param="training_file",
        )
    out.training.update(max_context_length=context)
    out.rollout.update(max_tokens=max_tokens)

    n = DEFAULT_N
    if _given(hyper.compute_multiplier):
        multiplier = float(hyper.compute_multiplier)  # type: ignore[arg-type]
        if multiplier <= 0:
            raise OpenAIError(
                "compute_multiplier must be above 0", param=PARAM + "compute_multiplier"
            )
        n = min(8, max(2, round(DEFAULT_N * multiplier)))
        if n != round(DEFAULT_N * multiplier):
            out.notes.append(
                f"compute_multiplier {multiplier:g} asks for {DEFAULT_N * multiplier:g} "
                f"completions per prompt; using {n} (the valid range is 2-8)"
            )
    out.rollout["n"] = n

    if _given(hyper.learning_rate_multiplier):
        multiplier = float(hyper.learning_rate_multiplier)  # type: ignore[arg-type]
        low, high = LR_MULTIPLIERS
        if not low <= multiplier <= high:
            raise OpenAIError(
                f"learning_rate_multiplier must be between {low:g} and {high:g} here (the "
                f"learning rate {DEFAULT_LR:g} x it must be within 1e-05 - 0.0005); "
                f"got {multiplier:g}",
                param=PARAM + "learning_rate_multiplier",
            )
        out.training["learning_rate"] = DEFAULT_LR * multiplier
    lr_multiplier = out.training.get("learning_rate", DEFAULT_LR) / DEFAULT_LR

    epochs = int(hyper.n_epochs) if _given(hyper.n_epochs) else 1  # type: ignore[arg-type]
    out.training["epochs"] = epochs

    per_prompt = n * (mean_prompt + max_tokens)
    if _given(hyper.batch_size):
        prompts = int(hyper.batch_size)  # type: ignore[arg-type]
        if not 1 <= prompts <= dataset.row_count:
            raise OpenAIError(
                f"batch_size must be from 1 to the training file's {dataset.row_count} rows "
                f"(got {prompts})",
                param=PARAM + "batch_size",
            )
    else:
        prompts = max(1, min(dataset.row_count, DEFAULT_BATCH_TOKENS // per_prompt))
    # Half a prompt of slack: the worker divides by the tokenizer's own count of the prompts.
    out.training["batch_size"] = prompts * per_prompt + per_prompt // 2

    eval_interval: int | str = "auto"
    if _given(hyper.eval_interval):
        eval_interval = int(hyper.eval_interval)  # type: ignore[arg-type]
        if eval_interval < 1:
            raise OpenAIError("eval_interval must be 1 or more", param=PARAM + "eval_interval")
        out.training.update(eval_steps=eval_interval, save_steps=eval_interval)

    if _given(hyper.eval_samples):
        out.notes.append(
            f"eval_samples={hyper.eval_samples} has no counterpart here: validation samples one "
            "completion for each row of the validation file (up to 64 rows)"
        )
    if hyper.reasoning_effort not in (None, "default"):
        out.notes.append(
            f"reasoning_effort={hyper.reasoning_effort} has no counterpart here: local base "
            "models have no reasoning-effort setting"
        )
    out.resolved = {
        "n_epochs": epochs,
        "batch_size": prompts,
        "learning_rate_multiplier": lr_multiplier,
        "compute_multiplier": n / DEFAULT_N,
        "eval_interval": eval_interval,
        "eval_samples": hyper.eval_samples if _given(hyper.eval_samples) else "auto",
        "reasoning_effort": hyper.reasoning_effort or "default",
    }
    every = "" if eval_interval == "auto" else f", validation and checkpoint every {eval_interval}"
    out.summary = (
        f"Mapped onto {model.name}: {epochs} epoch(s), {prompts} prompts x {n} completions a "
        f"step ({out.training['batch_size']} tokens), learning rate "
        f"{out.training.get('learning_rate', DEFAULT_LR):g}, completions up to {max_tokens} "
        f"tokens, context {context}{every}"
    )
    return out
