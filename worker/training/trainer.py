"""GRPO + LoRA with TRL for one job (heavy imports live here, in the worker only)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.evaluators import EvaluatorPool
from app.services import job_records
from worker.training.callbacks import JobCallback, WarmupCallback
from worker.training.causes import NoTrainingStep, no_step_cause
from worker.training.context import JobContext, Phase, Watchdog
from worker.training.recorder import Recorder
from worker.training.rewards import RewardHub
from worker.training.spec import Hardware, grpo_arguments, lora_arguments, trackers
from worker.training.warmup import sft_warmup


def preload() -> None:
    """Imports the training stack (seconds of import with the GIL held). Done before a job is
    claimed, so its heartbeat never stalls on imports and recovery never mistakes it for lost."""
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import transformers  # noqa: F401
    import trl  # noqa: F401


def load_model(path: Path, hardware: Hardware) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    # transformers 5 rebuilds some tokenizers' pre-tokenizers from the model type, which
    # silently changes ids: a folder with tokenizer.json is loaded exactly as saved.
    if (path / "tokenizer.json").exists():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    else:
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if hardware.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if hardware.cuda:
        model = model.to("cuda")  # type: ignore[arg-type]
    return model, tokenizer


def prompt_tokens(tokenizer: Any, rows: list[dict[str, Any]], sample: int = 64) -> int:
    lengths = []
    for row in rows[:sample]:
        prompt = row["prompt"]
        if isinstance(prompt, str):
            lengths.append(len(tokenizer(prompt)["input_ids"]))
        else:
            lengths.append(len(tokenizer.apply_chat_template(prompt, add_generation_prompt=True)))
    return max(1, round(sum(lengths) / len(lengths)))


def _local_checkpoint(storage: Storage, key: str, work: Path) -> Path:
    """The full trainer checkpoint, fetched from storage when this host does not have it."""
    local = work / Path(key).name
    if not local.exists():
        storage.fs.get(storage.path(key), str(local), recursive=True)
    return local


def train(
    context: JobContext,
    settings: Settings,
    storage: Storage,
    recorder: Recorder,
    pool: EvaluatorPool,
    phase: Phase,
    exit_on_stall: bool,
) -> str:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    spec = context.spec
    hardware = Hardware.detect()
    work = settings.data_path / "jobs" / str(context.job_id)
    work.mkdir(parents=True, exist_ok=True)

    phase("loading the base model")
    model, tokenizer = load_model(context.model_path, hardware)
    model = get_peft_model(model, LoraConfig(**lora_arguments(spec)))
    tenant = f"user-{context.owner_id}"
    phase("installing the evaluators' declared requirements")
    hub = RewardHub(pool, spec.evaluator_dicts, tenant=tenant, recorder=recorder, settings=settings)
    resume = _local_checkpoint(storage, context.resume_key, work) if context.resume_key else None
    if resume is not None:
        recorder.event("resumed", {"step": context.resume_step})
    elif spec.training.sft_warmup_epochs:
        phase("warming up on reference answers (SFT)")
        steps = sft_warmup(
            model,
            tokenizer,
            context.train_rows,
            spec.training.sft_warmup_epochs,
            spec.training.learning_rate,
            work / "sft-warmup",
            hardware,
            WarmupCallback(recorder, phase),
            seed=spec.seed,
        )
        recorder.event("sft_warmup", {"steps": steps})
        if recorder.cancel_requested or recorder.lost:
            return "cancelled"

    usable, missing = trackers(settings.report_to)
    if missing:
        recorder.log(
            0, "warning", "tracking", f"not exporting to {', '.join(missing)}: not installed"
        )
    arguments = grpo_arguments(
        spec,
        str(work),
        prompt_tokens(tokenizer, context.train_rows),
        hardware,
        seed=spec.seed,
        report_to=usable,
        validate=bool(context.validation_rows),
        resuming=resume is not None,
    )
    config = GRPOConfig(**arguments)
    dataset = Dataset.from_list(context.train_rows)
    validation = Dataset.from_list(context.validation_rows) if context.validation_rows else None
    callback = JobCallback(
        recorder, hub, on_checkpoint=_checkpoint_saver(recorder, storage, context.job_id)
    )
    no_step = no_step_cause(
        len(dataset),
        config.per_device_train_batch_size // spec.rollout.n,
        spec.training.epochs,
        spec.training.max_steps,
    )
    try:
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[hub],
            args=config,
            train_dataset=dataset,
            eval_dataset=validation,
            processing_class=tokenizer,
            callbacks=[callback],
        )
    except ValueError as exc:
        if "max_steps must be set to a positive value" in str(exc):
            raise NoTrainingStep(no_step) from exc
        raise
    trainer.remove_callback(PrinterCallback)  # metrics go to the database, not stdout
    policy = trainer.model
    assert policy is not None
    hub.validating = lambda: not policy.training  # TRL's own test for its evaluation loop
    watchdog = Watchdog(
        settings.job_stall_seconds,
        lambda: max(callback.progress_at, hub.last_activity),
        _on_stall(settings, context.job_id, recorder, phase, exit_on_stall),
    )
    watchdog.start()
    phase("training")
    try:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except ValueError as exc:
        if "max_steps must be set to a positive value" in str(exc):
            raise NoTrainingStep(no_step) from exc
        raise
    finally:
        watchdog.stopped.set()
    if callback.cancelled:
        return "cancelled"
    if trainer.state.global_step == 0 and not recorder.lost:
        raise NoTrainingStep(no_step)  # never "completed" having trained nothing
    return "completed"


def _checkpoint_saver(recorder: Recorder, storage: Storage, job_id: int) -> Any:
    def save(step: int, folder: str, metrics: dict[str, float], eval_reward: float | None) -> None:
        key = f"jobs/{job_id}/checkpoint-{step}"
        if storage.is_local and os.path.realpath(storage.path(key)) == os.path.realpath(folder):
            pass  # training wrote straight into storage
        elif storage.is_local:
            target = storage.path(key)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target)
        else:
            storage.fs.put(folder, storage.path(key), recursive=True)
        with transaction(recorder.factory) as session:
            job_records.add_checkpoint(session, job_id, step, key, metrics, eval_reward)

    return save


def _on_stall(
    settings: Settings, job_id: int, recorder: Recorder, phase: Phase, exit_on_stall: bool
) -> Any:
    def stalled(idle: float) -> None:
        cause = (
            f"stalled: no progress for {idle:.0f} s while {phase.name} at step {recorder.step} "
            f"(limit RFT_JOB_STALL_SECONDS={settings.job_stall_seconds:g})"
        )
        with transaction(recorder.factory) as session:
            job_records.finish(session, job_id, "failed", cause, worker=recorder.worker)
        if exit_on_stall:
            os._exit(70)  # the hung generation or reward cannot be interrupted otherwise

    return stalled
