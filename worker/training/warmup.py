"""ReFT-style warm-up: a few supervised epochs of the LoRA adapter on the rows with a reference
answer, by TRL's SFTTrainer (prompt-completion rows, loss on the completion only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker.training.spec import Hardware


def sft_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prompt -> reference rows as TRL reads them (a chat prompt gets an assistant answer)."""
    out = []
    for row in rows:
        if not row["reference"]:
            continue
        prompt = row["prompt"]
        completion: Any = row["reference"]
        if not isinstance(prompt, str):
            completion = [{"role": "assistant", "content": completion}]
        out.append({"prompt": prompt, "completion": completion})
    return out


def sft_warmup(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    epochs: int,
    learning_rate: float,
    output_dir: Path,
    hardware: Hardware,
    callback: Any,
    seed: int = 0,
    batch_size: int = 8,
) -> int:
    """Trains ``model`` (the job's PEFT model) in place; returns the optimizer steps taken."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    pairs = sft_rows(rows)
    if not pairs or epochs == 0:
        return 0
    config = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        lr_scheduler_type="constant",
        per_device_train_batch_size=batch_size,
        completion_only_loss=True,
        max_length=None,  # the job's limits were checked when it was created
        save_strategy="no",
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        bf16=hardware.bf16,
        gradient_checkpointing=hardware.cuda,  # as the GRPO run that follows
        use_cpu=not hardware.cuda,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(pairs),
        processing_class=tokenizer,
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to the job, not stdout
    trainer.train()
    return int(trainer.state.global_step)
