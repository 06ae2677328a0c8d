"""Countdown equation (verl style).

The Countdown game: reach a target with the given numbers and + - * /. Written as verl's
compute_score; ground_truth is {"target": 24, "numbers": [3, 4, 6, 1]} (or the row fields
`target` and `numbers` via extra_info). The equation is taken from <answer>...</answer>, else
from the last line of the reply; "=" and what follows it are ignored. Score: 1.0 when it uses
every given number exactly once and evaluates to the target; 0.1 for a well-formed equation
that misses (format credit); 0.0 when no equation can be read. Evaluated with a small ast
walker, never eval().
"""

import ast
import operator
import re
from typing import Any

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
FORMAT_SCORE = 0.1


def extract_equation(text: str) -> str | None:
    found = ANSWER.findall(text)
    candidate = found[-1] if found else (text.strip().splitlines() or [""])[-1]
    candidate = candidate.split("=")[0].strip()
    return candidate if re.fullmatch(r"[\d\s+\-*/().]+", candidate or "x") else None


def calculate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return calculate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](calculate(node.left), calculate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -calculate(node.operand)
    raise ValueError(f"unsupported {type(node).__name__}")


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None
) -> float:
    spec = ground_truth if isinstance(ground_truth, dict) else (extra_info or {})
    target, numbers = spec.get("target"), spec.get("numbers")
    if target is None or not numbers:
        raise ValueError("countdown rows need target and numbers")
    equation = extract_equation(solution_str)
    if equation is None:
        return 0.0
    used = [int(n) for n in re.findall(r"\d+", equation)]
    try:
        value = calculate(ast.parse(equation, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError):
        return 0.0
    if sorted(used) != sorted(int(n) for n in numbers):
        return FORMAT_SCORE
    return 1.0 if abs(value - float(target)) < 1e-6 else FORMAT_SCORE
