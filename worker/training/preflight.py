"""Pre-flight: sample the base model on a few prompts, score them, and say whether GRPO can
learn — GRPO learns only from groups whose rewards differ."""

from __future__ import annotations

import random
import statistics
from typing import Any

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.storage import Storage
from app.evaluators import EvaluatorPool
from app.models import Dataset
from app.schemas.job_params import RolloutParams
from app.services import base_models, datasets, evaluator_envs
from app.tasks import PreflightReport, PreflightRequest
from worker.training.data import prompt_text, split_row
from worker.training.rewards import RewardHub
from worker.training.spec import Hardware
from worker.training.trainer import load_model


def _prompts(settings: Settings, dataset_id: int, count: int) -> list[dict[str, Any]]:
    engine = make_engine(settings.database)
    try:
        with make_session_factory(engine)() as session:
            dataset = session.get(Dataset, dataset_id)
            if dataset is None:
                raise RuntimeError(f"dataset {dataset_id} is gone")
            rows = list(datasets.iter_rows(Storage.from_settings(settings), dataset))
    finally:
        engine.dispose()
    chosen = random.Random(0).sample(rows, min(count, len(rows)))
    out = []
    for row in chosen:
        prompt, evaluator_row, _ = split_row(row)
        out.append({"prompt": prompt, "evaluator_row": evaluator_row})
    return out


def sample(model: Any, tokenizer: Any, prompt: Any, rollout: RolloutParams) -> list[str]:
    """``rollout.n`` completions of one prompt, sampled as training would."""
    import torch

    if not isinstance(prompt, str):
        prompt = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    batch = tokenizer([prompt] * rollout.n, return_tensors="pt", add_special_tokens=False)
    batch = batch.to(model.device)
    with torch.no_grad():
        output = model.generate(
            **batch,
            do_sample=True,
            temperature=rollout.temperature,
            top_p=rollout.top_p,
            top_k=rollout.top_k or None,
            max_new_tokens=rollout.max_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
    new_tokens = output[:, batch["input_ids"].shape[1] :]
    return list(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))


def verdict(mean: float, zero_std: float, invalid: float) -> tuple[str, str]:
    if invalid > 0.2:
        return "fix_evaluator", (
            f"{invalid:.0%} of samples got no valid score: read the errors below and fix the "
            "evaluator before training"
        )
    if mean > 0.95:
        return "too_easy", "the base model already earns nearly full reward: use harder prompts"
    if mean < 0.02:
        return "too_hard", (
            "almost no completion earns reward: add SFT warm-up epochs, easier prompts, or an "
            "evaluator with partial credit"
        )
    if zero_std > 0.8:
        return "no_signal", (
            f"for {zero_std:.0%} of prompts all completions score the same, so GRPO has nothing "
            "to compare: raise temperature or n, or give partial credit"
        )
    return "ready", "rewards vary within groups: GRPO has a learning signal"


def run_preflight(plan: PreflightRequest, settings: Settings) -> PreflightReport:
    model_info = base_models.get_model(settings, plan.base_model)
    rows = _prompts(settings, plan.dataset_id, plan.prompts)
    rollout, n = plan.rollout, plan.rollout.n
    model, tokenizer = load_model(model_info.path, Hardware.detect())
    envs_dir = str(evaluator_envs.envs_root(settings))
    with EvaluatorPool(timeout_s=settings.evaluator_timeout_seconds, envs_dir=envs_dir) as pool:
        evaluators = [e.model_dump() for e in plan.evaluators]
        hub = RewardHub(pool, evaluators, tenant=f"user-{plan.owner_id}", settings=settings)
        groups, examples, invalid, total = [], [], 0, 0
        for row in rows:
            texts = sample(model, tokenizer, row["prompt"], rollout)
            per_evaluator = hub.score([row["evaluator_row"]] * n, texts)
            rewards = hub.rewards(per_evaluator)
            valid = [r for r in rewards if r is not None]
            invalid += len(rewards) - len(valid)
            total += len(rewards)
            groups.append(valid)
            examples.append(
                {
                    "prompt": prompt_text(row["prompt"]),
                    "completion": texts[0],
                    "reward": rewards[0],
                    "error": next((r[0].error for r in per_evaluator if r[0].error), None),
                }
            )
    scores = [r for group in groups for r in group]
    mean = statistics.fmean(scores) if scores else 0.0
    std = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    zero_std = sum(1 for g in groups if len(set(g)) <= 1) / max(1, len(groups))
    invalid_frac = invalid / max(1, total)
    code, advice = verdict(mean, zero_std, invalid_frac)
    return PreflightReport.model_validate(
        {
            "prompts": len(rows),
            "n": n,
            "reward_mean": mean,
            "reward_std": std,
            "frac_reward_zero_std": zero_std,
            "evaluator_error_rate": invalid_frac,
            "verdict": code,
            "advice": advice,
            "examples": examples[:5],
        }
    )
