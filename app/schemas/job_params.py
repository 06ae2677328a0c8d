"""Fine-tuning parameters: one definition serves the API, the CLI and the wizard.

Each ``Field`` carries the default, the valid range (its constraints) and the help text: the
meaning (``description``), the one-line "when to change it" (``help``, DESIGN.md "Parameter
guide") and the wizard group. The 422 messages ("Invalid training parameters", the field named
with its valid range), ``rft jobs create --help`` and the wizard's field help are all generated
from here. ``None`` on max_context_length / max_tokens means "derive it from the model and the
data" (app.services.jobs.resolve).
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from app.core.errors import InvalidInput, field_errors
from app.schemas.common import MAX_ID, DbId, InputModel

LORA_RANKS = (4, 8, 16, 32, 64, 128)
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo")
CONTEXT_CAP = 8192  # an unset max_context_length is the model's limit, at most this
MAX_TOKENS_CAP = 2048  # an unset max_tokens is at most this


def _guide(help_: str, group: str | None = None, unset: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"help": help_}
    if group:
        extra["group"] = group
    if unset:
        extra["unset"] = unset
    return extra


class TrainingParams(InputModel):
    epochs: int = Field(
        1,
        ge=1,
        le=10,
        description="Passes over the training dataset.",
        json_schema_extra=_guide(
            "Add one or two when the reward still climbs at the end; more risks memorising "
            "the data."
        ),
    )
    learning_rate: float = Field(
        1e-4,
        ge=1e-5,
        le=5e-4,
        description="Peak learning rate of the LoRA adapter.",
        json_schema_extra=_guide(
            "Lower it when the reward spikes then collapses; raise it when the curve flattens "
            "early; stay within 2x of the default unless the curves say otherwise.",
            unset="1e-4; 5e-4 for a model under 100M parameters",
        ),
    )
    lr_scheduler: Literal["linear", "constant", "cosine"] = Field(
        "linear",
        description="How the learning rate changes over the run (TRL's default: linear).",
        json_schema_extra=_guide(
            "constant keeps the full rate for short runs.",
            unset="constant for a run of at most 200 steps, else linear",
        ),
    )
    lora_rank: Literal[4, 8, 16, 32, 64, 128] = Field(
        8,
        description="Rank r of the adapter.",
        json_schema_extra=_guide(
            "8-16 suits most tasks; higher ranks add capacity for harder reasoning at a "
            "memory cost."
        ),
    )
    batch_size: int = Field(
        32768,
        ge=1,
        le=16 * 1024 * 1024,
        description="Tokens per optimizer step (prompts x n x (prompt + completion tokens)); "
        "turned into prompts per step.",
        json_schema_extra=_guide(
            "Lower it on out-of-memory; raise it only with memory to spare.",
            unset="32768, lowered so that prompts per step never exceed the dataset's rows",
        ),
    )
    max_context_length: int | None = Field(
        None,
        ge=16,
        le=1_048_576,
        description="Longest prompt + completion, in tokens, up to the model's limit.",
        json_schema_extra=_guide(
            "Leave it unset: it is the model's limit; lower it only to save memory.",
            unset=f"the model's limit, at most {CONTEXT_CAP}",
        ),
    )
    loss_type: Literal[LOSS_TYPES] = Field(  # type: ignore[valid-type]
        "dapo",
        description="GRPO loss variant, as TRL names it.",
        json_schema_extra=_guide("dapo (TRL's default) suits most runs.", group="algorithm"),
    )
    beta: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="KL penalty coefficient (0 = none).",
        json_schema_extra=_guide(
            "Above 0 keeps the policy near the base (KL is then logged); 0 is TRL's default.",
            group="algorithm",
        ),
    )
    max_steps: int | None = Field(
        None,
        ge=1,
        description="Optional cap on optimizer steps (overrides epochs).",
        json_schema_extra=_guide(
            "Set it for a short trial run or a fixed budget.",
            group="algorithm",
            unset="epochs decide",
        ),
    )
    sft_warmup_epochs: int = Field(
        0,
        ge=0,
        le=3,
        description="ReFT warm-up: supervised epochs on rows with a reference answer.",
        json_schema_extra=_guide(
            "1 helps when the base model rarely gets a reward at all.", group="algorithm"
        ),
    )
    eval_steps: float | None = Field(
        None,
        gt=0,
        le=MAX_ID,
        description="Validate every N steps, or a fraction below 1 of the run's steps "
        "(0.25 = every quarter); also at the start and the end.",
        json_schema_extra=_guide("Lower it to see validation more often.", unset="5 times per run"),
    )
    save_steps: float | None = Field(
        None,
        gt=0,
        le=MAX_ID,
        description="Checkpoint every N steps, or a fraction below 1 of the run's steps "
        "(0.25 = every quarter); also at the end.",
        json_schema_extra=_guide(
            "Lower it to keep more checkpoints to choose from.", unset="5 times per run"
        ),
    )

    @field_validator("eval_steps", "save_steps")
    @classmethod
    def _steps_or_fraction(cls, value: float | None) -> float | None:
        """As transformers reads them: a whole number of steps, or a fraction below 1."""
        if value is None or value < 1:
            return value
        if not value.is_integer():
            raise ValueError(f"must be a whole number of steps or a fraction below 1 (got {value})")
        return int(value)


class RolloutParams(InputModel):
    max_tokens: int | None = Field(
        None,
        ge=16,
        le=16384,
        description="Longest completion, in tokens.",
        json_schema_extra=_guide(
            "Long enough to finish the task (watch the clipped fraction); every token costs.",
            unset=f"min({MAX_TOKENS_CAP}, max_context_length - the longest prompt)",
        ),
    )
    temperature: float = Field(
        0.7,
        ge=0.1,
        le=2.0,
        description="Sampling temperature (never 0).",
        json_schema_extra=_guide(
            "0.5-1.0 for most tasks; never near 0 (no exploration, no learning signal)."
        ),
    )
    top_p: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling mass.",
        json_schema_extra=_guide(
            "Lower it to cut long-tail tokens when the reward punishes hallucination."
        ),
    )
    top_k: int = Field(
        40,
        ge=0,
        le=100,
        description="Top-k sampling (0 = off).",
        json_schema_extra=_guide(
            "Lower it to cut long-tail tokens when the reward punishes hallucination."
        ),
    )
    n: int = Field(
        4,
        ge=2,
        le=8,
        description="Completions per prompt (the GRPO group).",
        json_schema_extra=_guide(
            "4 is the usual balance; 6-8 gives more signal at linear cost; at least 2."
        ),
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra generation settings (a JSON object), passed to generation as is.",
        json_schema_extra=_guide("Only for settings the fields above do not cover."),
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
    id: DbId = Field(description="A saved evaluator of yours.")
    weight: float = Field(1.0, gt=0.0, le=100.0, description="Weight in the summed reward.")
    components: dict[str, Annotated[float, Field(gt=0.0, le=100.0)]] | None = Field(
        None,
        description="For a module with several reward functions: which ones to train on and "
        "the weight of each ({name: weight}); by default all of them, weight 1.",
    )


class JobCreate(InputModel):
    base_model: str = Field(min_length=1, description="A name from GET /api/v1/models.")
    dataset_id: DbId
    validation_dataset_id: DbId | None = None
    evaluators: list[JobEvaluator] = Field(min_length=1, max_length=16)
    training: TrainingParams = Field(default_factory=TrainingParams)
    rollout: RolloutParams = Field(default_factory=RolloutParams)
    name: str | None = Field(None, max_length=200, description="Shown in lists.")


# --- ranges, said in words, from the fields' own constraints ------------------------------


def _number(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _choices(annotation: Any) -> tuple[Any, ...] | None:
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return None


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(get_args(annotation))
    return annotation, False


def range_text(info: FieldInfo) -> str | None:
    """The valid values of a field in words, e.g. "an integer from 1 to 10"."""
    annotation, optional = _without_none(info.annotation)
    choices = _choices(annotation)
    if choices:
        return "one of " + ", ".join(str(c) for c in choices)
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        for key in ("ge", "gt", "le", "lt"):
            if isinstance(item, getattr(at, key.capitalize())):
                bounds[key] = getattr(item, key)
    if not bounds:
        return None
    noun = "an integer" if annotation is int else "a number"
    low, high = bounds.get("ge"), bounds.get("le")
    if low is not None and high is not None:
        text = (
            f"{noun} from {low} to {high}"
            if annotation is int
            else f"between {_number(low)} and {_number(high)}"
        )
    else:
        parts = []
        if low is not None:
            parts.append(f"at least {_number(low)}")
        if "gt" in bounds:
            parts.append(f"greater than {_number(bounds['gt'])}")
        if high is not None:
            parts.append(f"at most {_number(high)}")
        text = f"{noun}, " + " and ".join(parts) if annotation is int else " and ".join(parts)
    return text + (", or unset" if optional else "")


def _field_at(root: type[BaseModel], loc: Iterable[Any]) -> FieldInfo | None:
    model: type[BaseModel] | None = root
    info: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int) or part == "body":
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        inner, _ = _without_none(info.annotation)
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return info


def _describer(root: type[BaseModel]) -> Any:
    def describe(loc: tuple[Any, ...], err: Mapping[str, Any]) -> str | None:
        if err.get("type") in ("missing", "value_error", "json_invalid"):
            return None
        info = _field_at(root, loc)
        words = range_text(info) if info is not None else None
        return f"must be {words} (got {err.get('input')!r})" if words else None

    return describe


def invalid_request(
    errors: Iterable[Mapping[str, Any]], root: type[BaseModel] = JobCreate
) -> InvalidInput:
    """Pydantic's errors on a job request as the 422 users read: each field with its range."""
    named = field_errors(errors, _describer(root))
    groups = {e["field"].split(".")[0] for e in named}
    if groups == {"rollout"}:
        detail = "Invalid rollout parameters"
    elif groups == {"training"}:
        detail = "Invalid training parameters"
    elif groups == {"training", "rollout"}:
        detail = "Invalid training and rollout parameters"
    else:
        detail = "Invalid job request" if root is JobCreate else "Invalid request"
    return InvalidInput(detail, named)


def parse_job_request(payload: Any) -> JobCreate:
    """The validated request, or InvalidInput naming every bad field (forms, files, presets)."""
    try:
        return JobCreate.model_validate(payload)
    except ValidationError as exc:
        raise invalid_request(exc.errors()) from None


# --- the parameter guide, for the CLI's help and the wizard's fields -----------------------


@dataclass(frozen=True)
class ParamSpec:
    path: str  # "training.epochs", as the API and `--set` name it
    name: str
    group: str  # training, rollout or algorithm (DESIGN.md's table)
    default: Any
    unset: str | None  # what an unset value becomes, when it is derived
    valid: str
    description: str
    help: str
    choices: tuple[Any, ...] | None
    kind: str  # int, float, choice or json


def _spec(section: str, name: str, info: FieldInfo) -> ParamSpec:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    annotation, _ = _without_none(info.annotation)
    choices = _choices(annotation)
    kind = "choice" if choices else {int: "int", float: "float"}.get(annotation, "json")
    default = info.get_default(call_default_factory=True)
    return ParamSpec(
        path=f"{section}.{name}",
        name=name,
        group=str(extra.get("group", section)),
        default=default,
        unset=str(extra["unset"]) if "unset" in extra else None,
        valid=range_text(info) or ("a JSON object" if kind == "json" else ""),
        description=info.description or "",
        help=str(extra.get("help", "")),
        choices=choices,
        kind=kind,
    )


def param_specs() -> list[ParamSpec]:
    """Every tunable parameter, in the order of the model's fields."""
    return [
        _spec(section, name, info)
        for section, model in (("training", TrainingParams), ("rollout", RolloutParams))
        for name, info in model.model_fields.items()
    ]


def default_text(spec: ParamSpec) -> str:
    if spec.unset:
        return spec.unset
    return json.dumps(spec.default) if spec.kind == "json" else _number(spec.default)
