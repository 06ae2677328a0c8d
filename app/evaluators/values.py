"""Value types shared by the server side and the sandbox worker.

msgspec Structs rather than pydantic models: a training step or an IDE preview moves tens of
thousands of these over a pipe, and msgspec encodes/decodes them in C. `to_dict()` gives the
JSON-ready form for the HTTP layer.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

EntryKind = Literal[
    "evaluate", "reward_fn", "batch", "grade", "compute_score", "grader_spec", "components", "auto"
]
# "components": a module with several reward functions, run together (the IDE preview);
# "auto": a component built at import time (REWARD_FUNCTIONS = [make_reward(...)]): its
# convention is read from the live signature when the module is loaded.


class EvaluatorCodeError(Exception):
    """The evaluator cannot run at all: syntax error, no or several entry points, bad spec."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"{self.message} (line {self.line})" if self.line else self.message


class Sample(msgspec.Struct):
    """One dataset row plus the model's answer.

    `row` is either {"messages": [...], ...columns} or {"prompt": "...", ...columns}. When
    `completion` is None the row's trailing assistant message is the answer (IDE preview).
    """

    row: dict[str, Any]
    completion: str | None = None


class Metric(msgspec.Struct):
    score: float
    reason: str | None = None


class SampleResult(msgspec.Struct):
    """What one sample scored. is_score_valid False = skip the sample in training."""

    score: float | None = None
    reason: str | None = None
    is_score_valid: bool = False
    metrics: dict[str, Metric] = msgspec.field(default_factory=dict)
    stdout: str = ""
    error: str | None = None
    error_line: int | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def invalid(cls, reason: str, *, error: str | None = None) -> SampleResult:
        return cls(score=None, reason=reason, is_score_valid=False, error=error)


class Component(msgspec.Struct, frozen=True):
    """One reward function of a module: its convention, name and where it is defined."""

    kind: EntryKind
    name: str
    line: int | None = None
    is_async: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


class EntryPointInfo(msgspec.Struct, frozen=True):
    """Which convention an evaluator follows, as found by check_code().

    With one reward function, kind/name describe it. With several, kind is "components" and
    `components` lists them (each a TRL reward_funcs entry / Predibase functions-dict entry).
    """

    kind: EntryKind
    name: str
    line: int | None = None
    is_async: bool = False
    needs_network: bool = False
    components: tuple[Component, ...] = ()
    # The declared-requirements environment (its folder name) the worker adds to sys.path.
    env: str | None = None

    def component_names(self) -> list[str]:
        return [c.name for c in self.components] or [self.name]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out
