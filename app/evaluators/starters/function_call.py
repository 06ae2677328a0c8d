"""Function-calling match (tool name and arguments).

Compares the tool call in the reply with the row field `expected_call`
({"name": ..., "arguments": {...}}). The reply may be a JSON call ({"name", "arguments"}),
an OpenAI message with "tool_calls", a Hermes/Qwen <tool_call>{...}</tool_call> block or a
```json fenced block. Score: 0.0 no parsable call or the wrong function; otherwise 0.5 for the
right name plus 0.5 x the share of arguments that are exactly right (an argument that is
missing, different or unexpected counts as wrong).
"""

import json
import re
from typing import Any

TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


def arguments_of(call: dict) -> dict:
    args = call.get("arguments", call.get("parameters", {}))
    if isinstance(args, str):
        args = json.loads(args or "{}")
    return args if isinstance(args, dict) else {}


def as_call(value: Any) -> dict | None:
    if not isinstance(value, dict):
        return None
    if value.get("tool_calls"):
        value = value["tool_calls"][0]
    if isinstance(value.get("function"), dict):
        value = value["function"]
    if "name" not in value:
        return None
    return {"name": value["name"], "arguments": arguments_of(value)}


def parse_call(reply: str) -> dict | None:
    for pattern in (TOOL_CALL, FENCE):
        found = pattern.search(reply)
        if found:
            reply = found.group(1)
            break
    try:
        return as_call(json.loads(reply.strip()))
    except ValueError:
        return None


def evaluate(messages: list[dict[str, Any]], expected_call: Any = None, **fields: Any) -> dict:
    if not isinstance(expected_call, dict):
        return {"score": 0.0, "is_score_valid": False, "reason": "row has no expected_call"}
    last = messages[-1]
    call = as_call(last) if last.get("tool_calls") else None
    call = call or parse_call(str(last.get("content") or ""))
    if call is None:
        return {"score": 0.0, "reason": "no tool call found in the reply"}
    if call["name"] != expected_call.get("name"):
        return {
            "score": 0.0,
            "reason": f"called {call['name']!r}, expected {expected_call.get('name')!r}",
        }
    expected = arguments_of(expected_call)
    given = call["arguments"]
    keys = set(expected) | set(given)
    right = [
        key for key in keys if key in expected and key in given and expected[key] == given[key]
    ]
    share = len(right) / len(keys) if keys else 1.0
    wrong = sorted(keys - set(right))
    reason = (
        "all arguments right" if not wrong else f"wrong or missing arguments: {', '.join(wrong)}"
    )
    return {
        "score": 0.5 + 0.5 * share,
        "reason": reason,
        "metrics": {"arguments_right": {"score": share, "reason": None}},
    }
