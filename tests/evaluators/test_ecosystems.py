"""Reward functions from every ecosystem score as their own ecosystem scores them.

For each case in ecosystem_cases: the expected scores come from calling the function the way
its ecosystem calls it (TRL: through GRPOTrainer._calculate_rewards itself; verl: by keyword,
or as default_compute_score calls its bundled scorers; Predibase: fn(prompt, completion,
example) with a non-numeric return counted as 0; OpenAI: grade(sample, item); reward-kit:
evaluate(messages, **columns)). The same completions then go through the IDE preview's runtime
(the real sandbox pool) and through the training reward function (RewardHub, per component):
every score must be identical.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import struct
import threading
import types
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from app.evaluators import EvaluatorPool, Sample, check_code
from app.evaluators.rows import split_row
from app.evaluators.runtime import install_reward_kit
from tests.evaluators.ecosystem_cases import CASES, Case
from worker.training.data import trainer_rows
from worker.training.rewards import RewardHub

Scores = dict[str, list[float | None]]


@pytest.fixture(scope="module")
def eco_pool() -> Iterator[EvaluatorPool]:
    with EvaluatorPool(size=2, timeout_s=20.0) as started:
        yield started


def _module(case: Case) -> types.ModuleType:
    install_reward_kit()
    module = types.ModuleType(f"eco_{case.id}")
    exec(compile(case.code, f"<{case.id}>", "exec"), module.__dict__)
    return module


def _ids(text: str) -> list[int]:
    return list(text.encode("utf-8"))  # what the preview passes as completion_ids (no tokenizer)


def _trl_expected(case: Case, functions: dict[str, Any]) -> Scores:
    """TRL's own reward call: GRPOTrainer._calculate_rewards on a minimal trainer."""
    import torch
    from accelerate import PartialState
    from transformers import TrainerState
    from trl import GRPOTrainer

    PartialState()  # TRL logs through accelerate (e.g. when every function returned None)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    metrics: dict[str, list[float]] = defaultdict(list)
    extra: dict[str, list[Any]] = defaultdict(list)
    trainer = types.SimpleNamespace(
        accelerator=types.SimpleNamespace(device="cpu", is_main_process=True),
        args=types.SimpleNamespace(report_to=[]),
        reward_funcs=list(functions.values()),
        reward_processing_classes=[None] * len(functions),
        reward_func_names=list(functions),
        state=TrainerState(),
        environments=None,
        async_loop=loop,
        _log_metric=lambda name, value: metrics[name].append(value),
        _log_completion_extra=lambda column, values: extra[column].extend(values),
    )
    prompts = [row["prompt"] for row in case.rows]
    conversational = isinstance(prompts[0], list)
    completions: list[Any] = [
        [{"role": "assistant", "content": c}] if conversational else c for c in case.completions
    ]
    try:
        table = GRPOTrainer._calculate_rewards(
            trainer, case.rows, prompts, completions, [_ids(c) for c in case.completions]
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert isinstance(table, torch.Tensor)
    return {
        name: [None if math.isnan(v) else v for v in table[:, i].tolist()]
        for i, name in enumerate(functions)
    }


def _predibase(value: Any) -> float:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if numeric else 0.0  # Predibase: a non-numeric return counts as 0


def _verl(fn: Any, row: dict[str, Any], completion: str) -> float:
    ground_truth = row["reward_model"]["ground_truth"]
    if "data_source" in inspect.signature(fn).parameters:  # verl's custom_reward_function call
        value = fn(
            data_source=row.get("data_source"),
            solution_str=completion,
            ground_truth=ground_truth,
            extra_info=row.get("extra_info"),
        )
    else:  # a bundled scorer, as default_compute_score calls it
        value = fn(completion, ground_truth)
    return float(value["score"] if isinstance(value, dict) else value)


def _openai_sample(completion: str) -> dict[str, Any]:
    sample: dict[str, Any] = {"output_text": completion}
    if completion.strip()[:1] in ("{", "["):
        sample["output_json"] = json.loads(completion)
    return sample


def _reward_kit(fn: Any, row: dict[str, Any], completion: str) -> float:
    messages = [*row["messages"], {"role": "assistant", "content": completion}]
    columns = {k: v for k, v in row.items() if k != "messages"}
    value = fn(messages, **columns)
    return float(value if isinstance(value, int | float) else value["score"])


def expected_scores(case: Case) -> Scores:
    module = _module(case)
    names = check_code(case.code).component_names()
    assert names == (case.entry or names)
    functions = {name: getattr(module, name) for name in names}
    if case.ecosystem == "trl":
        return _trl_expected(case, functions)
    out: Scores = {}
    for name, fn in functions.items():
        pairs = zip(case.rows, case.completions, strict=True)
        if case.ecosystem == "predibase":
            out[name] = [_predibase(fn(row["prompt"], c, row)) for row, c in pairs]
        elif case.ecosystem == "verl":
            out[name] = [_verl(fn, row, c) for row, c in pairs]
        elif case.ecosystem == "openai":
            out[name] = [float(fn(_openai_sample(c), row)) for row, c in pairs]
        else:
            out[name] = [_reward_kit(fn, row, c) for row, c in pairs]
    return out


def preview_scores(pool: EvaluatorPool, case: Case, names: list[str]) -> Scores:
    samples = [Sample(row, c) for row, c in zip(case.rows, case.completions, strict=True)]
    results = pool.score(case.code, samples, tenant="ecosystems")
    for result in results:
        assert result.error is None, result.error
    if len(names) == 1:
        return {names[0]: [r.score if r.is_score_valid else None for r in results]}
    return {name: [_component(r.metrics, name) for r in results] for name in names}


def _component(metrics: dict[str, Any], name: str) -> float | None:
    metric = metrics.get(name)
    return None if metric is None else metric.score


def training_scores(pool: EvaluatorPool, case: Case, names: list[str]) -> Scores:
    """Each component alone, through RewardHub as GRPOTrainer calls it."""
    from transformers import TrainerState

    rows = trainer_rows(case.rows)
    prompts = [r["prompt"] for r in rows]
    conversational = isinstance(prompts[0], list)
    completions: list[Any] = [
        [{"role": "assistant", "content": c}] if conversational else c for c in case.completions
    ]
    out: Scores = {}
    for name in names:
        chosen = {"name": case.id, "code": case.code, "weight": 1.0, "components": {name: 2.0}}
        hub = RewardHub(pool, [chosen], tenant="ecosystems")
        out[name] = hub(
            prompts=prompts,
            completions=completions,
            row_json=[r["row_json"] for r in rows],
            completion_ids=[_ids(c) for c in case.completions],
            trainer_state=TrainerState(),
        )
    return out


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25
    assert {c.ecosystem for c in CASES} == {"trl", "predibase", "verl", "openai", "reward_kit"}
    for case in CASES:  # each row splits as the runtime splits it
        for row, completion in zip(case.rows, case.completions, strict=True):
            split_row(row, completion)


def _as_trl_stores(scores: Scores) -> Scores:
    """TRL keeps rewards in a float32 tensor: compare at that precision."""
    return {
        name: [None if v is None else struct.unpack("f", struct.pack("f", v))[0] for v in values]
        for name, values in scores.items()
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scores_as_its_ecosystem_scores(eco_pool: EvaluatorPool, case: Case) -> None:
    expected = expected_scores(case)
    names = list(expected)
    preview = preview_scores(eco_pool, case, names)
    training = training_scores(eco_pool, case, names)
    assert preview == training
    if case.ecosystem == "trl":
        preview = _as_trl_stores(preview)
    assert preview == expected
