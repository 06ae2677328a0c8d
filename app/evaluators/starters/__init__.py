"""Built-in graders, shipped as documented evaluator source files the user can start from.

Each template is a plain .py file in this directory whose module docstring starts with its
display name, followed by a description of what it scores and which row fields it reads.
`list_templates()[0]` is the default (math answer).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import msgspec

from ..entrypoints import detect_entry_point

_DIR = Path(__file__).resolve().parent
ORDER = (
    "math_answer",
    "exact_match",
    "list_ranking",
    "json_schema",
    "regex_format",
    "function_call",
    "code_tests",
    "countdown",
    "text_similarity",
    "length_penalty",
    "llm_judge",
)


class Template(msgspec.Struct, frozen=True):
    slug: str
    name: str
    description: str
    code: str
    kind: str
    needs_network: bool = False

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = msgspec.to_builtins(self)
        return out


def _load(slug: str) -> Template:
    code = (_DIR / f"{slug}.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(code)) or slug
    name, _, description = doc.partition("\n")
    entry = detect_entry_point(code)
    return Template(
        slug=slug,
        name=name.strip().rstrip("."),
        description=description.strip(),
        code=code,
        kind=entry.kind,
        needs_network=entry.needs_network,
    )


@functools.cache
def _all() -> tuple[Template, ...]:
    return tuple(_load(slug) for slug in ORDER)


def list_templates() -> list[Template]:
    """All built-in templates, the default (math answer) first."""
    return list(_all())


def get_template(slug: str) -> Template:
    for template in _all():
        if template.slug == slug:
            return template
    raise KeyError(f"no evaluator template {slug!r}")
