"""The model server's request, as the engines take it (no heavy imports here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# One event of a generation, sent back as a line of NDJSON:
#   {"type": "start", "prompt_tokens": N}
#   {"type": "delta", "index": i, "text": "..."}
#   {"type": "end", "index": i, "finish_reason": "stop" | "length", "completion_tokens": k}
#   {"type": "error", "message": "..."}
Event = dict[str, Any]
Emit = Callable[[Event], None]


@dataclass
class Sampling:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class GenerationRequest:
    # The adapter to use (a deployment id), or None for the base model itself.
    adapter: int | None
    prompt_ids: list[int]
    sampling: Sampling
    emit: Emit
    cancelled: Callable[[], bool] = lambda: False


class PromptTooLong(ValueError):
    pass


class StopMatcher:
    """Finds stop strings in a growing text and says how much is safe to stream: text that
    could still become a stop string is held back until it cannot."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]

    def cut(self, text: str) -> int | None:
        """Where the first stop string starts, if one occurs."""
        found = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        return min(found) if found else None

    def safe_length(self, text: str) -> int:
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:size]):
                    hold = max(hold, size)
                    break
        return len(text) - hold
