"""Dataset rows -> what TRL trains on, keeping each original row for the evaluators."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def split_row(row: dict[str, Any]) -> tuple[Any, dict[str, Any], str | None]:
    """(prompt for generation, the row as evaluators see it, reference answer or None).

    A trailing assistant message is the reference (SFT warm-up) and is not part of the prompt.
    """
    if "messages" in row:
        messages = list(row["messages"])
        reference = None
        if messages and messages[-1].get("role") == "assistant":
            reference = _text(messages.pop().get("content"))
        prompt = [{"role": m["role"], "content": _text(m.get("content"))} for m in messages]
        return prompt, {**row, "messages": messages}, reference
    # prompt: text (Predibase, TRL plain) or messages (TRL conversational, verl); the optional
    # completion (TRL's reference) is text or messages.
    prompt, completion = row["prompt"], row.get("completion")
    if isinstance(prompt, list):
        prompt = [{"role": m["role"], "content": _text(m.get("content"))} for m in prompt]
    if isinstance(completion, list):
        completion = "".join(_text(m.get("content")) for m in completion)
    return prompt, row, completion if isinstance(completion, str) else None


def trainer_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for datasets.Dataset: the prompt, and the evaluator's row as JSON (keeps types)."""
    out = []
    for row in rows:
        prompt, evaluator_row, reference = split_row(row)
        out.append(
            {"prompt": prompt, "row_json": json.dumps(evaluator_row), "reference": reference or ""}
        )
    return out


def prompt_text(prompt: Any) -> str:
    """A prompt as one readable string (for the completions table)."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m['role']}: {_text(m.get('content'))}" for m in prompt)


def completion_text(completion: Any) -> str:
    """TRL hands completions as text (prompt datasets) or as [{"role", "content"}] lists."""
    if isinstance(completion, str):
        return completion
    return "".join(_text(m.get("content")) for m in completion)
