"""Find an evaluator's reward functions in its source, statically (ast), without running it.

Every top-level function whose signature matches one ecosystem's convention is a reward
function, whatever its name (TRL's `accuracy_reward`, Predibase's `format_reward_func`, verl's
custom `my_compute_score`...). A module with several becomes several named components, as
TRL's `reward_funcs` list and Predibase's functions dict are. A module may name its reward
functions explicitly, as verl's config names one:

    REWARD_FUNCTIONS = [accuracy_reward, "format_reward", soft_overlong]   # names or strings

Names bound at import time (`soft_overlong = get_soft_overlong_punishment(100, 20)`) are
allowed there; their convention is read from the live signature when the module loads.

The server never executes user code; it only parses it. The sandbox worker later fetches each
function by the name found here and inspects the live signature.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from .values import Component, EntryKind, EntryPointInfo, EvaluatorCodeError

EXPLICIT_LIST = "REWARD_FUNCTIONS"
# Entry points recognised by name (these names also work for values built at import time).
_BY_NAME: dict[str, EntryKind] = {
    "evaluate": "evaluate",
    "reward": "batch",
    "grade": "grade",
    "compute_score": "compute_score",
}
_REWARD_FN_PARAMS = ["prompt", "completion", "example"]
_BATCH_PARAMS = {"prompts", "completions", "completion_ids"}
_NETWORK_FLAGS = {"NEEDS_NETWORK", "needs_network"}

SIGNATURES = (
    "evaluate(messages, **fields) (reward-kit), fn(prompt, completion, example) (Predibase), "
    "fn(prompts, completions, **kwargs) (TRL), grade(sample, item) (OpenAI), or "
    "compute_score(data_source, solution_str, ground_truth, extra_info=None) (verl) — "
    "any function name"
)


def parse_source(code: str, filename: str = "<evaluator>") -> ast.Module:
    if not isinstance(code, str) or not code.strip():
        raise EvaluatorCodeError("the evaluator is empty")
    try:
        return ast.parse(code, filename=filename)
    except SyntaxError as exc:
        raise EvaluatorCodeError(f"SyntaxError: {exc.msg}", exc.lineno) from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise EvaluatorCodeError(f"cannot parse the evaluator: {exc}") from None


def classify(
    name: str,
    positional: Sequence[str],
    var_args: bool,
    var_kw: bool,
    keyword_only: Sequence[str] = (),
    decorated: bool = False,
) -> EntryKind | None:
    """Which convention a function with this signature follows; None = not a reward function.

    Shared by the static check (ast) and the sandbox (inspect.signature of a built value).
    """
    if name in _BY_NAME:
        kind = _BY_NAME[name]
        problem = _signature_problem(kind, positional, var_args, var_kw, keyword_only)
        if problem:
            raise EvaluatorCodeError(problem)
        return kind
    names = set(positional) | set(keyword_only)
    if list(positional) == _REWARD_FN_PARAMS and not (var_args or keyword_only):
        return "reward_fn"
    if {"solution_str", "ground_truth"} <= names:
        return "compute_score"
    if names & _BATCH_PARAMS:
        return "batch"
    if list(positional[:2]) == ["sample", "item"]:
        return "grade"
    if decorated or (positional[:1] == ["messages"] and var_kw):
        return "evaluate"
    return None


def _signature_problem(
    kind: EntryKind, positional: Sequence[str], var_args: bool, var_kw: bool, kw: Sequence[str]
) -> str | None:
    names = set(positional) | set(kw)
    if kind == "evaluate" and not positional and not var_args:
        return "evaluate() must take the messages as its first parameter"
    if kind == "batch" and "completions" not in names and not var_kw:
        return "reward() must accept (prompts, completions, **kwargs)"
    if kind == "grade" and len(positional) < 2 and not var_args:
        return "grade() must take (sample, item)"
    if kind == "compute_score" and not var_kw:
        missing = {"solution_str", "ground_truth"} - names
        if missing:  # verl's bundled scorers take (solution_str, ground_truth, ...) only
            return (
                "compute_score() must take (data_source, solution_str, ground_truth, "
                f"extra_info=None): verl calls it by keyword, and it lacks {sorted(missing)}"
            )
    return None


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


def _classify_def(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Component | None:
    positional, var_args, var_kw, keyword_only = _params(fn)
    decorated = any(_is_reward_function_decorator(d) for d in fn.decorator_list)
    try:
        kind = classify(fn.name, positional, var_args, var_kw, keyword_only, decorated)
    except EvaluatorCodeError as exc:
        raise EvaluatorCodeError(exc.message, fn.lineno) from None
    if kind is None:
        return None
    return Component(kind, fn.name, fn.lineno, isinstance(fn, ast.AsyncFunctionDef))


def _top_level_functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.pop(node.name, None)  # a redefinition wins, as at run time
            found[node.name] = node
    return found


def _assignments(tree: ast.Module) -> dict[str, ast.Assign]:
    out: dict[str, ast.Assign] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node
    return out


def _explicit_names(node: ast.Assign) -> list[str]:
    if not isinstance(node.value, ast.List | ast.Tuple):
        raise EvaluatorCodeError(
            f"{EXPLICIT_LIST} must be a list of reward functions (names or strings)", node.lineno
        )
    names = []
    for element in node.value.elts:
        if isinstance(element, ast.Name):
            names.append(element.id)
        elif isinstance(element, ast.Constant) and isinstance(element.value, str):
            names.append(element.value)
        else:
            raise EvaluatorCodeError(
                f"{EXPLICIT_LIST} entries must be names: bind `name = make_reward(...)` first, "
                "then list `name`",
                node.lineno,
            )
    if not names:
        raise EvaluatorCodeError(f"{EXPLICIT_LIST} is empty", node.lineno)
    return names


def _explicit_components(
    names: list[str], functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef], line: int
) -> list[Component]:
    assigned_line = line
    out = []
    for name in names:
        fn = functions.get(name)
        if fn is not None:
            found = _classify_def(fn)
            if found is None:
                raise EvaluatorCodeError(
                    f"{EXPLICIT_LIST} lists {name}(), whose signature matches no convention: "
                    f"define {SIGNATURES}",
                    fn.lineno,
                )
            out.append(found)
        else:  # built at import time: the sandbox reads its signature
            out.append(Component("auto", name, assigned_line, False))
    return out


def _needs_network(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in _NETWORK_FLAGS:
                    return node.value.value is True
    return False


def find_components(tree: ast.Module) -> list[Component]:
    functions = _top_level_functions(tree)
    assigned = _assignments(tree)
    if EXPLICIT_LIST in assigned:
        node = assigned[EXPLICIT_LIST]
        names = _explicit_names(node)
        missing = [n for n in names if n not in functions and n not in assigned]
        if missing:
            raise EvaluatorCodeError(
                f"{EXPLICIT_LIST} lists {', '.join(missing)}, not defined at module level",
                node.lineno,
            )
        if len(set(names)) != len(names):
            raise EvaluatorCodeError(f"{EXPLICIT_LIST} lists a function twice", node.lineno)
        return _explicit_components(names, functions, node.lineno)
    found = [
        c
        for fn in functions.values()
        if not fn.name.startswith("_") and (c := _classify_def(fn)) is not None
    ]
    for name, node in assigned.items():  # `evaluate = make_grader(...)`
        if name in _BY_NAME and name not in functions:
            found.append(Component(_BY_NAME[name], name, node.lineno, False))
    return sorted(found, key=lambda c: c.line or 0)


def detect_entry_point(code: str) -> EntryPointInfo:
    """The reward function(s) of a Python evaluator; EvaluatorCodeError when there is none."""
    tree = parse_source(code)
    components = find_components(tree)
    if not components:
        raise EvaluatorCodeError(f"no entry point found: define a reward function: {SIGNATURES}")
    network = _needs_network(tree)
    if len(components) == 1:
        only = components[0]
        return EntryPointInfo(
            kind=only.kind,
            name=only.name,
            line=only.line,
            is_async=only.is_async,
            needs_network=network,
            components=(only,),
        )
    return EntryPointInfo(
        kind="components",
        name=", ".join(c.name for c in components),
        line=components[0].line,
        is_async=False,
        needs_network=network,
        components=tuple(components),
    )


def select_component(entry: EntryPointInfo, name: str) -> EntryPointInfo:
    """The entry point of one component; EvaluatorCodeError naming the ones there are."""
    for component in entry.components:
        if component.name == name:
            return EntryPointInfo(
                kind=component.kind,
                name=component.name,
                line=component.line,
                is_async=component.is_async,
                needs_network=entry.needs_network,
                components=(component,),
            )
    there = ", ".join(entry.component_names())
    raise EvaluatorCodeError(f"no reward function {name!r} in this evaluator; it has {there}")
