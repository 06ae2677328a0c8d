"""List ranking (answer position).

For replies that rank candidates — one per line, numbered ("1. Paris") or comma separated —
scores where the right answer (row field `ground_truth`) appears: 1.0 when it is first, then
partial credit 1/position (0.5 second, 0.33 third...), 0.0 when it is absent. Items compare
case-insensitively with surrounding punctuation and numbering removed. Row field `max_items`
(default 10) limits how many ranked items count.
"""

import re
from typing import Any

NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


def ranked_items(reply: str) -> list[str]:
    lines = [line for line in reply.splitlines() if line.strip()]
    if len(lines) <= 1:
        lines = reply.split(",")
    items = [NUMBERING.sub("", line) for line in lines]
    return [clean(item) for item in items if clean(item)]


def clean(text: str) -> str:
    return " ".join(text.strip().strip(".;:!?\"'`*").lower().split())


def evaluate(messages: list[dict[str, Any]], ground_truth: Any = None, **fields: Any) -> dict:
    if ground_truth is None:
        return {"score": 0.0, "is_score_valid": False, "reason": "row has no ground_truth"}
    items = ranked_items(str(messages[-1].get("content") or ""))
    items = items[: int(fields.get("max_items") or 10)]
    target = clean(str(ground_truth))
    if target not in items:
        return {"score": 0.0, "reason": f"{ground_truth!r} is not in the ranked list"}
    position = items.index(target) + 1
    return {"score": 1.0 / position, "reason": f"{ground_truth!r} ranked #{position}"}
