"""The evaluator contract, server side: what an evaluator is and how it is checked.

An evaluator is Python source with one or several reward functions (entrypoints.SIGNATURES)
or an OpenAI grader spec (a JSON object with a "type"). Both are checked here without running
anything; the sandbox worker runs them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import msgspec

from .entrypoints import detect_entry_point, select_component
from .grader_specs import needs_network, parse_spec_text, validate_grader
from .values import EntryPointInfo, EvaluatorCodeError

MAX_SOURCE_BYTES = 1 << 20


class EvaluatorSpec(msgspec.Struct, frozen=True):
    """A checked evaluator, ready to hand to the pool. `key` identifies it in worker caches."""

    key: str
    entry: EntryPointInfo
    code: str | None = None
    grader: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def needs_network(self) -> bool:
        return self.entry.needs_network

    def payload(self) -> dict[str, Any]:
        """What a worker needs to load it."""
        return {"entry": self.entry, "code": self.code, "grader": self.grader}


def _grader_entry(spec: Mapping[str, Any]) -> EntryPointInfo:
    validate_grader(spec)
    return EntryPointInfo(
        kind="grader_spec",
        name=str(spec.get("name") or spec["type"]),
        needs_network=needs_network(spec),
    )


def load_evaluator_spec(evaluator: str | Mapping[str, Any] | EvaluatorSpec) -> EvaluatorSpec:
    """Check an evaluator given as code, grader-spec dict or grader-spec JSON text.

    Raises EvaluatorCodeError (with a line number where one applies).
    """
    if isinstance(evaluator, EvaluatorSpec):
        return evaluator
    if isinstance(evaluator, Mapping):
        grader = json.loads(json.dumps(evaluator))  # a detached, JSON-clean copy
        canonical = json.dumps(grader, sort_keys=True)
        entry = _grader_entry(grader)
        return EvaluatorSpec(key=_digest("spec", canonical), entry=entry, grader=grader)
    if not isinstance(evaluator, str):
        raise EvaluatorCodeError(
            f"an evaluator is Python code or a grader spec, not {type(evaluator).__name__}"
        )
    if len(evaluator.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise EvaluatorCodeError("the evaluator is larger than 1 MiB")
    grader_spec = parse_spec_text(evaluator)
    if grader_spec is not None:
        return load_evaluator_spec(grader_spec)
    entry = detect_entry_point(evaluator)
    return EvaluatorSpec(key=_digest("code", evaluator), entry=entry, code=evaluator)


def with_env(spec: EvaluatorSpec, env: str | None) -> EvaluatorSpec:
    """The evaluator run with its declared-requirements environment on sys.path. The key
    changes with it: a worker serves one key, so it never mixes two environments."""
    if env is None or spec.entry.env == env:
        return spec
    entry = msgspec.structs.replace(spec.entry, env=env)
    return msgspec.structs.replace(spec, key=_digest(f"env:{env}", spec.key), entry=entry)


def component_spec(evaluator: str | Mapping[str, Any] | EvaluatorSpec, name: str) -> EvaluatorSpec:
    """One reward function of a module with several (a job trains each as its own component)."""
    spec = load_evaluator_spec(evaluator)
    if spec.code is None or (len(spec.entry.components) <= 1 and spec.entry.name == name):
        return spec
    entry = select_component(spec.entry, name)
    component = EvaluatorSpec(key=_digest(f"code:{name}", spec.code), entry=entry, code=spec.code)
    return with_env(component, spec.entry.env)


def check_code(code: str | Mapping[str, Any]) -> EntryPointInfo:
    """Which entry point an evaluator has; raises EvaluatorCodeError(message, line)."""
    return load_evaluator_spec(code).entry


def _digest(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
