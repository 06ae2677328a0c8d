"""ReFT-style warm-up: a few supervised epochs of the LoRA adapter on rows with a reference."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


def sft_warmup(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    epochs: int,
    learning_rate: float,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Trains on prompt -> reference (loss on the reference only); returns the steps taken."""
    import torch

    pairs = [r for r in rows if r["reference"]]
    if not pairs or epochs == 0:
        return 0
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=learning_rate
    )
    rng = random.Random(0)
    total = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    done = 0
    model.train()
    for _ in range(epochs):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), batch_size):
            loss = _batch_loss(model, tokenizer, pairs[start : start + batch_size])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            done += 1
            if progress is not None:
                progress(done, total)
    return done


def _batch_loss(model: Any, tokenizer: Any, pairs: list[dict[str, Any]]) -> Any:
    import torch

    inputs, labels = [], []
    for row in pairs:
        prompt = row["prompt"]
        if not isinstance(prompt, str):
            prompt = tokenizer.apply_chat_template(
                prompt, tokenize=False, add_generation_prompt=True
            )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(row["reference"], add_special_tokens=False)["input_ids"]
        answer_ids = [*answer_ids, tokenizer.eos_token_id]
        inputs.append(prompt_ids + answer_ids)
        labels.append([-100] * len(prompt_ids) + answer_ids)
    width = max(len(ids) for ids in inputs)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in inputs])
    label_ids = torch.tensor([ids + [-100] * (width - len(ids)) for ids in labels])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in inputs])
    input_ids, label_ids, mask = (t.to(model.device) for t in (input_ids, label_ids, mask))
    return model(input_ids=input_ids, attention_mask=mask, labels=label_ids).loss
