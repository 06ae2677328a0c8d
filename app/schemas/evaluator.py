from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.evaluators import EvaluatorCodeError, Template, check_code
from app.evaluators.requirements import MAX_REQUIREMENT_CHARS, MAX_REQUIREMENTS
from app.models import Evaluator, EvaluatorVersion
from app.schemas.common import MAX_ID, DbId, InputModel, OutputModel

PREVIEW_MAX_ROWS = 1000

Code = str | dict[str, Any]
CODE_DESCRIPTION = (
    "Python source with one entry point (evaluate, reward_fn, reward, grade, compute_score), "
    "or an OpenAI grader spec (a JSON object, or its JSON text)."
)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NAME_DESCRIPTION = "Unique among your evaluators."


def _note() -> Any:
    return Field(default="", max_length=500, description="What this version changes.")


REQUIREMENTS_DESCRIPTION = (
    "Extra packages the code imports (PEP 508: name, extras, version specifiers; no URLs, "
    f"paths or pip options; at most {MAX_REQUIREMENTS}). Merged with a REQUIREMENTS = [...] "
    "list in the code. Installed outside the sandbox into a cached environment, constrained "
    "by the server's requirements.lock (a requirement conflicting with it is refused)."
)


def _requirements(update: bool = False) -> Any:
    extra = " Omitted: the latest version's; [] clears them." if update else ""
    return Field(
        default=None,
        max_length=MAX_REQUIREMENTS,
        description=REQUIREMENTS_DESCRIPTION + extra,
    )


Requirements = list[Annotated[str, StringConstraints(max_length=MAX_REQUIREMENT_CHARS)]] | None


class EnvironmentStatus(BaseModel):
    name: str = Field(description="The environment's hash (its folder under evaluator-envs).")
    status: str = Field(description='"ready", "failed" (see log) or "not built".')
    log: str = Field(description="pip's output when it was built (64 KiB at most).")
    packages: list[str] = Field(description="What it holds, as name==version.")

    @classmethod
    def of(cls, env: Any) -> EnvironmentStatus | None:
        return None if env is None else cls(**vars(env))


class EvaluatorCreate(InputModel):
    name: Name = Field(description=NAME_DESCRIPTION)
    code: Code = Field(description=CODE_DESCRIPTION)
    note: str = _note()
    requirements: Requirements = _requirements()


class EvaluatorUpdate(InputModel):
    name: Name | None = Field(default=None, description=NAME_DESCRIPTION)
    code: Code | None = Field(
        default=None, description="New code: saved as a new version when it differs."
    )
    note: str = _note()
    requirements: Requirements = _requirements(update=True)


class EvaluatorVersionPublic(OutputModel):
    version: int
    code: str
    note: str
    requirements: list[str]
    created_at: datetime


class EvaluatorPublic(BaseModel):
    id: int
    name: str
    latest_version: int
    code: str = Field(description="The latest version's code.")
    note: str = Field(description="The latest version's note.")
    kind: str | None = Field(
        description="Entry point convention found in the code (evaluate, reward_fn, batch, "
        "grade, compute_score, grader_spec); null when the code no longer passes the check."
    )
    entry_point: str | None = Field(description="Name of the entry point function or grader.")
    needs_network: bool
    requirements: list[str] = Field(description="The latest version's declared packages.")
    environment: EnvironmentStatus | None = Field(
        default=None,
        description="Their installed environment with pip's log (null without requirements, "
        "and in lists).",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Evaluator, env: Any = None) -> EvaluatorPublic:
        latest: EvaluatorVersion = row.latest
        try:
            entry = check_code(latest.code)
            kind, name, network = entry.kind, entry.name, entry.needs_network
        except EvaluatorCodeError:
            kind, name, network = None, None, False
        return cls(
            id=row.id,
            name=row.name,
            latest_version=row.latest_version,
            code=latest.code,
            note=latest.note,
            kind=kind,
            entry_point=name,
            needs_network=network,
            requirements=list(latest.requirements or []),
            environment=EnvironmentStatus.of(env),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class EnvironmentPackage(BaseModel):
    name: str = Field(description="Distribution name (as pip knows it).")
    import_name: str = Field(description="What evaluator code imports.")
    version: str | None = Field(description="Installed version; null when missing here.")
    purpose: str


class TemplatePublic(BaseModel):
    slug: str
    name: str
    description: str
    code: str
    kind: str
    needs_network: bool

    @classmethod
    def of(cls, template: Template) -> TemplatePublic:
        return cls.model_validate(template.to_dict())


SAMPLE_MAX_N = 8
COMPLETION_MAX_CHARS = 100_000


class SampleSpec(InputModel):
    """Where completions come from for rows that have none: a base model or a checkpoint."""

    model: str | None = Field(
        default=None, max_length=200, description="A base model (GET /api/v1/models)."
    )
    checkpoint_id: DbId | None = Field(default=None, description="One of your checkpoints.")
    n: int = Field(default=1, ge=1, le=SAMPLE_MAX_N, description="Completions per row.")
    temperature: float = Field(default=1.0, ge=0.1, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(default=256, ge=1, le=16384, description="Longest completion.")
    all_rows: bool = Field(
        default=False,
        description="Sample for every row, also those with a reference answer (dropped from "
        "the prompt, as training does). Default: only rows without a completion.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SampleSpec:
        if (self.model is None) == (self.checkpoint_id is None):
            raise ValueError("give exactly one of model and checkpoint_id")
        return self


class PreviewRequest(InputModel):
    code: Code = Field(description=CODE_DESCRIPTION)
    requirements: Requirements = _requirements()
    dataset_id: DbId = Field(description="One of your datasets; its rows are scored.")
    rows: list[Annotated[int, Field(ge=0, le=MAX_ID)]] | None = Field(
        default=None,
        min_length=1,
        max_length=PREVIEW_MAX_ROWS,
        description="Row indices (from 0) to score, in this order. Default: the first `limit`.",
    )
    limit: int = Field(
        default=20,
        ge=1,
        le=PREVIEW_MAX_ROWS,
        description="How many rows from the start, when `rows` is not given.",
    )
    sample: SampleSpec | None = Field(
        default=None,
        description="Generate completions (by a worker) for rows without one; each is scored.",
    )
    completions: (
        dict[
            Annotated[int, Field(ge=0, le=MAX_ID)],
            Annotated[str, Field(max_length=COMPLETION_MAX_CHARS)],
        ]
        | None
    ) = Field(
        default=None,
        max_length=PREVIEW_MAX_ROWS,
        description="Completions typed by hand, by row index: scored instead of the row's own.",
    )


class MetricPublic(BaseModel):
    score: float | None
    reason: str | None


class PreviewResult(BaseModel):
    row_index: int = Field(description="Position of the row in the dataset, from 0.")
    score: float | None
    reason: str | None
    is_score_valid: bool = Field(description="False: training would skip this sample.")
    metrics: dict[str, MetricPublic]
    stdout: str = Field(description="What the evaluator printed for this row (64 KiB at most).")
    error: str | None = Field(description="Traceback of an exception, with the user's lines.")
    error_line: int | None = Field(description="Line of the evaluator code that raised.")
    duration_ms: float
    completion: str | None = Field(
        default=None, description="The completion scored, when sampled or typed by hand."
    )
    sample_index: int | None = Field(
        default=None, description="Which of the row's sampled completions (from 0)."
    )
    source: Literal["dataset", "typed", "sampled"] = Field(
        default="dataset", description="Where the completion came from."
    )


class HistogramBin(BaseModel):
    start: float
    end: float
    count: int


class PreviewSummary(BaseModel):
    count: int
    mean_score: float | None = Field(description="Mean of the valid scores; null when none.")
    valid: int
    invalid: int
    histogram: list[HistogramBin] = Field(
        description="Valid scores in 10 equal bins over 0-1, or over the scores' own min-max "
        "when any falls outside 0-1 (conventions whose rewards are any float)."
    )
    duration_ms: float = Field(description="Wall-clock time of the whole preview.")


class PreviewResponse(BaseModel):
    results: list[PreviewResult]
    summary: PreviewSummary
    isolation: str = Field(
        description='"bubblewrap", or "rlimits-only" where bubblewrap is missing (reduced).'
    )
