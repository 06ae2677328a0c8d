"""Fine-tuning parameters: one definition serves the API, the CLI and the wizard.

Every field documents its meaning and valid range (DESIGN.md, "Parameters and their valid
ranges"). ``parse_job_request`` turns any bad value into one error per field that names the
field and its range, under the detail "Invalid training parameters" or "Invalid rollout
parameters".
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from app.core.errors import InvalidInput
from app.schemas.common import InputModel

LORA_RANKS = (4, 8, 16, 32, 64, 128)
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")


class TrainingParams(InputModel):
    epochs: int = Field(1, ge=1, le=10, description="Passes over the training dataset.")
    learning_rate: float = Field(
        1e-4, ge=1e-5, le=5e-4, description="Peak learning rate of the LoRA adapter."
    )
    lr_scheduler: Literal["linear", "constant", "cosine"] = Field(
        "linear", description="How the learning rate changes over the run (TRL's default: linear)."
    )
    lora_rank: Literal[4, 8, 16, 32, 64, 128] = Field(8, description="Rank r of the adapter.")
    batch_size: int = Field(
        32768,
        ge=1,
        le=16 * 1024 * 1024,
        description="Tokens per optimizer step (prompts x n x (prompt + completion tokens)); "
        "turned into prompts per step.",
    )
    max_context_length: int = Field(
        8192, ge=16, le=1_048_576, description="Longest prompt + completion, in tokens."
    )
    loss_type: Literal[LOSS_TYPES] = Field(  # type: ignore[valid-type]
        "dapo", description="GRPO loss variant, as TRL names it."
    )
    beta: float = Field(0.0, ge=0.0, le=1.0, description="KL penalty coefficient (0 = none).")
    max_steps: int | None = Field(
        None, ge=1, description="Optional cap on optimizer steps (overrides epochs)."
    )
    sft_warmup_epochs: int = Field(
        0, ge=0, le=3, description="ReFT warm-up: supervised epochs on rows with a reference."
    )
    eval_steps: int | None = Field(
        None, ge=1, description="Validate every N steps (default: 5 times per run)."
    )
    save_steps: int | None = Field(
        None, ge=1, description="Checkpoint every N steps (default: 5 times per run)."
    )


class RolloutParams(InputModel):
    max_tokens: int = Field(2048, ge=16, le=16384, description="Longest completion, in tokens.")
    temperature: float = Field(0.7, ge=0.1, le=2.0, description="Sampling temperature (never 0).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: int = Field(40, ge=0, le=100, description="Top-k sampling (0 = off).")
    n: int = Field(4, ge=2, le=8, description="Completions per prompt (the GRPO group).")
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra generation settings (a JSON object), passed to generation as is.",
    )

    @field_validator("extra_body", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        return value


class JobEvaluator(InputModel):
    id: int = Field(description="A saved evaluator of yours.")
    weight: float = Field(1.0, gt=0.0, le=100.0, description="Weight in the summed reward.")
    components: dict[str, Annotated[float, Field(gt=0.0, le=100.0)]] | None = Field(
        None,
        description="For a module with several reward functions: which ones to train on and "
        "the weight of each ({name: weight}); by default all of them, weight 1.",
    )


class JobCreate(InputModel):
    base_model: str = Field(min_length=1, description="A name from GET /api/v1/models.")
    dataset_id: int
    validation_dataset_id: int | None = None
    evaluators: list[JobEvaluator] = Field(min_length=1, max_length=16)
    training: TrainingParams = Field(default_factory=TrainingParams)
    rollout: RolloutParams = Field(default_factory=RolloutParams)
    name: str | None = Field(None, max_length=200, description="Shown in lists.")


RANGES = {
    "training.epochs": "an integer from 1 to 10",
    "training.learning_rate": "between 1e-05 and 0.0005",
    "training.lora_rank": "one of 4, 8, 16, 32, 64, 128",
    "training.lr_scheduler": "one of linear, constant, cosine",
    "training.batch_size": "a positive number of tokens",
    "training.max_context_length": "an integer from 16 up to the model's limit",
    "training.loss_type": "one of " + ", ".join(LOSS_TYPES),
    "training.beta": "between 0 and 1",
    "training.max_steps": "a positive integer, or null for no cap",
    "training.sft_warmup_epochs": "an integer from 0 to 3",
    "training.eval_steps": "a positive integer",
    "training.save_steps": "a positive integer",
    "rollout.max_tokens": "an integer from 16 to 16384",
    "rollout.temperature": "between 0.1 and 2.0, never 0",
    "rollout.top_p": "greater than 0 and at most 1",
    "rollout.top_k": "an integer from 0 to 100, 0 = off",
    "rollout.n": "an integer from 2 to 8",
}


def _field_error(err: dict[str, Any]) -> dict[str, str]:
    field = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return {"field": field, "message": "unknown field"}
    if field in RANGES:
        return {"field": field, "message": f"must be {RANGES[field]} (got {err['input']!r})"}
    return {"field": field or "body", "message": str(err["msg"]).removeprefix("Value error, ")}


def parse_job_request(payload: Any) -> JobCreate:
    """The validated request, or InvalidInput naming every bad field."""
    try:
        request = JobCreate.model_validate(payload)
    except ValidationError as exc:
        errors = [_field_error(dict(e)) for e in exc.errors()]
    else:
        _check_context(request)
        return request
    groups = {e["field"].split(".")[0] for e in errors}
    if groups == {"rollout"}:
        detail = "Invalid rollout parameters"
    elif groups <= {"training", "rollout"} and "training" in groups:
        detail = "Invalid training parameters"
        if "rollout" in groups:
            detail = "Invalid training and rollout parameters"
    else:
        detail = "Invalid job request"
    raise InvalidInput(detail, errors)


def _check_context(request: JobCreate) -> None:
    max_tokens, context = request.rollout.max_tokens, request.training.max_context_length
    if max_tokens >= context:
        message = (
            f"must be below training.max_context_length ({context}) (got {max_tokens}): "
            "lower max_tokens or raise max_context_length"
        )
        raise InvalidInput(
            "Invalid rollout parameters", [{"field": "rollout.max_tokens", "message": message}]
        )
