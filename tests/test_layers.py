"""The layout's rules, checked on the real import graph (function-level imports included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def _cycles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) of app and worker."""
    graph = grimp.build_graph("app", "worker", exclude_type_checking_imports=True, cache_dir=None)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_import_contracts_hold() -> None:
    """Layers, app free of worker code, the training stack only in worker/ (pyproject)."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_collecting_tests_outside_worker_imports_no_training_stack() -> None:
    """Only tests/worker may pay for torch at collection: the fast subset starts fast."""
    code = (
        "import sys, pytest; "
        "code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests', "
        "'--ignore=tests/worker']); "
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') "
        "if m in sys.modules]; "
        "assert code == 0 and not heavy, (code, heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
