"""All settings, read from the environment (prefix ``RFT_``) or a ``.env`` file.

The defaults give the embedded, zero-setup mode: SQLite and Celery's ``filesystem://`` broker
under ``RFT_DATA_DIR``, storage in a local folder, one worker started by ``rft serve``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BROKER_SCHEMES = ("filesystem", "redis", "rediss", "amqp", "pyamqp")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path(".rft"),
        description="Folder for the embedded database, broker, results, storage and models.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: a SQLite file rft.db under the data dir.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker URL, e.g. redis://127.0.0.1:6379/0. "
        "Default: Celery's filesystem:// transport under the data dir (embedded mode).",
    )
    result_backend: str | None = Field(
        default=None,
        description="Celery result backend. Default: the broker's Redis, or a folder under the "
        "data dir for the filesystem broker.",
    )
    storage_url: str | None = Field(
        default=None,
        description="fsspec URL where datasets, checkpoints and adapters live (a local folder or "
        "s3://bucket/prefix for several hosts). Default: storage/ under the data dir.",
    )
    worker_memory_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Memory (bytes) of the machine that trains, to say on the Models page which "
        "models fit it. Default: this host's RAM (right for `rft serve`'s embedded worker); set "
        "it when workers run on other machines.",
    )
    models_dir: Path | None = Field(
        default=None,
        description="Folder of local base models in Hugging Face format. Default: models/ under "
        "the data dir.",
    )
    host: str = Field(default="127.0.0.1", description="Address `rft serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `rft serve` listens on.")
    public_url: str | None = Field(
        default=None,
        description="Base URL users reach the server at, for printed login links. "
        "Default: http://HOST:PORT.",
    )
    embedded_worker: bool | None = Field(
        default=None,
        description="Start one worker subprocess with `rft serve`. Default: on in embedded "
        "mode (filesystem broker), off when a broker URL is set.",
    )
    worker_queues: str = Field(
        default="gpu,cpu", description="Queues the embedded worker consumes, comma-separated."
    )
    admin_user: str = Field(
        default="admin", description="Name of the user made on first start and used by default."
    )
    session_days: int = Field(
        default=30, ge=1, le=365, description="Lifetime of a browser session, in days."
    )
    login_token_minutes: int = Field(
        default=24 * 60,
        ge=1,
        description="How long the one-time login URL printed by `rft serve` stays valid.",
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Largest dataset upload accepted, in bytes."
    )

    seed_demo: bool = Field(
        default=True,
        description="On start, give the admin the demo (dataset, evaluator, job preset) and have "
        "a worker build the demo model if it is missing.",
    )
    job_stale_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A running job whose heartbeat is older than this has lost its worker: "
        "it is resumed from its last checkpoint by the next worker.",
    )
    job_stall_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A job whose step counter does not move for this long (a hung generation "
        "or reward) is failed with that cause.",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Worker losses a job survives before it is failed."
    )
    job_ring_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A queued job's task is sent again after this long (the filesystem "
        "broker can lose one).",
    )
    report_to: str = Field(
        default="",
        description="Also export training metrics to these trackers, comma-separated: wandb, "
        "mlflow, tensorboard (each must be installed and configured; never required).",
    )
    evaluator_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Wall-clock limit for one evaluator call on one row."
    )
    evaluator_pip_args: str = Field(
        default="",
        description="Extra pip arguments for installing evaluators' declared requirements "
        "(split like a shell command line), e.g. '--index-url https://pypi.example/simple' for "
        "a mirror, or '--no-index --find-links /srv/wheels' offline. Requirements install "
        "outside the sandbox into <data_dir>/evaluator-envs, constrained by requirements.lock.",
    )
    evaluator_pip_timeout_seconds: float = Field(
        default=600.0, gt=0, description="Time limit for installing one set of requirements."
    )
    evaluator_memory_bytes: int = Field(
        default=1 << 30, ge=64 << 20, description="Address-space limit of each evaluator process."
    )
    unsafe_no_sandbox: bool = Field(
        default=False,
        description="Run evaluator code even where bubblewrap cannot sandbox it (rlimits, "
        "seccomp and a uid of its own only: the code can read the host file system). Off: "
        "without bubblewrap, evaluators do not run.",
    )
    evaluator_preview_workers_per_user: int | None = Field(
        default=None,
        ge=1,
        description="At most this many of the preview pool's workers serve one user at a time "
        "(others' previews are never starved). Default: half the pool, at least 1.",
    )
    api_keys_per_user: int = Field(
        default=50, ge=1, description="API keys one user may hold at once."
    )
    evaluator_preview_workers: int | None = Field(
        default=None,
        ge=1,
        description="Sandboxed evaluator processes of the web app's pool (IDE previews), "
        "started on the first preview. Default: the CPU count.",
    )
    openai_models: dict[str, str] = Field(
        default_factory=dict,
        description="OpenAI model names that scripts send to POST /v1/fine_tuning/jobs, mapped to "
        "local base models (folders under RFT_MODELS_DIR), as JSON, e.g. "
        '{"o4-mini-2025-04-16": "Qwen3-4B"}. A local model\'s own name is always accepted; '
        "any other name is refused, naming the models that exist here.",
    )

    embedded_model_server: bool | None = Field(
        default=None,
        description="Start one model server subprocess with `rft serve` (it loads nothing until "
        "something is deployed). Default: on in embedded mode, off when a broker URL is set.",
    )
    model_server_host: str = Field(
        default="127.0.0.1", description="Address `rft model-server` listens on (internal API)."
    )
    model_server_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port `rft model-server` listens on; 0 picks a free one. The server writes "
        "its address into the deployments it serves, so the web app finds it.",
    )
    model_server_url: str | None = Field(
        default=None,
        description="Address the web app reaches this model server at, when it differs from "
        "http://MODEL_SERVER_HOST:PORT (containers, several hosts).",
    )
    deployment_idle_seconds: float = Field(
        default=900.0,
        ge=0,
        description="An adapter unused for this long is unloaded from memory (scale to zero) "
        "and loaded again by its next request; 0 keeps every adapter loaded.",
    )
    model_server_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a model server reads the deployments table for work.",
    )
    model_server_max_batch: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Most sequences a CPU model server decodes in one batch (per adapter).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database URL {value!r}: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DB"
            )
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in BROKER_SCHEMES:
            raise ValueError(
                f"unsupported broker URL {value!r}: use redis://HOST:PORT/DB or leave it unset "
                "for the embedded filesystem broker"
            )
        if parts.scheme.startswith("redis") and not parts.hostname:
            raise ValueError(f"broker URL {value!r} names no host: use redis://HOST:PORT/DB")
        return value

    # Derived values: resolved once, absolute, so a worker subprocess sees the same folders.

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @cached_property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'rft.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.database.startswith("sqlite")

    @property
    def broker_is_filesystem(self) -> bool:
        return self.broker_url is None or self.broker_url.startswith("filesystem")

    @cached_property
    def broker(self) -> str:
        return self.broker_url or "filesystem://"

    @cached_property
    def broker_folder(self) -> Path:
        return self.data_path / "broker"

    @cached_property
    def results(self) -> str:
        if self.result_backend:
            return self.result_backend
        if self.broker_is_filesystem:
            return f"file://{self.data_path / 'results'}"
        return self.broker

    @cached_property
    def storage(self) -> str:
        return self.storage_url or str(self.data_path / "storage")

    @cached_property
    def models_path(self) -> Path:
        return (self.models_dir or self.data_path / "models").expanduser().resolve()

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is None:
            return self.broker_is_filesystem
        return self.embedded_worker

    @property
    def runs_embedded_model_server(self) -> bool:
        if self.embedded_model_server is None:
            return self.broker_is_filesystem
        return self.embedded_model_server

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
