"""The streaming validator: every bad input named with its exact line, the index, the stats."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import msgspec
import pytest

from app.ingest import jsonl
from app.ingest.jsonl import JsonlValidator, Report, unpack_records

GOOD = b'{"messages": [{"role": "user", "content": "2+2?"}], "ground_truth": "4"}'


def lines(*rows: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def validate(data: bytes, chunk: int | None = None) -> tuple[Report, bytes]:
    index = io.BytesIO()
    validator = JsonlValidator(index)
    step = chunk or max(len(data), 1)
    for start in range(0, len(data), step):
        validator.feed(data[start : start + step])
    return validator.finish(), index.getvalue()


def records(index: bytes) -> list[tuple[int, int, int]]:
    words = unpack_records(index)
    return [tuple(words[i : i + 3]) for i in range(0, len(words), 3)]  # type: ignore[misc]


def msg(role: str, content: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


class TestValidFiles:
    def test_messages_file_is_indexed_to_the_byte(self) -> None:
        data = lines(GOOD, {"messages": [msg("system", "be brief"), msg("user", "hello")]})
        report, index = validate(data)
        assert report.ok and report.format == "messages" and report.rows == 2
        for start, length, _tokens in records(index):
            assert json.loads(data[start : start + length])["messages"]

    def test_prompt_file(self) -> None:
        report, _ = validate(lines({"prompt": "Say hi", "answer": 1}, {"prompt": "Again"}))
        assert report.ok and report.format == "prompt" and report.rows == 2

    def test_extra_fields_keep_their_json_types(self) -> None:
        row = {
            "prompt": "p",
            "ground_truth": "42",
            "nums": [1, 2.5, -3],
            "meta": {"nested": {"ok": True, "none": None}},
            "big": 2**63,  # past 2**64 is refused (TestBounds)
        }
        data = lines(row)
        report, index = validate(data)
        start, length, _ = records(index)[0]
        assert msgspec.json.decode(data[start : start + length]) == row
        types = {f["name"]: f["types"] for f in report.fields}
        assert types == {
            "prompt": {"string": 1},
            "ground_truth": {"string": 1},
            "nums": {"array": 1},
            "meta": {"object": 1},
            "big": {"integer": 1},
        }

    def test_field_types_are_counted_per_row(self) -> None:
        data = lines({"prompt": "a", "gt": "1"}, {"prompt": "b", "gt": 2}, {"prompt": "c"})
        report, _ = validate(data)
        assert report.fields[1] == {"name": "gt", "rows": 2, "types": {"string": 1, "integer": 1}}

    def test_trailing_assistant_is_a_reference_answer_not_prompt(self) -> None:
        long_answer = "x" * 400
        with_answer = {"messages": [msg("user", "abcd"), msg("assistant", long_answer)]}
        report, index = validate(lines(with_answer, {"messages": [msg("user", "abcd")]}))
        assert report.ok and report.rows_with_answer == 1
        (_, _, first), (_, _, second) = records(index)
        assert first & jsonl.TOKEN_MASK == second == 1 + 4  # 4 chars + one message
        assert first >> 32 == 1

    def test_tool_calls_and_text_parts(self) -> None:
        call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
        row = {
            "messages": [
                msg("user", [{"type": "text", "text": "add 2 and 2"}]),
                {"role": "assistant", "content": None, "tool_calls": [call]},
                msg("tool", "4", tool_call_id="c1"),
                msg("assistant", "4", tool_calls=None, name=None),
            ]
        }
        report, _ = validate(lines(row))
        assert report.ok, report.errors

    def test_bom_crlf_and_missing_final_newline(self) -> None:
        data = b"\xef\xbb\xbf" + GOOD + b"\r\n" + GOOD
        report, index = validate(data)
        assert report.ok and report.rows == 2
        assert records(index)[0][0] == 3

    def test_blank_lines_are_skipped_with_a_warning(self) -> None:
        report, index = validate(lines(GOOD) + b"\n   \n" + lines(GOOD))
        assert report.ok and report.rows == 2 and len(index) == 2 * jsonl.RECORD_BYTES
        assert report.warnings == [
            {"line": 2, "message": "blank line skipped"},
            {"line": 3, "message": "blank line skipped"},
        ]

    @pytest.mark.parametrize("chunk", [1, 7, 4096])
    def test_chunk_boundaries_do_not_matter(self, chunk: int) -> None:
        rnd = random.Random(chunk)
        rows = [{"prompt": "é" * rnd.randint(1, 50), "n": i} for i in range(200)]
        data = b"\xef\xbb\xbf" + lines(*rows) + b"\n"
        assert validate(data, chunk) == validate(data)

    def test_token_statistics(self) -> None:
        report, _ = validate(lines({"prompt": "a" * 8}, {"prompt": "a" * 400}))
        tokens = report.tokens
        assert (tokens["min"], tokens["max"], tokens["mean"], tokens["total"]) == (
            2,
            100,
            51.0,
            102,
        )
        assert tokens["histogram"] == [{"upto": 3, "rows": 1}, {"upto": 127, "rows": 1}]


# One bad row on line 3, after a good line and a blank one: the line count must include both.
BAD_ROWS = [
    (b'{"prompt": "x"', "invalid JSON: the line ends inside a value"),
    (b'{"prompt": "x"} trailing', "invalid JSON: trailing characters (column 17)"),
    (b'{"prompt": NaN}', "invalid JSON: invalid character (column 12)"),
    (b'{"prompt": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at column 16)"),
    (b'["prompt", "x"]', "row must be a JSON object, got array"),
    (b'"just text"', "row must be a JSON object, got string"),
    (
        b'{"text": "hi", "label": 1}',
        "row has neither messages nor prompt (its fields: text, label)",
    ),
    (b'{"messages": [], "ground_truth": 1}', "messages is empty: a row needs at least one message"),
    (b'{"messages": {"role": "user"}}', "messages must be an array of messages, got object"),
    (b'{"messages": ["hi"]}', "messages[0] must be an object, got string"),
    (
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}',
        "messages[1].role: unknown role 'bot' (use system, user, assistant or tool)",
    ),
    (b'{"messages": [{"content": "a"}]}', "messages[0].role is missing"),
    (
        b'{"messages": [{"role": "user"}]}',
        "messages[0].content is missing (only an assistant message with tool_calls may leave "
        "it out)",
    ),
    (
        b'{"messages": [{"role": "user", "content": null}]}',
        "messages[0].content is null (only an assistant message with tool_calls may leave it out)",
    ),
    (
        b'{"messages": [{"role": "user", "content": 7}]}',
        "messages[0].content must be a string or a list of text parts, got integer",
    ),
    (
        b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
        "messages[0].content[0]: only text parts are supported, got type 'image_url'",
    ),
    (
        b'{"messages": [{"role": "user", "content": "a", "tool_calls": [{}]}]}',
        "messages[0].tool_calls is only allowed on assistant messages, not user",
    ),
    (
        b'{"messages": [{"role": "assistant", "content": "only an answer"}]}',
        "messages holds only an assistant answer: put the prompt (a system or user message) "
        "before it",
    ),
    (
        b'{"messages": [{"role": "user", "content": "a"}], "prompt": "b"}',
        "row has both messages and prompt: keep one of them",
    ),
    (
        b'{"prompt": "x"}',
        "prompt row in a messages file (line 1 set the format): use one format per file",
    ),
    (b'{"prompt": "x", "messages": 1}', "row has both messages and prompt: keep one of them"),
]


class TestBadRows:
    @pytest.mark.parametrize(("row", "message"), BAD_ROWS)
    def test_problem_is_named_with_its_line(self, row: bytes, message: str) -> None:
        report, index = validate(lines(GOOD) + b"\n" + lines(row, GOOD))
        assert report.errors == [{"line": 3, "message": message}]
        assert report.error_count == 1 and not report.ok
        assert index == b""  # a rejected file gets no index

    @pytest.mark.parametrize(
        ("prompt", "message"),
        [
            (
                [{"role": "user", "content": 5}],
                "prompt[0].content must be a string or a list of text parts, got integer",
            ),
            (
                [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}],
                "prompt ends with an assistant message: put the reference answer in completion",
            ),
            ("   ", "prompt is empty"),
            (None, "prompt must be a string or a list of messages, got null"),
        ],
    )
    def test_bad_prompt(self, prompt: Any, message: str) -> None:
        report, _ = validate(lines({"prompt": "ok"}, {"prompt": prompt}))
        assert report.errors == [{"line": 2, "message": message}]

    def test_mixed_formats_name_the_line_that_set_the_format(self) -> None:
        report, _ = validate(lines({"prompt": "a"}, {"prompt": "b"}, json.loads(GOOD)))
        assert report.errors == [
            {
                "line": 3,
                "message": "messages row in a prompt file (line 1 set the format): use one "
                "format per file",
            }
        ]

    def test_empty_file_and_blank_only_file(self) -> None:
        for data in (b"", b"\n\n  \n"):
            report, _ = validate(data)
            assert report.errors == [{"field": "file", "message": "the file holds no rows"}]

    def test_first_hundred_errors_then_a_count(self) -> None:
        report, _ = validate(lines(GOOD) + b"[]\n" * 250)
        assert report.error_count == 250 and len(report.errors) == 100
        assert report.errors[-1]["line"] == 101
        assert report.problems()[-1] == {"message": "… and 150 more errors"}

    def test_overlong_line_is_skipped_in_constant_memory(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1024)
        long_row = json.dumps({"prompt": "x" * 5000}).encode()
        report, _ = validate(lines(GOOD, long_row, GOOD, b"[]"), chunk=100)
        assert report.errors == [
            {"line": 2, "message": "line is longer than 1 KiB"},
            {"line": 4, "message": "row must be a JSON object, got array"},
        ]


class TestFastPath:
    """Rows of a known shape are checked by a typed decoder: same verdicts, same numbers."""

    def test_same_report_with_and_without_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        call = {"function": {"name": "f", "arguments": {"x": 1}}}
        rows = [
            json.loads(GOOD),
            {"messages": [msg("system", "s"), msg("user", "u"), msg("assistant", "a")], "x": 1},
            {"messages": [msg("user", "u")], "ground_truth": None},
            {"messages": [msg("user", "u"), {"role": "assistant", "tool_calls": [call]}]},
            {"messages": [msg("user", [{"type": "text", "text": "part"}])], "ground_truth": 2},
            {"messages": [msg("user", "ü" * 9), msg("assistant", "b" * 30)], "ground_truth": 3.5},
        ]
        data = lines(*(rows * 7)) + b"\n" + lines(*rows[::-1])
        slow_rows = []
        slow_path = JsonlValidator._slow_path

        def spy(self: JsonlValidator, line: bytes, number: int) -> Any:
            slow_rows.append(number)
            return slow_path(self, line, number)

        monkeypatch.setattr(JsonlValidator, "_slow_path", spy)
        fast = validate(data)
        assert fast[0].ok and fast[0].rows == 48
        assert len(slow_rows) == 2 + 2 * 8  # two new names, then tool calls and text parts
        monkeypatch.setattr("app.ingest.shapes.MAX_NAMES", 0)
        slow_rows.clear()
        assert validate(data) == fast
        assert len(slow_rows) == 48

    @pytest.mark.parametrize(
        ("messages", "message"),
        [
            (
                [msg("user"), msg("bot")],
                "messages[1].role: unknown role 'bot' (use system, user, assistant or tool)",
            ),
            (
                [msg("user", 7)],
                "messages[0].content must be a string or a list of text parts, got integer",
            ),
            (
                [msg("assistant")],
                "messages holds only an assistant answer: put the prompt (a "
                "system or user message) before it",
            ),
            ([], "messages is empty: a row needs at least one message"),
        ],
    )
    def test_a_known_shape_with_a_bad_value_is_still_caught(
        self, messages: list[Any], message: str
    ) -> None:
        report, _ = validate(lines(GOOD, GOOD, {"messages": messages, "ground_truth": "1"}))
        assert report.errors == [{"line": 3, "message": message}]


class TestBounds:
    """Finding 7: 5,000-deep nesting gave a 500 with no line; an integer > 2^64 was accepted
    and then broke the preview."""

    GOOD = {"messages": [msg("user"), msg("assistant")]}

    def test_deep_nesting_is_refused_by_line(self) -> None:
        deep = b'{"messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * 5000
        deep += b"]" * 5000 + b"}"
        report, _ = validate(lines(self.GOOD, deep))
        assert report.errors == [
            {"line": 2, "message": f"JSON nested deeper than {jsonl.MAX_DEPTH} levels"}
        ]

    def test_moderate_nesting_past_the_limit_is_refused_too(self) -> None:
        nested: Any = 1
        for _ in range(jsonl.MAX_DEPTH + 1):
            nested = [nested]
        report, _ = validate(lines(self.GOOD, self.GOOD, {**self.GOOD, "x": nested}))
        assert report.errors == [
            {"line": 3, "message": f"JSON nested deeper than {jsonl.MAX_DEPTH} levels"}
        ]

    @pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
    def test_integers_outside_64_bits_are_refused(self, value: int) -> None:
        report, _ = validate(lines(self.GOOD, {**self.GOOD, "ground_truth": value}))
        assert len(report.errors) == 1 and report.errors[0]["line"] == 2
        assert "is outside the 64-bit range" in report.errors[0]["message"]

    def test_64_bit_integers_and_long_digit_strings_are_fine(self) -> None:
        rows = [{**self.GOOD, "ground_truth": v} for v in (2**64 - 1, -(2**63), "1" * 40)]
        report, _ = validate(lines(self.GOOD, *rows))
        assert report.ok, report.errors
