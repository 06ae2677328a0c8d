"""The evaluator environment: the packages reward functions may import inside the sandbox.

At least what OpenAI's python-grader image lists, plus what TRL's, open-r1's and verl's math
rewards import. They live in the server's own environment, which the sandbox binds read-only.
"""

from __future__ import annotations

import sys
from importlib import metadata

# (distribution, import name, what reward functions use it for)
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("numpy", "numpy", "arrays, statistics"),
    ("scipy", "scipy", "statistics, optimisation"),
    ("sympy", "sympy", "symbolic math (answer equivalence)"),
    ("pandas", "pandas", "tables"),
    ("rapidfuzz", "rapidfuzz", "fuzzy string matching"),
    ("rouge-score", "rouge_score", "ROUGE"),
    ("nltk", "nltk", "BLEU, METEOR, tokenising"),
    ("jsonschema", "jsonschema", "JSON output validation"),
    ("math-verify", "math_verify", "math answer checking (TRL, open-r1)"),
    ("latex2sympy2_extended", "latex2sympy2_extended", "LaTeX answers to sympy"),
    ("pydantic", "pydantic", "structured output"),
)
DECLARE_HINT = (
    "extra packages are not installed per evaluator: ask the operator to add them to the "
    "evaluator environment (the server's Python environment)"
)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def packages() -> list[dict[str, str | None]]:
    """Each package with its installed version (None when missing)."""
    return [
        {"name": name, "import_name": module, "version": _version(name), "purpose": purpose}
        for name, module, purpose in PACKAGES
    ]


def missing_import_hint(module: str | None) -> str:
    """What a ModuleNotFoundError in user code should add: what there is and what to do."""
    there = ", ".join(module for _, module, _ in PACKAGES)
    top = (module or "").split(".")[0]
    if top in sys.stdlib_module_names or top in {p[1] for p in PACKAGES}:
        return (
            f"'{top}' is installed but could not be read by the sandbox user (is the "
            "interpreter's directory readable by other users?)"
        )
    return (
        f"'{top}' is not in the evaluator environment, which has: {there}, and the standard "
        f"library; {DECLARE_HINT}"
    )
