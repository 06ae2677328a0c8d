"""Validation: generate on the validation rows and score with the job's evaluators."""

from __future__ import annotations

from typing import Any

from app.schemas.job_params import RolloutParams
from worker.training.rewards import RewardHub


class Validator:
    def __init__(
        self,
        hub: RewardHub,
        tokenizer: Any,
        rows: list[dict[str, Any]],
        rollout: RolloutParams,
        batch_size: int = 16,
    ) -> None:
        self.hub, self.tokenizer, self.rows = hub, tokenizer, rows
        self.rollout, self.batch_size = rollout, batch_size

    def _encode(self, prompts: list[Any]) -> Any:
        if isinstance(prompts[0], str):
            texts = prompts
        else:
            texts = [
                self.tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                for p in prompts
            ]
        self.tokenizer.padding_side = "left"
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)

    def generate(self, model: Any, prompts: list[Any]) -> list[str]:
        import torch

        batch = self._encode(prompts).to(model.device)
        top_k = self.rollout.top_k or None
        with torch.no_grad():
            output = model.generate(
                **batch,
                do_sample=True,
                temperature=self.rollout.temperature,
                top_p=self.rollout.top_p,
                top_k=top_k,
                max_new_tokens=self.rollout.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return list(self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True))

    def run(self, model: Any) -> dict[str, float]:
        """Mean reward over the validation rows (invalid samples left out), and their share."""
        was_training = model.training
        model.eval()
        rewards: list[float | None] = []
        try:
            for start in range(0, len(self.rows), self.batch_size):
                chunk = self.rows[start : start + self.batch_size]
                texts = self.generate(model, [r["prompt"] for r in chunk])
                per_evaluator = self.hub.score([r["evaluator_row"] for r in chunk], texts)
                rewards.extend(self.hub.rewards(per_evaluator))
        finally:
            model.train(was_training)
        valid = [r for r in rewards if r is not None]
        result = {"eval/invalid_frac": 1 - len(valid) / max(1, len(rewards))}
        if valid:
            result["eval/reward"] = sum(valid) / len(valid)
        return result
