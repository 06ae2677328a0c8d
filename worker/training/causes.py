"""Why a job failed, said so the user can act: what went wrong and which setting to change.

TRL, transformers and PEFT raise errors written for their own arguments
(``generation_batch_size (3) must be divisible by num_generations (2)``); the user set ours
(``rollout.n``). The raw text still goes to the job's log: the cause is the summary.
"""

from __future__ import annotations

import re


class NoTrainingStep(RuntimeError):
    """The run ended (or could not start) without a single optimizer step."""


# (pattern in the library's message, what it means in the job's own settings)
EXPLANATIONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"max_steps must be set to a positive value", re.I),
        "the training data gives no optimizer step: use more rows, or lower "
        "training.batch_size so that one step needs fewer prompts",
    ),
    (
        re.compile(r"out of memory|OutOfMemoryError|Cannot allocate memory", re.I),
        "the worker ran out of memory: lower training.batch_size, rollout.max_tokens or "
        "rollout.n, or choose a smaller base model",
    ),
    (
        re.compile(r"chat_template is not set|no chat template|Cannot use chat template", re.I),
        "the base model has no chat template, so prompts given as messages cannot be rendered: "
        "choose a model with a chat template or give plain-text prompts",
    ),
    (
        re.compile(r"Target modules? .* not found|target_modules", re.I),
        "LoRA found no layers to adapt in this base model (training.lora_rank adapters need "
        "linear layers): choose a supported causal language model",
    ),
    (
        re.compile(
            r"index out of range in self|max_position_embeddings|sequence length is longer", re.I
        ),
        "a prompt plus its completion is longer than the model accepts: lower rollout.max_tokens "
        "or training.max_context_length, or shorten the prompts",
    ),
    (
        re.compile(r"divisible by num_generations|num_generations", re.I),
        "the rollouts do not split into groups of rollout.n completions: change rollout.n or "
        "training.batch_size",
    ),
    (
        re.compile(r"`inf`, `nan`|\bnan\b|\binf\b", re.I),
        "the model produced invalid probabilities (training diverged): lower "
        "training.learning_rate, or raise rollout.temperature",
    ),
]


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def explain(exc: BaseException) -> str | None:
    """What the error means in the job's settings, or None when we do not know."""
    if isinstance(exc, NoTrainingStep):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    for pattern, meaning in EXPLANATIONS:
        if pattern.search(text):
            return meaning
    return None


def human_cause(phase: str, exc: BaseException) -> str:
    """``failed while <phase>: <meaning> (<error>: <first line>)`` — the meaning when known."""
    raw = f"{type(exc).__name__}: {_first_line(exc)}".rstrip(": ")
    meaning = explain(exc)
    if meaning is None:
        return f"failed while {phase}: {raw}"
    if isinstance(exc, NoTrainingStep):
        return f"failed while {phase}: {meaning}"
    return f"failed while {phase}: {meaning} ({raw})"


def no_step_cause(rows: int, prompts_per_step: int, epochs: int, max_steps: int | None) -> str:
    """Why a run made no optimizer step, in the numbers that decide it."""
    plan = f"{epochs} epoch(s)" if max_steps is None else f"training.max_steps {max_steps}"
    return (
        f"no optimizer step was taken: the training dataset has {rows} usable row(s) and one "
        f"step needs {prompts_per_step} prompt(s) (from training.batch_size), with {plan}; "
        "use more rows, or lower training.batch_size"
    )
