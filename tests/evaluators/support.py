"""Row builders shared by the evaluator tests."""

from __future__ import annotations

from app.evaluators import Sample

TIMEOUT_S = 1.5  # short, so hostile rows cost little; production default is 10 s


def chat_row(question: str = "What is 2 + 2?", **fields: object) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": question}], **fields}


def samples(answers: list[str], **fields: object) -> list[Sample]:
    """One chat row per answer, all with the same extra columns."""
    return [Sample(chat_row("What is 2 + 2?", **fields), answer) for answer in answers]
