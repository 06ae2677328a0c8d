"""Find an evaluator's entry point in its source, statically (ast), without running it.

The server never executes user code; it only parses it. The sandbox worker later fetches the
function by the name found here and inspects the live signature.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .values import EntryKind, EntryPointInfo, EvaluatorCodeError

# Entry points recognised by name; reward_fn is recognised by signature (any name).
_BY_NAME: dict[str, EntryKind] = {
    "evaluate": "evaluate",
    "reward": "batch",
    "grade": "grade",
    "compute_score": "compute_score",
}
_REWARD_FN_PARAMS = ["prompt", "completion", "example"]
_NETWORK_FLAGS = {"NEEDS_NETWORK", "needs_network"}

SIGNATURES = (
    "evaluate(messages, **fields), reward_fn(prompt, completion, example) under any name, "
    "reward(prompts, completions, **kwargs), grade(sample, item), "
    "or compute_score(data_source, solution_str, ground_truth, extra_info=None)"
)


@dataclass
class _Candidate:
    kind: EntryKind
    name: str
    line: int
    is_async: bool


def parse_source(code: str, filename: str = "<evaluator>") -> ast.Module:
    if not isinstance(code, str) or not code.strip():
        raise EvaluatorCodeError("the evaluator is empty")
    try:
        return ast.parse(code, filename=filename)
    except SyntaxError as exc:
        raise EvaluatorCodeError(f"SyntaxError: {exc.msg}", exc.lineno) from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise EvaluatorCodeError(f"cannot parse the evaluator: {exc}") from None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[str], bool, bool, list[str]]:
    """(positional names, has *args, has **kwargs, keyword-only names)."""
    args = fn.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    keyword_only = [a.arg for a in args.kwonlyargs]
    return positional, args.vararg is not None, args.kwarg is not None, keyword_only


def _is_reward_function_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id == "reward_function"
    return isinstance(target, ast.Attribute) and target.attr == "reward_function"


def _check_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, kind: EntryKind) -> None:
    positional, var_args, var_kw, keyword_only = _params(fn)
    names = set(positional) | set(keyword_only)
    problem = None
    if kind == "evaluate" and not positional and not var_args:
        problem = "evaluate() must take the messages as its first parameter"
    elif kind == "batch" and "completions" not in names and not var_kw:
        problem = "reward() must accept (prompts, completions, **kwargs)"
    elif kind == "grade" and len(positional) < 2 and not var_args:
        problem = "grade() must take (sample, item)"
    elif kind == "compute_score" and not var_kw:
        missing = {"data_source", "solution_str", "ground_truth"} - names
        if missing and len(positional) < 3:
            problem = (
                "compute_score() must take (data_source, solution_str, ground_truth, "
                "extra_info=None)"
            )
    if problem:
        raise EvaluatorCodeError(problem, fn.lineno)


def _classify(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> EntryKind | None:
    if fn.name in _BY_NAME:
        kind = _BY_NAME[fn.name]
        _check_signature(fn, kind)
        return kind
    positional, var_args, var_kw, keyword_only = _params(fn)
    if positional == _REWARD_FN_PARAMS and not (var_args or var_kw or keyword_only):
        return "reward_fn"
    if any(_is_reward_function_decorator(d) for d in fn.decorator_list):
        return "evaluate"
    return None


def _top_level_functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.pop(node.name, None)  # a redefinition wins, as at run time
            found[node.name] = node
    return found


def _assigned_entry_points(tree: ast.Module, defined: set[str]) -> list[_Candidate]:
    """`evaluate = make_grader(...)`: a name-based entry point built at import time."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                name = target.id if isinstance(target, ast.Name) else None
                if name in _BY_NAME and name not in defined:
                    out.append(_Candidate(_BY_NAME[name], name, node.lineno, False))
    return out


def _needs_network(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in _NETWORK_FLAGS:
                    return node.value.value is True
    return False


def detect_entry_point(code: str) -> EntryPointInfo:
    """The single entry point of a Python evaluator; EvaluatorCodeError when 0 or several."""
    tree = parse_source(code)
    functions = _top_level_functions(tree)
    candidates: list[_Candidate] = []
    for fn in functions.values():
        kind = _classify(fn)
        if kind is not None:
            is_async = isinstance(fn, ast.AsyncFunctionDef)
            candidates.append(_Candidate(kind, fn.name, fn.lineno, is_async))
    candidates += _assigned_entry_points(tree, set(functions))
    if not candidates:
        raise EvaluatorCodeError(f"no entry point found: define {SIGNATURES}")
    if len(candidates) > 1:
        listed = ", ".join(f"{c.name} (line {c.line})" for c in candidates)
        raise EvaluatorCodeError(
            f"several entry points found: {listed}; keep exactly one", candidates[1].line
        )
    found = candidates[0]
    return EntryPointInfo(
        kind=found.kind,
        name=found.name,
        line=found.line,
        is_async=found.is_async,
        needs_network=_needs_network(tree),
    )
