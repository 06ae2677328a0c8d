"""The rules one dataset row must follow, in either of the two formats.

- messages (OpenAI chat): ``{"messages": [{"role", "content", ...}, ...], ...extra}``. Roles are
  system, user, assistant and tool; content is a string or a list of text parts, and may be
  missing or null only on an assistant message that makes tool calls. A trailing assistant
  message is the row's reference answer (the IDE preview scores it, SFT warm-up learns it,
  training strips it from the prompt), so at least one message must come before it.
- prompt: ``{"prompt": ..., ...extra}`` in one of the ecosystems' layouts:
  Predibase / TRL plain: a non-empty string, optional ``completion`` string (reference);
  TRL conversational: a list of messages, optional ``completion`` as messages (reference);
  verl: a list of messages, ``reward_model: {ground_truth, style}``, ``data_source``,
  ``extra_info`` (an object).

Every other field is kept as it is. The checks run once per row on a hot path: plain type
tests, an exception only for a bad row. (Most rows never get here: see ``shapes``.)
"""

from __future__ import annotations

from typing import Any

MESSAGES = "messages"
PROMPT = "prompt"
FORMATS = (MESSAGES, PROMPT)
ROLES = frozenset(("system", "user", "assistant", "tool"))

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4  # role markers and separators of a chat template
ANSWER_FLAG = 1 << 32  # marks a row with a reference answer in the index (tokens below it)

JSON_TYPES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
}

_MISSING: Any = object()


class RowError(ValueError):
    """What is wrong with one row, worded for the person who wrote the file."""


def json_type(value: object) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def row_format(row: object) -> str:
    """``"messages"`` or ``"prompt"``: which format the row is written in."""
    if type(row) is not dict:
        raise RowError(f"row must be a JSON object, got {json_type(row)}")
    if MESSAGES in row:
        if PROMPT in row:
            raise RowError("row has both messages and prompt: keep one of them")
        return MESSAGES
    if PROMPT in row:
        return PROMPT
    names = ", ".join(list(row)[:5]) or "none"
    raise RowError(f"row has neither messages nor prompt (its fields: {names})")


def tokens_of(chars: int, messages: int = 0) -> int:
    """The token estimate: ~4 characters a token, plus a few for each message's markers."""
    return -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages


def with_answer(messages: int, chars: int, answer_chars: int) -> int:
    """Prompt tokens of a conversation that ends in a reference answer, with ANSWER_FLAG."""
    if messages == 1:
        raise RowError(
            "messages holds only an assistant answer: put the prompt (a system or user "
            "message) before it"
        )
    return tokens_of(chars - answer_chars, messages - 1) | ANSWER_FLAG


def check_prompt(prompt: object) -> int:
    """Estimated tokens of a valid prompt; raises RowError otherwise."""
    if type(prompt) is list:
        return _conversational_prompt(prompt)
    if type(prompt) is not str:
        raise RowError(f"prompt must be a string or a list of messages, got {json_type(prompt)}")
    if not prompt.strip():
        raise RowError("prompt is empty")
    return tokens_of(len(prompt))


def _conversational_prompt(prompt: list[Any]) -> int:
    """TRL conversational / verl: the prompt is messages, checked as the messages format is."""
    try:
        tokens = check_messages(prompt)
    except RowError as exc:
        raise RowError(str(exc).replace("messages", "prompt", 1)) from None
    if tokens & ANSWER_FLAG:
        raise RowError(
            "prompt ends with an assistant message: put the reference answer in completion"
        )
    return tokens


def check_prompt_row(row: dict[str, Any]) -> int:
    """A prompt-format row: the prompt, and the layout fields the ecosystems give a meaning."""
    tokens = check_prompt(row[PROMPT])
    completion = row.get("completion", _MISSING)
    if completion is not _MISSING and completion is not None:
        if type(completion) is str:
            tokens |= ANSWER_FLAG
        elif type(completion) is list:
            _check_completion_messages(completion)
            tokens |= ANSWER_FLAG
        else:
            raise RowError(
                f"completion must be a string or a list of messages, got {json_type(completion)}"
            )
    reward_model = row.get("reward_model", _MISSING)
    if reward_model is not _MISSING and type(reward_model) is not dict:
        raise RowError(
            "reward_model must be an object like verl's {ground_truth, style}, "
            f"got {json_type(reward_model)}"
        )
    extra_info = row.get("extra_info", _MISSING)
    if extra_info is not _MISSING and extra_info is not None and type(extra_info) is not dict:
        raise RowError(f"extra_info must be an object (verl's layout), got {json_type(extra_info)}")
    return tokens


def _check_completion_messages(completion: list[Any]) -> None:
    """TRL's conversational completion: the answer's messages (no prompt before them)."""
    if not completion:
        raise RowError("completion is empty: give the answer as one assistant message")
    for i, message in enumerate(completion):
        if type(message) is not dict:
            raise RowError(f"completion[{i}] must be an object, got {json_type(message)}")
        role = message.get("role", _MISSING)
        if type(role) is not str or role not in ROLES:
            raise RowError(_role_problem(i, role).replace("messages", "completion", 1))
        content = message.get("content", _MISSING)
        if type(content) is not str:
            _content_chars(i, role, message, content)


def layout(row: dict[str, Any]) -> str:
    """Which ecosystem's layout a valid row is written in (shown with the dataset)."""
    if MESSAGES in row:
        return "openai_chat"
    if type(row.get(PROMPT)) is list:
        return "verl" if "reward_model" in row or "data_source" in row else "trl_conversational"
    return "prompt"


def check_messages(messages: object) -> int:
    """Estimated prompt tokens, plus ANSWER_FLAG when the last message is a reference answer."""
    if type(messages) is not list:
        raise RowError(f"messages must be an array of messages, got {json_type(messages)}")
    if not messages:
        raise RowError("messages is empty: a row needs at least one message")
    chars = last = 0
    for i, message in enumerate(messages):
        if type(message) is not dict:
            raise RowError(f"messages[{i}] must be an object, got {json_type(message)}")
        role = message.get("role", _MISSING)
        if type(role) is not str or role not in ROLES:
            raise RowError(_role_problem(i, role))
        content = message.get("content", _MISSING)
        last = len(content) if type(content) is str else _content_chars(i, role, message, content)
        calls = message.get("tool_calls")
        if calls is not None and calls != []:  # null and [] are what exporters write for none
            last += _tool_call_chars(i, role, calls)
        chars += last
    if messages[-1]["role"] == "assistant":
        return with_answer(len(messages), chars, last)
    return tokens_of(chars, len(messages))


def _role_problem(i: int, role: object) -> str:
    if role is _MISSING:
        return f"messages[{i}].role is missing"
    shown = repr(role) if type(role) is str else json_type(role)
    return f"messages[{i}].role: unknown role {shown} (use system, user, assistant or tool)"


def _content_chars(i: int, role: str, message: dict[str, Any], content: object) -> int:
    if type(content) is list:
        return _parts_chars(i, content)
    if content is _MISSING or content is None:
        if role == "assistant" and message.get("tool_calls"):
            return 0
        state = "missing" if content is _MISSING else "null"
        raise RowError(
            f"messages[{i}].content is {state} (only an assistant message with tool_calls "
            "may leave it out)"
        )
    raise RowError(
        f"messages[{i}].content must be a string or a list of text parts, got {json_type(content)}"
    )


def _parts_chars(i: int, parts: list[Any]) -> int:
    chars = 0
    for j, part in enumerate(parts):
        where = f"messages[{i}].content[{j}]"
        if type(part) is not dict:
            raise RowError(f"{where} must be an object, got {json_type(part)}")
        kind = part.get("type")
        if kind != "text":
            raise RowError(f"{where}: only text parts are supported, got type {kind!r}")
        text = part.get("text")
        if type(text) is not str:
            raise RowError(f"{where}.text must be a string, got {json_type(text)}")
        chars += len(text)
    return chars


def _tool_call_chars(i: int, role: str, calls: object) -> int:
    where = f"messages[{i}].tool_calls"
    if role != "assistant":
        raise RowError(f"{where} is only allowed on assistant messages, not {role}")
    if type(calls) is not list:
        raise RowError(f"{where} must be an array of tool calls, got {json_type(calls)}")
    chars = 0
    for j, call in enumerate(calls):
        function = call.get("function") if type(call) is dict else None
        if type(function) is not dict:
            raise RowError(f"{where}[{j}] must be an object with a function")
        name = function.get("name")
        if type(name) is not str or not name:
            raise RowError(f"{where}[{j}].function.name must be a non-empty string")
        arguments = function.get("arguments", "")
        if type(arguments) is str:
            chars += len(arguments)
        elif type(arguments) is not dict:
            raise RowError(
                f"{where}[{j}].function.arguments must be a JSON string or an object, "
                f"got {json_type(arguments)}"
            )
        chars += len(name)
    return chars
