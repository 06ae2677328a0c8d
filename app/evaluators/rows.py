"""Turn a dataset row + completion into the arguments of each calling convention."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

# Training puts what TRL knows about the batch (completion_ids, trainer_state) under this key
# of each row; it never reaches a reward function as a column.
CONTEXT_KEY = "__rft__"


class RowError(ValueError):
    """The row itself cannot be scored (no prompt, no completion...)."""


@dataclass(slots=True)
class Turn:
    """A row split into prompt, completion and the other columns."""

    messages: list[dict[str, Any]] | None  # chat prompt (messages dataset)
    prompt: str | None  # text prompt (prompt dataset)
    completion: str
    extra: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)

    def item(self) -> dict[str, Any]:
        """The row as an evaluator sees it: prompt part plus every other column."""
        head: dict[str, Any] = (
            {"messages": self.messages} if self.messages is not None else {"prompt": self.prompt}
        )
        return {**head, **self.extra}

    def chat(self) -> list[dict[str, Any]]:
        """The conversation with the model's answer appended (evaluate's `messages`)."""
        answer = {"role": "assistant", "content": self.completion}
        if self.messages is not None:
            return [*self.messages, answer]
        return [{"role": "user", "content": self.prompt or ""}, answer]

    def prompt_text(self) -> str:
        """Prompt as text: the prompt column, or the last user message of a chat."""
        if self.messages is None:
            return self.prompt or ""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text(message.get("content"))
        return ""

    def grader_sample(self) -> dict[str, Any]:
        """OpenAI grader `sample`: output_text, and output_json when the answer is JSON."""
        sample: dict[str, Any] = {"output_text": self.completion}
        stripped = self.completion.strip()
        if stripped[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                sample["output_json"] = json.loads(stripped)
        return sample


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise RowError(f"message content must be text, got {type(content).__name__}")


def _assistant_answer(messages: list[Any]) -> str:
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "assistant":
        raise RowError(
            "no completion: none was given and the row's last message is not from the assistant"
        )
    return _text(last.get("content"))


def _check_messages(messages: Any, column: str) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RowError(f"'{column}' must be a list of {{role, content}} messages")
    return messages


def split_row(row: Any, completion: str | None) -> Turn:
    if not isinstance(row, dict):
        raise RowError(f"a row must be a JSON object, got {type(row).__name__}")
    if CONTEXT_KEY in row:
        row = dict(row)
        context = row.pop(CONTEXT_KEY)
        turn = _split(row, completion)
        turn.context = context if isinstance(context, dict) else {}
        return turn
    return _split(row, completion)


def _split(row: dict[str, Any], completion: str | None) -> Turn:
    if completion is not None and not isinstance(completion, str):
        raise RowError(f"the completion must be text, got {type(completion).__name__}")
    if "messages" in row:
        messages = _check_messages(row["messages"], "messages")
        extra = {k: v for k, v in row.items() if k != "messages"}
        if completion is None:
            return Turn(messages[:-1], None, _assistant_answer(messages), extra)
        return Turn(messages, None, completion, extra)
    if "prompt" in row:
        prompt = row["prompt"]
        extra = {k: v for k, v in row.items() if k != "prompt"}
        if completion is None:
            completion = _completion_column(row)
            extra.pop("completion", None)
        if isinstance(prompt, list):  # TRL's conversational prompt format
            return Turn(_check_messages(prompt, "prompt"), None, completion, extra)
        if not isinstance(prompt, str):
            raise RowError(f"'prompt' must be text or messages, got {type(prompt).__name__}")
        return Turn(None, prompt, completion, extra)
    raise RowError("the row has neither 'messages' nor 'prompt'")


def _completion_column(row: dict[str, Any]) -> str:
    value = row.get("completion")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _assistant_answer(value)
    raise RowError("no completion: none was given and the row has no 'completion' column")


def batch_arguments(turns: list[Turn]) -> tuple[list[Any], list[Any], dict[str, list[Any]]]:
    """TRL's call: prompts, completions, and every other column as a list (None if absent)."""
    prompts: list[Any] = []
    completions: list[Any] = []
    for turn in turns:
        if turn.messages is not None:
            prompts.append(turn.messages)
            completions.append([{"role": "assistant", "content": turn.completion}])
        else:
            prompts.append(turn.prompt)
            completions.append(turn.completion)
    columns: dict[str, list[Any]] = {}
    for turn in turns:
        for key in turn.extra:
            if key != "completion":  # TRL leaves out prompt, completion and completion_ids
                columns.setdefault(key, [])
    for key, values in columns.items():
        values.extend(turn.extra.get(key) for turn in turns)
    return prompts, completions, columns
