"""Per-row print() capture and user-only tracebacks, used inside the worker."""

from __future__ import annotations

import contextvars
import io
import linecache
import traceback
from types import TracebackType

OUTPUT_LIMIT = 64 * 1024
# Every piece of user code is compiled with a filename starting like this ("<evaluator>", or
# "<evaluator:name>" for a grader spec's python source), so tracebacks can keep the user's
# frames and drop the runtime's own.
USER_FILENAME = "<evaluator>"
_USER_PREFIX = USER_FILENAME[:-1]
_HEAD_LIMIT = 4000


class _Buffer:
    __slots__ = ("dropped", "parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = OUTPUT_LIMIT - self.size
        if room <= 0:
            self.dropped += len(text)
            return
        piece = text[:room]
        self.parts.append(piece)
        self.size += len(piece)
        self.dropped += len(text) - len(piece)

    def value(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[output truncated at 64 KiB: {self.dropped} more characters not shown]"
        return out


_current: contextvars.ContextVar[_Buffer | None] = contextvars.ContextVar(
    "evaluator_output", default=None
)


class OutputCapture(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr; routes writes to the running row's buffer.

    The buffer lives in a ContextVar so that concurrently running async rows (each its own
    asyncio task, each with a copied context) keep their output apart. Past 64 KiB the text is
    counted, not stored: a row printing 100 MB costs time, not memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self._spill = _Buffer()  # writes outside any row (module import time)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        (_current.get() or self._spill).add(text)
        return len(text)

    def begin(self) -> contextvars.Token[_Buffer | None]:
        return _current.set(_Buffer())

    def end(self, token: contextvars.Token[_Buffer | None]) -> str:
        buffer = _current.get()
        _current.reset(token)
        return buffer.value() if buffer else ""

    def take_spill(self) -> str:
        value = self._spill.value()
        self._spill = _Buffer()
        return value


def register_source(filename: str, source: str) -> None:
    """Let linecache show the user's source lines in tracebacks of code compiled from text."""
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)


def format_user_error(exc: BaseException) -> tuple[str, int | None]:
    """'ExcType: message' plus only the user's frames; and the line to highlight.

    A SyntaxError in user code carries its own line; otherwise the innermost user frame's line
    is the one to highlight.
    """
    tb = _traceback_of(exc)
    frames = [
        frame for frame in traceback.extract_tb(tb) if frame.filename.startswith(_USER_PREFIX)
    ]
    if tb is not None:
        # Drop the failed frames' locals now: after a MemoryError they hold the memory, and
        # formatting the message needs some.
        traceback.clear_frames(tb)
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if len(head) > _HEAD_LIMIT:  # an exception message can be arbitrarily large
        head = head[:_HEAD_LIMIT] + " [...]"
    line: int | None = frames[-1].lineno if frames else None
    if isinstance(exc, SyntaxError) and (exc.filename or "").startswith(_USER_PREFIX):
        line = exc.lineno
    if not frames:
        return head, line
    body = "".join(traceback.format_list(frames))
    return f"Traceback (evaluator code, most recent call last):\n{body}{head}", line


def _traceback_of(exc: BaseException) -> TracebackType | None:
    return exc.__traceback__
