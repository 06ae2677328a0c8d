"""Caps on what one scored row may carry, applied where results are produced.

Both sides apply them: the sandbox worker before it sends a result (so honest frames stay
small) and the parent when it decodes one (the worker runs untrusted code, so its output is
never trusted to be small). Preview and training storage both read results from the pool, so
both see the same capped values. Each cap says itself in the text it shortens.
"""

from __future__ import annotations

import msgspec

from .values import Metric, SampleResult

REASON_LIMIT = 4 * 1024  # bytes of `reason` (of a result and of each metric)
ERROR_LIMIT = 16 * 1024  # bytes of `error` (a traceback of the user's frames)
STDOUT_LIMIT = 64 * 1024 + 256  # capture.py stops at 64 KiB and adds a line saying so
METRICS_LIMIT = 64  # named metrics per result
METRIC_NAME_LIMIT = 128  # bytes of a metric's name
# A results frame from a worker: at most this many bytes (header checked before the body is
# read). Sized for many capped results; the worker flushes well before it (FLUSH_BYTES).
REPLY_FRAME_LIMIT = 16 << 20
FLUSH_BYTES = 4 << 20


def _size_label(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit % 1024 == 0 else f"{limit} bytes"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-8 bytes, ending with a note saying so."""
    if len(text) <= limit // 4:  # fast path: cannot exceed the limit even at 4 bytes/char
        return text
    head = text[: limit + 1].encode("utf-8", "surrogatepass")
    if len(head) <= limit and len(text) <= limit:
        return text
    kept = head[:limit].decode("utf-8", "ignore")
    return f"{kept} [truncated to {_size_label(limit)}]"


def _clip_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else clip(text, limit)


def _surely_within(result: SampleResult) -> bool:
    """True when no cap can apply: each text is short enough in characters to be within its
    byte limit at 4 bytes a character (most results: one check per field, no copy)."""
    return (
        len(result.reason or "") <= REASON_LIMIT // 4
        and len(result.stdout) <= STDOUT_LIMIT // 4
        and len(result.error or "") <= ERROR_LIMIT // 4
        and len(result.metrics) <= METRICS_LIMIT
        and all(
            len(name) <= METRIC_NAME_LIMIT // 4 and len(m.reason or "") <= REASON_LIMIT // 4
            for name, m in result.metrics.items()
        )
    )


def bound_result(result: SampleResult) -> SampleResult:
    """The result with every text and collection within the caps above (a copy when cut)."""
    if _surely_within(result):
        return result
    reason = _clip_optional(result.reason, REASON_LIMIT)
    metrics = result.metrics
    if len(metrics) > METRICS_LIMIT or any(
        len(name) > METRIC_NAME_LIMIT // 4 or len(m.reason or "") > REASON_LIMIT // 4
        for name, m in metrics.items()
    ):
        kept = list(metrics.items())[:METRICS_LIMIT]
        metrics = {
            clip(name, METRIC_NAME_LIMIT): Metric(m.score, _clip_optional(m.reason, REASON_LIMIT))
            for name, m in kept
        }
        dropped = len(result.metrics) - len(kept)
        if dropped:
            # First, so that capping the reason again (the parent does) keeps it.
            note = f"[{dropped} metrics dropped: at most {METRICS_LIMIT} per row]"
            reason = clip(f"{note} {reason}" if reason else note, REASON_LIMIT)
    return msgspec.structs.replace(
        result,
        reason=reason,
        metrics=metrics,
        stdout=clip(result.stdout, STDOUT_LIMIT),
        error=_clip_optional(result.error, ERROR_LIMIT),
    )


def approx_size(result: SampleResult) -> int:
    """Roughly the encoded size of a (bounded) result, for deciding when to flush."""
    size = 64 + len(result.stdout) + len(result.reason or "") + len(result.error or "")
    return size + sum(len(n) + len(m.reason or "") + 16 for n, m in result.metrics.items())
