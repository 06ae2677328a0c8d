"""The worker side of the IDE's sampled previews, on the demo model: every row's completions
are stored as that row finishes, a row the model cannot take is stored with why, and requests
whose client left while they were queued are dropped unrun (the model server's engine too)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings
from app.services import demo
from app.tasks import SampledRow, SamplePrompts
from tests.helpers import demo_model

PRETRAIN_STEPS = 300


@pytest.fixture(scope="module")
def small_models() -> Path:
    return demo_model(PRETRAIN_STEPS)


def chat_row(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "ground_truth": "?"}


def test_rows_are_stored_as_they_finish_and_a_too_long_prompt_says_why(
    small_models: Path, settings: Settings
) -> None:
    from worker.serving.sampling import sample

    rows = [chat_row("1+2="), chat_row("9" * 5000), chat_row("4+4=")]
    request = SamplePrompts(
        owner_id=1,
        base_model=demo.DEMO_MODEL,
        rows=rows,
        result_ids=["a", "b", "c"],
        cancel_id="x",
        n=3,
        temperature=1.0,
        max_tokens=6,
    )
    stored: dict[int, SampledRow] = {}
    count = sample(
        request,
        settings.model_copy(update={"models_dir": small_models}),
        stored.__setitem__,
        lambda: False,
    )
    assert count == 3 and sorted(stored) == [0, 1, 2]
    assert len(stored[0].completions) == 3 and len(stored[2].completions) == 3
    assert stored[0].error is None
    assert stored[1].completions == [] and "PromptTooLong" in str(stored[1].error)
    assert "context" in str(stored[1].error)


def test_a_request_cancelled_while_queued_is_dropped_unrun(small_models: Path) -> None:
    from worker.serving.hf_engine import HfEngine
    from worker.serving.protocol import GenerationRequest, Sampling

    engine = HfEngine(small_models / demo.DEMO_MODEL)
    try:
        ids = engine.encode_chat([{"role": "user", "content": "3+4="}])
        gone: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        done = threading.Event()

        def keep(event: dict[str, Any]) -> None:
            kept.append(event)
            if event["type"] == "end":
                done.set()

        sampling = Sampling(n=1, temperature=1.0, max_tokens=4)
        engine.submit(GenerationRequest(None, ids, sampling, gone.append, lambda: True))
        engine.submit(GenerationRequest(None, ids, sampling, keep))
        assert done.wait(60)
        assert gone == []  # never started: not even a prefill was spent on it
        assert kept[0]["type"] == "start"
    finally:
        engine.close()
