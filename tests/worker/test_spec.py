"""Job spec -> TRL/PEFT arguments: the mapping a user relies on when reading their config."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from app.schemas.job_params import parse_job_request
from app.tasks import EvaluatorPin, JobSpec
from worker.training.spec import Hardware, grpo_arguments, lora_arguments, trackers

CPU = Hardware(cuda=False, bf16=False, vllm=False)


def spec(**training: Any) -> JobSpec:
    body = {
        "base_model": "m",
        "dataset_id": 1,
        "evaluators": [{"id": 1}],
        "training": {"max_context_length": 4096, **training},
        "rollout": {
            "max_tokens": 64,
            "n": 8,
            "top_k": 0,
            "extra_body": '{"repetition_penalty": 1.1}',
        },
    }
    request = parse_job_request(body)
    pin = EvaluatorPin(id=1, name="e", version=1, weight=1.0, code="def evaluate(row, c): ...")
    return JobSpec(training=request.training, rollout=request.rollout, evaluators=[pin])


def test_token_batch_becomes_prompts_per_step() -> None:
    args = grpo_arguments(spec(batch_size=8 * (36 + 64) * 4), "/tmp/x", 36, CPU)
    assert args["per_device_train_batch_size"] == 4 * 8  # 4 prompts x n completions
    assert args["num_generations"] == 8
    tiny = grpo_arguments(spec(batch_size=10), "/tmp/x", 36, CPU)
    assert tiny["per_device_train_batch_size"] == 8  # never less than one prompt


def test_rollout_and_algorithm_fields_reach_trl() -> None:
    args = grpo_arguments(
        spec(loss_type="dr_grpo", beta=0.04, max_steps=50, lr_scheduler="constant"),
        "/tmp/x",
        36,
        CPU,
    )
    assert args["loss_type"] == "dr_grpo" and args["beta"] == 0.04 and args["max_steps"] == 50
    assert args["max_completion_length"] == 64 and args["top_k"] == 0
    assert args["generation_kwargs"] == {"repetition_penalty": 1.1}
    assert args["lr_scheduler_type"] == "constant"


def test_cpu_runs_fp32_without_checkpointing_or_vllm() -> None:
    args = grpo_arguments(spec(), "/tmp/x", 36, CPU)
    assert args["use_cpu"] and not args["bf16"] and not args["gradient_checkpointing"]
    assert not args["use_vllm"]


def test_gpu_selects_bf16_and_colocated_vllm() -> None:
    gpu = Hardware(cuda=True, bf16=True, vllm=True)
    args = grpo_arguments(spec(), "/tmp/x", 36, gpu)
    assert args["bf16"] and not args["use_cpu"] and args["gradient_checkpointing"]
    assert args["use_vllm"] and args["vllm_mode"] == "colocate"


def test_lora_rank_and_targets() -> None:
    lora = lora_arguments(spec(lora_rank=32))
    assert lora["r"] == 32 and lora["lora_alpha"] == 64 and lora["target_modules"] == "all-linear"


def test_trackers_not_installed_are_reported() -> None:
    wandb_installed = importlib.util.find_spec("wandb") is not None
    usable, missing = trackers("tensorboardX-nope, wandb")
    assert "tensorboardx-nope" in missing
    assert usable == (["wandb"] if wandb_installed else [])
    assert ("wandb" in missing) is not wandb_installed


def test_arguments_build_trl_and_peft_configs(tmp_path: Path) -> None:
    """The mapping is accepted by the libraries themselves, and says what the user set."""
    from peft import LoraConfig
    from trl import GRPOConfig

    job = spec(batch_size=8 * (36 + 64) * 4, max_steps=50, lora_rank=16, loss_type="dr_grpo")
    config = GRPOConfig(**grpo_arguments(job, str(tmp_path), 36, CPU))
    assert config.per_device_train_batch_size == 32 and config.num_generations == 8
    assert config.max_steps == 50 and config.loss_type == "dr_grpo"
    assert config.max_completion_length == 64 and config.temperature == job.rollout.temperature
    assert config.generation_kwargs == {"repetition_penalty": 1.1}
    lora = LoraConfig(**lora_arguments(job))
    assert lora.r == 16 and lora.lora_alpha == 32 and lora.target_modules == "all-linear"


@pytest.mark.gpu
def test_detects_cuda_hardware() -> None:
    hardware = Hardware.detect()
    assert hardware.cuda
    args = grpo_arguments(spec(), "/tmp/x", 36, hardware)
    assert not args["use_cpu"]


@pytest.mark.gpu
def test_generates_with_bf16_on_gpu(models_dir: Any) -> None:
    """The demo model loads in bf16 on a GPU and generates there."""
    import torch

    from app.services.demo import DEMO_MODEL
    from worker.training.trainer import load_model

    model, tokenizer = load_model(models_dir / DEMO_MODEL, Hardware.detect())
    assert next(model.parameters()).dtype == torch.bfloat16
    inputs = tokenizer("3+4=", return_tensors="pt").to("cuda")
    assert model.generate(**inputs, max_new_tokens=2).shape[1] > inputs["input_ids"].shape[1]


def test_validation_and_checkpoints_reach_trl_as_steps_or_a_share_of_the_run() -> None:
    from trl import GRPOConfig

    args = grpo_arguments(spec(eval_steps=0.25, save_steps=50), "/tmp/x", 36, CPU, validate=True)
    assert args["eval_strategy"] == "steps" and args["eval_on_start"]
    config = GRPOConfig(**args)  # transformers accepts both forms
    assert config.eval_steps == 0.25 and config.save_steps == 50
    assert config.num_generations_eval == 1  # one completion per validation row
    unset = grpo_arguments(spec(), "/tmp/x", 36, CPU, validate=True)
    assert unset["eval_steps"] == unset["save_steps"] == 0.2  # 5 times a run


def test_no_validation_rows_or_a_resumed_run_skip_the_validation_at_start() -> None:
    assert grpo_arguments(spec(), "/tmp/x", 36, CPU)["eval_strategy"] == "no"
    resumed = grpo_arguments(spec(), "/tmp/x", 36, CPU, validate=True, resuming=True)
    assert resumed["eval_strategy"] == "steps" and not resumed["eval_on_start"]


@pytest.mark.parametrize("value", [1.5, 0, -0.5, 2**31])
def test_steps_that_transformers_would_refuse_are_a_422(value: float) -> None:
    from app.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        spec(eval_steps=value)
    [error] = caught.value.errors
    assert error["field"] == "training.eval_steps"
