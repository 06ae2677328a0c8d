"""Registered as reward_kit.reward_function: RewardFunction (local mode) and load_jsonl."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..results import EvaluateResult, reward_function


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSONL file (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class RewardFunction:
    """Wraps a reward function so it can be called uniformly (reward-kit's local mode).

    `RewardFunction(func=fn)` or `RewardFunction(func_path="package.module.fn")`; remote and
    Fireworks-hosted modes need the network and are refused here.
    """

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        func_path: str | None = None,
        mode: str = "local",
        **kwargs: Any,
    ) -> None:
        if mode != "local":
            raise ValueError(f"RewardFunction mode {mode!r} needs the network: only 'local' runs")
        if func is None and func_path:
            module_name, _, attribute = func_path.replace(":", ".").rpartition(".")
            func = getattr(importlib.import_module(module_name), attribute)
        if func is None:
            raise ValueError("RewardFunction needs func or func_path")
        self.func = func
        self.mode = mode
        self.kwargs = kwargs

    def __call__(
        self, messages: list[Any], original_messages: list[Any] | None = None, **kwargs: Any
    ) -> EvaluateResult:
        arguments = {**self.kwargs, **kwargs}
        if original_messages is not None:
            arguments["original_messages"] = original_messages
        result = self.func(messages=messages, **arguments)
        if isinstance(result, dict):
            return EvaluateResult.model_validate(result)
        if isinstance(result, EvaluateResult):
            return result
        return EvaluateResult(score=float(result))

    def get_trl_adapter(self) -> Callable[..., list[float]]:
        """A TRL batch reward function: (prompts, completions, **columns) -> scores."""

        def adapter(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
            scores = []
            for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
                user = {"role": "user", "content": prompt}
                history = prompt if isinstance(prompt, list) else [user]
                answer = completion[0]["content"] if isinstance(completion, list) else completion
                messages = [*history, {"role": "assistant", "content": answer}]
                row = {k: v[i] for k, v in kwargs.items() if isinstance(v, list) and len(v) > i}
                scores.append(self(messages=messages, **row).score)
            return scores

        return adapter


__all__ = ["RewardFunction", "load_jsonl", "reward_function"]
