"""Streaming JSONL validation and the row index: one pass, constant memory, exact line numbers.

Feed the file in chunks of any size (they need not end on a line), then call ``finish()``.
Each line is parsed with msgspec (UTF-8 checked, JSON types kept) and checked against the row
rules of ``rows`` (most rows through the typed fast path of ``shapes``). A valid
row's place in the file goes to the index file as it is found, so memory holds one chunk plus
one line, whatever the file's size.

Index format (``rows.idx``): one record per row, three little-endian uint64 words: the row's
byte offset in the data file, its length in bytes (without the newline), and its estimated
prompt tokens in the low 32 bits with bit 32 set when the row ends with a reference answer.
Row ``i`` is at byte ``24 * i``, so any page is two seeks away.

Blank lines are skipped with a warning; a UTF-8 byte order mark before the first row is
skipped. Line numbers count every physical line, blank ones included.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from app.core.storage import describe_bytes
from app.ingest.rows import (
    ANSWER_FLAG,
    JSON_TYPES,
    MESSAGES,
    RowError,
    check_messages,
    check_prompt_row,
    row_format,
)
from app.ingest.shapes import ABSENT, Shapes

MAX_ERRORS = 100
MAX_WARNINGS = 100
MAX_LINE_BYTES = 8 * 1024**2
MAX_FIELDS = 200
BATCH_ROWS = 16384  # rows between index writes and statistics updates
RECORD_WORDS = 3
RECORD_BYTES = 8 * RECORD_WORDS
TOKEN_MASK = ANSWER_FLAG - 1
BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 64  # nested arrays/objects in a row: deeper JSON is refused, naming the line
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # what msgpack (the evaluator pipe) and SQL can hold
_LONG_NUMBER = re.compile(rb"\d{19}")  # an integer near or past the 64-bit range
_BYTE_POSITION = re.compile(r"\(byte (\d+)\)")


def pack_records(words: list[int]) -> bytes:
    packed = array("Q", words)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack_records(data: bytes) -> array[int]:
    words = array("Q")
    words.frombytes(data)
    if sys.byteorder == "big":
        words.byteswap()
    return words


@dataclass
class Report:
    format: str | None
    rows: int
    lines: int
    size_bytes: int
    errors: list[dict[str, Any]]
    error_count: int
    warnings: list[dict[str, Any]]
    warning_count: int
    fields: list[dict[str, Any]]
    fields_truncated: bool
    tokens: dict[str, Any]
    rows_with_answer: int

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def problems(self) -> list[dict[str, Any]]:
        """The errors to show: the first ``MAX_ERRORS``, then how many more there are."""
        more = self.error_count - len(self.errors)
        tail = [{"message": f"… and {more:,} more errors"}] if more > 0 else []
        return self.errors + tail

    def metadata(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "fields": self.fields,
            "fields_truncated": self.fields_truncated,
            "tokens": self.tokens,
            "rows_with_answer": self.rows_with_answer,
            "warnings": self.warnings,
            "warning_count": self.warning_count,
        }


class Tally:
    """What a run of index records adds up to, counted a batch at a time in C-level builtins."""

    def __init__(self) -> None:
        self.rows = self.size_bytes = self.answers = self.total = self.high = 0
        self.low = TOKEN_MASK
        self.histogram = [0] * 34  # by bit length of the token count

    def add(self, words: Sequence[int]) -> None:
        """``words``: flat (offset, length, tokens) triples, as in the index."""
        if not words:
            return
        tokens = words[2::RECORD_WORDS]
        counts = list(map(TOKEN_MASK.__and__, tokens))
        self.rows += len(counts)
        self.size_bytes += sum(words[1::RECORD_WORDS])
        self.answers += sum(map(ANSWER_FLAG.__le__, tokens))
        self.total += sum(counts)
        self.low = min(self.low, min(counts))
        self.high = max(self.high, max(counts))
        for bits, rows in Counter(map(int.bit_length, counts)).items():
            self.histogram[bits] += rows

    def tokens(self) -> dict[str, Any]:
        """min/mean/max and a power-of-two histogram (``upto``: largest count in a bucket)."""
        buckets = enumerate(self.histogram)
        return {
            "min": self.low if self.rows else 0,
            "max": self.high,
            "mean": round(self.total / self.rows, 1) if self.rows else 0.0,
            "total": self.total,
            "histogram": [{"upto": (1 << b) - 1, "rows": n} for b, n in buckets if n],
        }


class JsonlValidator:
    """Validates a JSONL file fed in chunks and writes its row index to ``index``."""

    def __init__(self, index: IO[bytes]) -> None:
        self._index = index
        self._decode = msgspec.json.Decoder().decode
        self._carry = b""
        self._skipping = False  # inside a line longer than MAX_LINE_BYTES
        self._offset = 0  # file offset where ``_carry`` starts
        self._line = 0
        self._pending: list[int] = []
        self._shapes = Shapes()
        self._format_line = 0
        self._signatures: list[tuple[tuple[str, ...], tuple[type, ...]]] = []
        self._fields: dict[str, dict[str, int]] = {}
        self._fields_truncated = False
        self.tally = Tally()
        self.format: str | None = None
        self.size = 0
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.warnings: list[dict[str, Any]] = []
        self.warning_count = 0

    @property
    def failed(self) -> bool:
        return self.error_count > 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self._skipping:
            data = self._skip(data)
        lines = data.split(b"\n")
        if self._carry:
            lines[0] = self._carry + lines[0]
        self._carry = lines.pop()
        if lines:
            self._lines(lines)
        if len(self._carry) > MAX_LINE_BYTES:
            self._line += 1
            self._too_long(self._line)
            self._offset += len(self._carry)
            self._carry = b""
            self._skipping = True

    def finish(self) -> Report:
        if self._carry:
            self._lines([self._carry])
            self._carry = b""
        self._flush_index()
        if not self.tally.rows and not self.error_count:
            self.error_count = 1
            self.errors.append({"field": "file", "message": "the file holds no rows"})
        return Report(
            format=self.format,
            rows=self.tally.rows,
            lines=self._line,
            size_bytes=self.size,
            errors=self.errors,
            error_count=self.error_count,
            warnings=self.warnings,
            warning_count=self.warning_count,
            fields=[
                {"name": name, "rows": sum(types.values()), "types": types}
                for name, types in self._fields.items()
            ],
            fields_truncated=self._fields_truncated,
            tokens=self.tally.tokens(),
            rows_with_answer=self.tally.answers,
        )

    def _lines(self, lines: list[bytes]) -> None:
        """The hot loop: as little Python per row as can be; anything odd takes a side path."""
        shapes, pending, signatures = self._shapes, self._pending, self._signatures
        offset, number, max_line = self._offset, self._line, MAX_LINE_BYTES
        for line in lines:
            start, size = offset, len(line)
            offset += size + 1
            number += 1
            if not size or line[0] != 0x7B or size > max_line:  # not "{…": blank, BOM, …
                line = self._unusual(line, number)
                if not line:
                    continue
                start, size = offset - 1 - len(line), len(line)
            shape = shapes.current
            if line.count(b"[") + line.count(b"{") > MAX_DEPTH or _LONG_NUMBER.search(line):
                shape = None  # possibly too deep or too big: the slow path checks exactly
            fast = shape.check(line) if shape is not None else None
            if fast is not None and shape is not None:
                values, tokens = fast
                signature = (shape.names, tuple(map(type, values)))
            else:
                slow = self._slow_path(line, number)
                if slow is None:
                    continue
                row, kind, tokens = slow
                signature = (tuple(row), tuple(map(type, row.values())))
                shapes.learn(row, kind)
            if self.error_count:
                continue  # the file is rejected: no index, no statistics
            pending += (start, size, tokens)
            signatures.append(signature)
            if len(pending) >= RECORD_WORDS * BATCH_ROWS:
                self._flush_index()
        self._offset, self._line = offset, number

    def _unusual(self, line: bytes, number: int) -> bytes:
        """The line to parse (a leading BOM cut), or b"" when it is blank or too long."""
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
        if len(line) > MAX_LINE_BYTES:
            self._too_long(number)
            return b""
        if not line.strip():
            self._warn(number, "blank line skipped")
            return b""
        return line

    def _slow_path(self, line: bytes, number: int) -> tuple[dict[str, Any], str, int] | None:
        """A generic decode and the Python rules: every problem is found and worded here."""
        try:
            row = self._decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self._error(number, _json_problem(exc, line))
            return None
        except RecursionError:
            self._error(number, f"JSON nested deeper than {MAX_DEPTH} levels")
            return None
        try:
            _check_bounds(row, 0)
            kind = row_format(row)
            if kind != self.format:
                self._set_format(kind, number)
            tokens = check_messages(row[MESSAGES]) if kind == MESSAGES else check_prompt_row(row)
        except RowError as exc:
            self._error(number, str(exc))
            return None
        return row, kind, tokens

    def _set_format(self, kind: str, number: int) -> None:
        if self.format is None:
            self.format, self._format_line = kind, number
            return
        raise RowError(
            f"{kind} row in a {self.format} file (line {self._format_line} set the format): "
            "use one format per file"
        )

    def _skip(self, data: bytes) -> bytes:
        end = data.find(b"\n")
        if end < 0:
            self._offset += len(data)
            return b""
        self._offset += end + 1
        self._skipping = False
        return data[end + 1 :]

    def _flush_index(self) -> None:
        if self._pending and not self.error_count:
            self._index.write(pack_records(self._pending))
            self.tally.add(self._pending)
            self._fold_signatures()
        self._pending.clear()
        self._signatures.clear()

    def _fold_signatures(self) -> None:
        """Turns the (field names, types) signatures of the batch into per-field counts."""
        fields = self._fields
        for (names, types), count in Counter(self._signatures).items():
            for name, kind in zip(names, types, strict=True):
                if kind is ABSENT:
                    continue
                seen = fields.get(name)
                if seen is None:
                    if len(fields) >= MAX_FIELDS:
                        self._fields_truncated = True
                        continue
                    seen = fields[name] = {}
                label = JSON_TYPES.get(kind, kind.__name__)
                seen[label] = seen.get(label, 0) + count

    def _too_long(self, number: int) -> None:
        self._error(number, f"line is longer than {describe_bytes(MAX_LINE_BYTES)}")

    def _error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": line, "message": message})

    def _warn(self, line: int, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({"line": line, "message": message})


def _json_problem(exc: Exception, line: bytes) -> str:
    # UTF-8 is checked here, not read off the decoder's message: msgspec words it differently
    # from one release to the next (0.23 raises DecodeError with a new text).
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as where:
        return f"not valid UTF-8 (byte 0x{line[where.start]:02x} at column {where.start + 1})"
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    message = str(exc).removeprefix("JSON is malformed: ")
    if message == "Input data was truncated":
        return "invalid JSON: the line ends inside a value"
    message = message.split(" - at `", 1)[0].replace("Number out of range", "number out of range")
    shift = 0 if message.startswith("trailing characters") else 1  # msgspec is one past there
    message = _BYTE_POSITION.sub(lambda m: f"(column {int(m.group(1)) + shift})", message)
    return f"invalid JSON: {message}"


def _check_bounds(value: Any, depth: int) -> None:
    """RowError for nesting deeper than MAX_DEPTH or an integer outside the 64-bit range."""
    if depth > MAX_DEPTH:
        raise RowError(f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_bounds(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_bounds(item, depth + 1)
    elif type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise RowError(
            f"integer {str(value)[:30]} is outside the 64-bit range ({INT_MIN}..{INT_MAX})"
        )
