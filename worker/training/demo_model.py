"""The demo base model, built locally (no hub): a tiny Qwen2 that knows some single-digit sums.

Recipe measured on 2 CPU cores (DESIGN.md, Known facts): a character-level tokenizer, a
~75k-parameter Qwen2, pre-trained on single-digit addition with half the labels randomized, so
sampling is right about a third of the time and GRPO has something to sharpen.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHARS = list(
    "0123456789+-*/=?.,:;!'\"()[]{}<>#_ abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tokenizer() -> Any:
    """A character-level tokenizer loaded as PreTrainedTokenizerFast (keeps our ids as built)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL + CHARS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(vocab_size: int, eos_id: int, pad_id: int, seed: int = 0) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
    )
    return Qwen2ForCausalLM(config)


def pretrain(
    model: Any,
    tokenizer: Any,
    steps: int,
    seed: int = 0,
    noise: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 32,
) -> None:
    """Full-parameter LM training on chat-formatted sums; ``noise`` of the answers are random.
    Every question and answer is tokenized once up front: the steps are tensor work only."""
    import torch

    eos = tokenizer.eos_token_id
    prompts = {
        (a, b): tokenizer.apply_chat_template(
            [{"role": "user", "content": f"{a}+{b}="}], add_generation_prompt=True
        )["input_ids"]
        for a in range(10)
        for b in range(10)
    }
    answers = {
        n: [*tokenizer(str(n), add_special_tokens=False)["input_ids"], eos] for n in range(19)
    }
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        inputs, labels = [], []
        for _ in range(batch_size):
            a, b = rng.randint(0, 9), rng.randint(0, 9)
            answer = answers[rng.randint(0, 18) if rng.random() < noise else a + b]
            inputs.append(prompts[(a, b)] + answer)
            labels.append([-100] * len(prompts[(a, b)]) + answer)  # learn the answer only
        width = max(len(ids) for ids in inputs)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in inputs])
        label_ids = torch.tensor([ids + [-100] * (width - len(ids)) for ids in labels])
        mask = (
            torch.arange(width)[None, :] < torch.tensor([len(i) for i in inputs])[:, None]
        ).long()
        loss = model(input_ids=input_ids, attention_mask=mask, labels=label_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if progress is not None:
            progress(step + 1, steps)
    model.eval()


def build_demo_model(
    folder: Path,
    steps: int = 1500,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Builds, pre-trains and saves the demo model into ``folder`` (Hugging Face format)."""
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=seed)
    pretrain(model, tokenizer, steps, seed=seed, progress=progress)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "rft_model.json").write_text(
        json.dumps({"name": folder.name, "pretrain_steps": steps, "seed": seed})
    )
    return folder


def build_with_status(
    models_dir: Path,
    name: str,
    steps: int = 1500,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Builds ``models_dir/name`` unless it is there, reporting progress in a status file the
    dashboard reads; the folder appears only when complete (built aside, then renamed)."""
    folder = models_dir / name
    if (folder / "config.json").exists():
        return folder
    status = models_dir / f".{name}.status.json"
    models_dir.mkdir(parents=True, exist_ok=True)

    def report(step: int, total: int) -> None:
        if step == 1 or step % 25 == 0 or step == total:
            report = {"state": "building", "step": step, "total": total, "at": time.time()}
            status.write_text(json.dumps(report))
        if progress is not None:
            progress(step, total)

    aside = models_dir / f".{name}.building-{os.getpid()}"
    try:
        build_demo_model(aside, steps=steps, progress=report)
        aside.rename(folder)
    except BaseException as exc:
        shutil.rmtree(aside, ignore_errors=True)
        status.write_text(json.dumps({"state": "failed", "error": f"{type(exc).__name__}: {exc}"}))
        raise
    status.unlink(missing_ok=True)
    return folder
