"""The evaluator environment: the packages reward functions may import inside the sandbox.

At least what OpenAI's python-grader image lists, plus what TRL's, open-r1's and verl's math
rewards import. They live in the server's own environment, which the sandbox binds read-only.
"""

from __future__ import annotations

import contextlib
import importlib
import os
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
    "to use another package, declare it in the evaluator's requirements (the Requirements "
    'field in the IDE, "requirements" in the API, or REQUIREMENTS = ["package>=1.0"] in the '
    "code): it is installed outside the sandbox from the operator's package index"
)
ENVS_DIR: str | None = None  # where declared environments are, as this worker sees it
_ACTIVE: list[str] = []  # the declared environments on this worker's sys.path


def use_env(name: str) -> None:
    """Put an evaluator's declared-requirements environment on sys.path, after the server's
    own packages (they always win: the environment only adds packages)."""
    if ENVS_DIR is None or not name.isalnum():
        return
    path = os.path.join(ENVS_DIR, name)
    if path not in sys.path:
        sys.path.append(path)
        _ACTIVE.append(path)
        importlib.invalidate_caches()


def _declared_packages() -> list[str]:
    """Distributions in the active declared environments, for the missing-import message."""
    out = []
    for path in _ACTIVE:
        with contextlib.suppress(OSError):
            for entry in sorted(os.listdir(path)):
                if entry.endswith(".dist-info"):
                    out.append(entry.removesuffix(".dist-info").replace("-", "==", 1))
    return out


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
    declared = _declared_packages()
    also = f"; declared for this evaluator: {', '.join(declared)}" if declared else ""
    return (
        f"'{top}' is not in the evaluator environment, which has: {there}, and the standard "
        f"library{also}; {DECLARE_HINT}"
    )
