"""Safe arithmetic for a multi grader's `calculate_output`, e.g. "0.7 * exact + 0.3 * fuzzy".

Parsed with ast and walked by hand: only numbers, the sub-grader names, + - * / ** ^ (power,
as in OpenAI's docs), unary minus, parentheses and min/max/abs/floor/ceil/exp/sqrt/log. Nothing
is ever passed to eval(), so a formula cannot reach attributes, builtins or imports.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

from .values import EvaluatorCodeError

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.BitXor: operator.pow,  # "^" means power in grader formulas
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
_MAX_LENGTH = 2000


def parse_formula(text: str, names: set[str]) -> ast.Expression:
    """Parse and check a formula once; raises EvaluatorCodeError naming the problem."""
    if not isinstance(text, str) or not text.strip():
        raise EvaluatorCodeError("calculate_output must be a non-empty formula")
    if len(text) > _MAX_LENGTH:
        raise EvaluatorCodeError(f"calculate_output is longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise EvaluatorCodeError(f"calculate_output is not a formula: {exc.msg}") from None
    for node in ast.walk(tree):
        _check_node(node, names)
    return tree


def _check_node(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Expression | ast.Load) or type(node) in _BINARY:
        return
    if type(node) in _UNARY or isinstance(node, ast.BinOp | ast.UnaryOp):
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise EvaluatorCodeError(f"calculate_output: {node.value!r} is not a number")
        return
    if isinstance(node, ast.Name):
        if node.id not in names and node.id not in _FUNCTIONS:
            known = ", ".join(sorted(names)) or "none"
            raise EvaluatorCodeError(
                f"calculate_output uses {node.id!r}, which is not a grader (graders: {known})"
            )
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise EvaluatorCodeError(
                f"calculate_output may call only {', '.join(sorted(_FUNCTIONS))}"
            )
        if node.keywords or not node.args:
            raise EvaluatorCodeError(f"calculate_output: {node.func.id}() takes numbers only")
        return
    raise EvaluatorCodeError(f"calculate_output: {type(node).__name__} is not allowed")


def evaluate_formula(tree: ast.Expression, values: Mapping[str, float]) -> float:
    """Compute a checked formula with the sub-graders' scores."""
    return float(_eval(tree.body, values))


def _eval(node: ast.expr, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, ast.Pow | ast.BitXor) and abs(right) > 1000:
            raise ValueError("calculate_output: exponent too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return float(_FUNCTIONS[node.func.id](*(_eval(arg, values) for arg in node.args)))
    raise ValueError(f"calculate_output: unexpected {type(node).__name__}")
