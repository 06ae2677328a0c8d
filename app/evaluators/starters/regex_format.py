"""Format check (regular expression).

TRL-style batch reward: 1.0 for each completion that fully matches a regular expression,
0.0 otherwise. The default pattern asks for reasoning in <think>...</think> followed by
<answer>...</answer>, the DeepSeek-R1 format; a row field `pattern` overrides it per row.
Matching is DOTALL (the reasoning may span lines) and ignores surrounding whitespace.
"""

import re
from typing import Any

PATTERN = r"<think>.+?</think>\s*<answer>.+?</answer>"


def completion_text(completion: Any) -> str:
    # Chat datasets hand over [{"role": "assistant", "content": ...}], prompt datasets text.
    if isinstance(completion, list):
        return str(completion[-1].get("content") or "") if completion else ""
    return str(completion)


def reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    patterns = kwargs.get("pattern") or [None] * len(completions)
    scores: list[float | None] = []
    for completion, pattern in zip(completions, patterns, strict=True):
        regex = re.compile(pattern or PATTERN, re.DOTALL)
        matched = regex.fullmatch(completion_text(completion).strip()) is not None
        scores.append(1.0 if matched else 0.0)
    return scores
