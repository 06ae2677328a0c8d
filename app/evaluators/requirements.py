"""Declared extra requirements of an evaluator (reward-kit's `requirements`, Predibase's
`runtime.packages`): checking them and naming the environment they install into.

Only names and version specifiers are accepted (PEP 508, no URLs, paths or pip options): pip
runs outside the sandbox (app/services/evaluator_envs.py), and what it installs must come from
the operator's index. The code may declare them too, with a module-level list literal
`REQUIREMENTS = ["pkg>=1.0"]` (reward-kit's convention).
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .values import EvaluatorCodeError

MAX_REQUIREMENTS = 20
MAX_REQUIREMENT_CHARS = 200
CODE_VARIABLE = "REQUIREMENTS"
# Names, extras, version specifiers and markers only: no "@ url", paths or "-r"/"--" options.
_ALLOWED = re.compile(r"[A-Za-z0-9_.\-\[\], <>=!~*;'\"()]+")
DECLARE_HOW = (
    "declare it in the evaluator's requirements (the Requirements field in the IDE, "
    '"requirements" in the API, or REQUIREMENTS = ["package>=1.0"] in the code)'
)


class RequirementError(EvaluatorCodeError):
    """A requirement that cannot be accepted; `index` says which one."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def check_requirement(text: str, index: int = 0) -> str:
    """One requirement in canonical form ("name[extras]specifier; marker"), or RequirementError."""
    where = f"requirement {index + 1} ({text[:60]!r})"
    if not isinstance(text, str) or not text.strip():
        raise RequirementError(f"{where}: must be a non-empty string", index)
    text = text.strip()
    if len(text) > MAX_REQUIREMENT_CHARS:
        raise RequirementError(f"{where}: longer than {MAX_REQUIREMENT_CHARS} characters", index)
    if text.startswith("-") or not _ALLOWED.fullmatch(text):
        raise RequirementError(
            f"{where}: only a package name with optional extras, version specifiers and "
            "markers is accepted (no URLs, paths or pip options)",
            index,
        )
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise RequirementError(f"{where}: not a valid requirement: {exc}", index) from None
    if requirement.url:
        raise RequirementError(f"{where}: URLs are not accepted", index)
    requirement.name = canonicalize_name(requirement.name)
    return str(requirement)


def normalize(requirements: Iterable[str]) -> list[str]:
    """Checked, canonical, deduplicated and sorted (so equal sets hash equal)."""
    items = list(requirements)
    if len(items) > MAX_REQUIREMENTS:
        raise RequirementError(f"at most {MAX_REQUIREMENTS} requirements; got {len(items)}")
    return sorted({check_requirement(text, i) for i, text in enumerate(items)})


def _literal_strings(value: ast.expr | None, what: str, line: int) -> list[str]:
    items = value.elts if isinstance(value, ast.List | ast.Tuple) else None
    texts = [e.value for e in items or [] if isinstance(e, ast.Constant)]
    if items is None or len(texts) != len(items) or not all(isinstance(t, str) for t in texts):
        raise EvaluatorCodeError(f"{what} must be a list of strings written out in the code", line)
    return [str(t) for t in texts]


def _decorator_requirements(node: ast.stmt) -> list[str]:
    """reward-kit's `@reward_function(requirements=[...])` on a top-level function."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return []
    out: list[str] = []
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = decorator.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        for keyword in decorator.keywords if name == "reward_function" else []:
            if keyword.arg == "requirements":
                what = "@reward_function(requirements=...)"
                out += _literal_strings(keyword.value, what, decorator.lineno)
    return out


def requirements_in_code(source: str) -> list[str]:
    """What the code declares: a module-level `REQUIREMENTS = [...]` list of string literals
    and reward-kit's `@reward_function(requirements=[...])`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the entry-point check reports it
    out: list[str] = []
    for node in tree.body:
        out += _decorator_requirements(node)
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == CODE_VARIABLE:
            out += _literal_strings(value, CODE_VARIABLE, node.lineno)
    return out


def declared(requirements: Iterable[str] | None, code: object) -> list[str]:
    """What an evaluator version installs: the given list plus the code's REQUIREMENTS."""
    from_code = requirements_in_code(code) if isinstance(code, str) else []
    return normalize([*(requirements or []), *from_code])


def env_name(requirements: list[str], python: str, lock: str) -> str:
    """The environment's directory name: a hash of what determines its contents."""
    text = "\n".join([python, hashlib.sha256(lock.encode()).hexdigest(), *requirements])
    return hashlib.sha256(text.encode()).hexdigest()[:32]
