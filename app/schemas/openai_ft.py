"""OpenAI's fine-tuning API shapes, as the installed ``openai`` client sends and parses them.

Requests are validated here (an unknown parameter is named in the 400); answers are built by
the ``*_object`` functions from our rows: a dataset is a ``file``, a job a ``fine_tuning.job``,
a job event a ``fine_tuning.job.event``, a checkpoint a ``fine_tuning.job.checkpoint``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from app.schemas.common import InputModel

Auto = Literal["auto"]


class _Input(InputModel):
    """Unknown parameters are named in the 400; NUL characters are refused (InputModel)."""


class ReinforcementHyperparameters(_Input):
    batch_size: Auto | int | None = Field(None, description="Prompts per optimizer step.")
    compute_multiplier: Auto | float | None = Field(
        None, description="Exploration compute: scales the completions per prompt (rollout.n)."
    )
    eval_interval: Auto | int | None = Field(None, description="Steps between validations.")
    eval_samples: Auto | int | None = Field(
        None, description="Accepted; no counterpart here (reported in the job's events)."
    )
    learning_rate_multiplier: Auto | float | None = Field(
        None, description="Scales the default learning rate (1e-4)."
    )
    n_epochs: Auto | int | None = Field(None, description="Passes over the training file.")
    reasoning_effort: Literal["default", "low", "medium", "high"] | None = Field(
        None, description="Accepted; no counterpart here (reported in the job's events)."
    )


class ReinforcementMethod(_Input):
    grader: dict[str, Any]
    hyperparameters: ReinforcementHyperparameters | None = None


class Method(_Input):
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: dict[str, Any] | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: ReinforcementMethod | None = None


class FineTuningJobCreate(_Input):
    model: str = Field(min_length=1)
    training_file: str = Field(min_length=1)
    validation_file: str | None = None
    suffix: str | None = Field(None, max_length=64)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    metadata: dict[str, str] | None = None
    method: Method | None = None
    hyperparameters: dict[str, Any] | None = Field(
        None, description="Deprecated by OpenAI in favour of method.*.hyperparameters."
    )
    integrations: list[dict[str, Any]] | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > 16:
            raise ValueError("at most 16 keys")
        for key, text in value.items():
            if len(key) > 64 or len(text) > 512:
                raise ValueError("keys are at most 64 characters, values at most 512")
        return value

    @field_validator("suffix")
    @classmethod
    def _suffix_chars(cls, value: str | None) -> str | None:
        if value is not None and ":" in value:
            raise ValueError("must not contain ':' (it separates the parts of a model name)")
        return value


class GraderValidateRequest(_Input):
    grader: dict[str, Any]


class GraderRunRequest(_Input):
    grader: dict[str, Any]
    model_sample: str
    item: Any = None


def unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def cursor_page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """OpenAI's cursor page: the client asks for the next one with ``after=<last id>``."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
