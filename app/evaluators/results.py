"""Result models and the @reward_function decorator, compatible with Fireworks' reward-kit.

Inside the sandbox these are also importable as `reward_kit` (see runtime.install_reward_kit),
so code pasted from Fireworks runs unchanged. Unlike reward-kit, `score` carries no 0-1
constraint here: the runtime validates the returned score itself and reports a readable reason
("score 1.7 is outside 0-1") instead of a pydantic error raised inside user code.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _DictAccess(BaseModel):
    """reward-kit's models double as dicts (result["score"]); user code relies on it."""

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def keys(self) -> list[str]:
        return list(type(self).model_fields)

    def items(self) -> list[tuple[str, Any]]:
        return [(key, getattr(self, key)) for key in type(self).model_fields]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(type(self).model_fields)


class Message(_DictAccess):
    """A chat message; only handed to functions annotated with list[Message]."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | None = ""
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, Any] | None = None


class MetricResult(_DictAccess):
    """A named side metric: logged and charted, never trained on. Any finite range."""

    model_config = ConfigDict(extra="allow")

    score: float = Field(strict=True)
    reason: str = ""
    is_score_valid: bool = True


class EvaluateResult(_DictAccess):
    """What an `evaluate` function returns (a plain dict or a bare float works too)."""

    model_config = ConfigDict(extra="allow")

    # strict: True/"0.5" are user mistakes worth an error, not a silent conversion.
    score: float = Field(strict=True)
    reason: str | None = None
    is_score_valid: bool = True
    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    error: str | None = None


def _wants_message_objects(func: Callable[..., Any]) -> bool:
    """True when `messages` is annotated list[Message] (reward-kit then passes models)."""
    params = inspect.signature(func).parameters
    if "messages" not in params:
        return False
    try:
        hint = typing.get_type_hints(func).get("messages")
    except Exception:  # unresolvable forward refs: fall back to the raw annotation
        hint = params["messages"].annotation
    if isinstance(hint, str):
        return hint.replace(" ", "") in {"list[Message]", "List[Message]"}
    args = typing.get_args(hint)
    return typing.get_origin(hint) is list and bool(args) and args[0] is Message


def _coerce_messages(messages: Any) -> Any:
    return [m if isinstance(m, Message) else Message(**m) for m in messages]


def _as_result(value: Any) -> Any:
    # Dicts become EvaluateResult like in reward-kit; anything else is left for the runtime
    # to judge, so a bare float or a wrong type gets the runtime's readable message.
    if isinstance(value, dict):
        return EvaluateResult.model_validate(value)
    return value


def reward_function(func: Any = None, **_options: Any) -> Any:
    """Mark an evaluate-style function; usable as @reward_function or @reward_function(...).

    Converts messages to Message objects when annotated list[Message] and dict results to
    EvaluateResult, as reward-kit does. Keeps async functions async.
    """
    if func is None:
        return lambda f: reward_function(f)
    typed = _wants_message_objects(func)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(messages: Any, *args: Any, **kwargs: Any) -> Any:
            if typed:
                messages = _coerce_messages(messages)
            return _as_result(await func(messages, *args, **kwargs))

        async_wrapper._reward_function = True  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(func)
    def wrapper(messages: Any, *args: Any, **kwargs: Any) -> Any:
        if typed:
            messages = _coerce_messages(messages)
        return _as_result(func(messages, *args, **kwargs))

    wrapper._reward_function = True  # type: ignore[attr-defined]
    return wrapper
