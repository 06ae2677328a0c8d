"""Call one reward function exactly as its ecosystem calls it.

- reward-kit: evaluate(messages, **columns), messages ending with the model's answer.
- Predibase: fn(prompt, completion, example) — prompt and completion text, example the row.
- TRL (GRPOTrainer._calculate_rewards): fn(prompts=, completions=, completion_ids=,
  trainer_state=, log_extra=, log_metric=, **every other column as a list).
- OpenAI python grader: grade(sample, item).
- verl (NaiveRewardManager / default_compute_score): fn(data_source=, solution_str=,
  ground_truth=, extra_info=) by keyword; ground_truth from reward_model.ground_truth,
  extra_info the row's extra_info column.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .entrypoints import classify
from .rows import Turn, batch_arguments
from .values import EntryKind, Metric, SampleResult

# What each ecosystem would have done, for error messages.
CALLED_AS: dict[str, str] = {
    "evaluate": "reward-kit calls {name}(messages, **columns)",
    "reward_fn": "Predibase calls {name}(prompt, completion, example)",
    "batch": (
        "TRL calls {name}(prompts=, completions=, completion_ids=, trainer_state=, "
        "log_extra=, log_metric=, **columns)"
    ),
    "grade": "OpenAI calls {name}(sample, item)",
    "compute_score": (
        "verl calls {name}(data_source=…, solution_str=…, ground_truth=…, extra_info=…)"
    ),
}


@dataclass
class Part:
    """One loaded reward function and what its live signature accepts."""

    kind: EntryKind
    name: str
    fn: Callable[..., Any]
    is_async: bool
    accepts: frozenset[str] | None  # keyword names it takes; None = it has **kwargs
    positional: tuple[str, ...]

    def called_as(self) -> str:
        return CALLED_AS.get(self.kind, "").format(name=self.name)


def signature_of(fn: Callable[..., Any]) -> tuple[frozenset[str] | None, tuple[str, ...]]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: pass everything
        return None, ()
    kinds = inspect.Parameter
    positional = tuple(
        p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    )
    if any(p.kind == kinds.VAR_KEYWORD for p in params):
        return None, positional
    names = frozenset(
        p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
    )
    return names, positional


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(fn)) or inspect.iscoroutinefunction(fn)


def make_part(kind: EntryKind, name: str, fn: Any) -> Part:
    if not callable(fn):
        raise TypeError(f"{name} is not a function after the module ran")
    accepts, positional = signature_of(fn)
    if kind == "auto":  # built at import time: its live signature says which convention
        kind = _live_kind(name, fn)
    return Part(kind, name, fn, is_async(fn), accepts, positional)


def _live_kind(name: str, fn: Callable[..., Any]) -> EntryKind:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise TypeError(f"{name}: cannot read its signature to tell its convention") from None
    kinds = inspect.Parameter
    positional = [
        p.name for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    keyword_only = [p.name for p in params if p.kind == kinds.KEYWORD_ONLY]
    var_args = any(p.kind == kinds.VAR_POSITIONAL for p in params)
    var_kw = any(p.kind == kinds.VAR_KEYWORD for p in params)
    decorated = bool(getattr(fn, "_reward_function", False))
    found = classify(name, positional, var_args, var_kw, keyword_only, decorated)
    if found is None:
        raise TypeError(f"{name}{inspect.signature(fn)} matches no reward-function convention")
    return found


def keywords(part: Part, values: Mapping[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    if part.accepts is None:
        return {k: v for k, v in values.items() if k not in skip}
    return {k: v for k, v in values.items() if k in part.accepts and k not in skip}


def ground_truth(item: Mapping[str, Any]) -> Any:
    reward_model = item.get("reward_model")  # verl's layout
    if isinstance(reward_model, Mapping) and "ground_truth" in reward_model:
        return reward_model["ground_truth"]
    return item.get("ground_truth")


def verl_arguments(turn: Turn) -> dict[str, Any]:
    item = turn.item()
    return {
        "data_source": item.get("data_source"),
        "solution_str": turn.completion,
        "ground_truth": ground_truth(item),
        "extra_info": item.get("extra_info"),
    }


def invoke(part: Part, turn: Turn) -> Any:
    """Call a per-sample reward function the way its convention prescribes."""
    kind = part.kind
    if kind == "evaluate":
        return part.fn(turn.chat(), **keywords(part, turn.extra, part.positional[:1]))
    if kind == "reward_fn":
        return part.fn(turn.prompt_text(), turn.completion, turn.item())
    if kind in ("grade", "grader_spec"):
        return part.fn(turn.grader_sample(), turn.item())
    if kind == "compute_score":
        return part.fn(**keywords(part, verl_arguments(turn)))
    raise TypeError(f"internal: {kind} is not a per-sample convention")


class TrainerStateView:
    """What a reward function reads from TRL's TrainerState (global_step, epoch, ...)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.global_step = 0
        self.max_steps = 0
        self.epoch = 0.0
        self.num_train_epochs = 0
        self.log_history: list[dict[str, Any]] = []
        for key, value in values.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"TrainerState(global_step={self.global_step}, max_steps={self.max_steps})"


@dataclass
class BatchLog:
    """What a TRL function logs through log_metric / log_extra during one call."""

    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)

    def log_metric(self, name: str, value: float) -> None:
        self.metrics[str(name)] = float(value)

    def log_extra(self, column: str, values: list[Any]) -> None:
        self.extra[str(column)] = list(values)

    def apply(self, results: list[SampleResult]) -> None:
        for name, value in self.metrics.items():
            for result in results:
                result.metrics[name] = Metric(score=value)
        for column, values in self.extra.items():
            for result, value in zip(results, values, strict=False):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    result.metrics[column] = Metric(score=float(value))
                else:
                    note = f"{column}={value}"
                    result.reason = f"{result.reason}; {note}" if result.reason else note


def _completion_ids(turns: list[Turn]) -> list[list[int]]:
    # Training hands TRL's token ids; the preview has no tokenizer, so it gives UTF-8 bytes.
    return [
        list(t.context["completion_ids"])
        if isinstance(t.context.get("completion_ids"), list)
        else list(t.completion.encode("utf-8"))
        for t in turns
    ]


def batch_call(part: Part, turns: list[Turn], log: BatchLog) -> Any:
    prompts, completions, columns = batch_arguments(turns)
    state = turns[0].context.get("trainer_state") if turns else None
    arguments = {
        "prompts": prompts,
        "completions": completions,
        "completion_ids": _completion_ids(turns),
        "trainer_state": TrainerStateView(state if isinstance(state, Mapping) else {}),
        "log_extra": log.log_extra,
        "log_metric": log.log_metric,
    }
    return part.fn(**keywords(part, {**columns, **arguments}))
