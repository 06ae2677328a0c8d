"""A job's validated spec -> TRL GRPOConfig and PEFT LoraConfig, mapped honestly.

Token batch size -> prompts per step: prompts x n completions x (prompt + completion tokens)
fill the batch. Rollout parameters -> generation settings; extra_body -> generation kwargs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.tasks import JobSpec


@dataclass(frozen=True)
class Hardware:
    cuda: bool
    bf16: bool
    vllm: bool

    @classmethod
    def detect(cls) -> Hardware:
        import importlib.util

        import torch

        cuda = torch.cuda.is_available()
        return cls(
            cuda=cuda,
            bf16=cuda and torch.cuda.is_bf16_supported(),
            vllm=cuda and importlib.util.find_spec("vllm") is not None,
        )


def prompts_per_step(batch_tokens: int, n: int, prompt_tokens: int, max_tokens: int) -> int:
    return max(1, batch_tokens // (n * (prompt_tokens + max_tokens)))


# Validate and checkpoint 5 times a run unless the job says: a fraction below 1 is a share of
# the run's steps, which transformers turns into steps once it knows the total.
FIVE_TIMES_A_RUN = 0.2
VALIDATION_BATCH = 16


TRACKERS = {"wandb": "wandb", "mlflow": "mlflow", "tensorboard": "tensorboard"}


def trackers(requested: str) -> tuple[list[str], list[str]]:
    """(installed trackers to report to, requested ones that are unknown or not installed)."""
    import importlib.util

    names = [n.strip().lower() for n in requested.split(",") if n.strip()]
    usable = [n for n in names if n in TRACKERS and importlib.util.find_spec(TRACKERS[n])]
    return usable, [n for n in names if n not in usable]


def grpo_arguments(
    spec: JobSpec,
    output_dir: str,
    prompt_tokens: int,
    hardware: Hardware,
    seed: int = 0,
    report_to: list[str] | None = None,
    validate: bool = False,
    resuming: bool = False,
) -> dict[str, Any]:
    """``validate``: there are validation rows (TRL's evaluation loop scores them at the start,
    unless ``resuming``, then every eval_steps and at the end)."""
    training, rollout = spec.training, spec.rollout
    n = rollout.n
    max_tokens = rollout.max_tokens
    assert max_tokens is not None  # resolved when the job was created (JobSpec checks it)
    prompts = prompts_per_step(training.batch_size, n, prompt_tokens, max_tokens)
    args: dict[str, Any] = {
        "output_dir": output_dir,
        "num_train_epochs": training.epochs,
        "max_steps": training.max_steps or -1,
        "learning_rate": training.learning_rate,
        "lr_scheduler_type": training.lr_scheduler,
        "per_device_train_batch_size": prompts * n,
        "num_generations": n,
        "max_completion_length": max_tokens,
        "temperature": rollout.temperature,
        "top_p": rollout.top_p,
        "top_k": rollout.top_k,
        "generation_kwargs": dict(rollout.extra_body) or None,
        "loss_type": training.loss_type,
        "beta": training.beta,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": training.save_steps or FIVE_TIMES_A_RUN,
        "save_total_limit": None,
        "eval_strategy": "steps" if validate else "no",
        "eval_steps": training.eval_steps or FIVE_TIMES_A_RUN,
        "eval_on_start": validate and not resuming,  # the base model: where the curve starts
        # One completion per validation row, sampled as in training; a batch never larger
        # than a training one (that fits in memory).
        "num_generations_eval": 1,
        "per_device_eval_batch_size": min(VALIDATION_BATCH, prompts * n),
        "report_to": report_to or "none",
        "disable_tqdm": True,
        "seed": seed,
        "bf16": hardware.bf16,
        "gradient_checkpointing": hardware.cuda,  # memory for speed: only worth it on GPUs
        "use_cpu": not hardware.cuda,
        "use_vllm": hardware.vllm,
        "dataloader_num_workers": 0,
    }
    if hardware.vllm:
        args["vllm_mode"] = "colocate"
    return args


def lora_arguments(spec: JobSpec) -> dict[str, Any]:
    rank = spec.training.lora_rank
    return {
        "r": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "task_type": "CAUSAL_LM",
    }
