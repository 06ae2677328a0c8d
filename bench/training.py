"""Step time of the demo GRPO config through a real job vs. a bare TRL script, in one run.

    .venv/bin/python bench/training.py [--steps 300] [--rounds 2] [--models-dir DIR]

Both use the same demo model, data, GRPOConfig and LoRA settings, and save one checkpoint at
the end. The job adds what the platform does per step: rewards through the sandboxed evaluator
pool, metrics/completions/logs persisted by the recorder, the callback. Target: ratio <= 1.10.

A third run per round trains with two evaluators (the demo one and a second version of it,
so the reward and therefore the generations stay the same): each step switches between two
(user, evaluator version) workers, which shows what such a switch costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The checkout, not bench/, first on the path: bench/datasets.py would shadow HF `datasets`.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.migrate import upgrade
from app.models import JobEvent
from app.schemas.job_params import parse_job_request
from app.services import demo, evaluators, jobs, users
from app.tasks import EvaluatorPin, JobSpec
from worker.training.data import trainer_rows
from worker.training.demo_model import build_with_status
from worker.training.runner import run_job
from worker.training.spec import Hardware, grpo_arguments, lora_arguments
from worker.training.trainer import load_model, prompt_tokens

# The demo evaluator as a second version: same rewards, its own worker.
SECOND_CODE = demo.EVALUATOR_CODE.replace("Demo evaluator:", "Demo evaluator (second copy):")


def bare_trl(settings: Settings, spec: JobSpec, rows: list[dict], work: Path) -> float:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    hardware = Hardware.detect()
    model, tokenizer = load_model(settings.models_path / demo.DEMO_MODEL, hardware)
    model = get_peft_model(model, LoraConfig(**lora_arguments(spec)))
    data = trainer_rows(rows)
    args = grpo_arguments(spec, str(work), prompt_tokens(tokenizer, data), hardware)
    args["save_steps"] = spec.training.max_steps

    def reward(prompts, completions, row_json, **_):  # the demo evaluator, in-process
        truths = [json.loads(r)["ground_truth"] for r in row_json]
        answers = [c[0]["content"].strip() for c in completions]
        return [float(a == t) for a, t in zip(answers, truths, strict=True)]

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=GRPOConfig(**args),
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def through_job(settings: Settings, request: dict) -> float:
    factory = make_session_factory(make_engine(settings.database))
    with transaction(factory) as session:
        admin = users.ensure_admin(session, "admin")
        job_id = jobs.create(session, settings, admin, parse_job_request(request)).id
    assert run_job(job_id, settings, exit_on_stall=False) == "completed"
    with factory() as session:
        summary = session.query(JobEvent).filter_by(job_id=job_id, type="summary").one()
    return float(summary.data["train_runtime"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--models-dir", type=Path, help="reuse the demo model built there (default: build it)"
    )
    args = parser.parse_args()
    steps, rounds = args.steps, args.rounds
    root = Path(tempfile.mkdtemp(prefix="rft-bench-"))
    models = args.models_dir or root / "models"
    settings = Settings(_env_file=None, data_dir=root, models_dir=models)
    upgrade(settings.database)
    print("building the demo model…", flush=True)
    build_with_status(settings.models_path, demo.DEMO_MODEL)
    factory = make_session_factory(make_engine(settings.database))
    with transaction(factory) as session:
        resources = demo.seed(session, settings, users.ensure_admin(session, "admin"))
    with transaction(factory) as session:
        admin = users.ensure_admin(session, "admin")
        second = evaluators.create(session, admin, "demo (second version)", SECOND_CODE).id
    request = demo.job_request(resources)
    request["validation_dataset_id"] = None
    request["training"].update(max_steps=steps, save_steps=steps, eval_steps=steps)
    parsed = parse_job_request(request)
    code = demo.EVALUATOR_CODE
    pin = EvaluatorPin(id=0, name="demo", version=1, weight=1.0, code=code)
    spec = JobSpec(training=parsed.training, rollout=parsed.rollout, evaluators=[pin])
    rows = demo.addition_rows(2000, seed=0)
    two = {**request, "evaluators": [*request["evaluators"], {"id": second, "weight": 1.0}]}
    bare, job, job2 = [], [], []
    for i in range(rounds):  # interleaved, so drift in machine load hits all alike
        bare.append(bare_trl(settings, spec, rows, root / f"bare-{i}"))
        job.append(through_job(settings, request))
        job2.append(through_job(settings, two))
        print(
            f"round {i + 1}: bare {bare[-1]:.1f} s, job {job[-1]:.1f} s, "
            f"job with 2 evaluators {job2[-1]:.1f} s",
            flush=True,
        )
    b, j, j2 = statistics.median(bare), statistics.median(job), statistics.median(job2)
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {machine}, python {platform.python_version()}, load {load}")
    n = spec.rollout.n
    per_step = grpo_arguments(spec, str(root), 22, Hardware.detect())["per_device_train_batch_size"]
    print(f"steps per run: {steps} ({per_step // n} prompts x {n} completions)")
    print(f"bare TRL: {1000 * b / steps:.1f} ms/step")
    print(f"job:      {1000 * j / steps:.1f} ms/step")
    print(f"job, 2 evaluators: {1000 * j2 / steps:.1f} ms/step")
    print(f"ratio job / bare: {j / b:.3f} (target <= 1.10)")
    print(f"ratio job with 2 evaluators / bare: {j2 / b:.3f}")


if __name__ == "__main__":
    main()
