from __future__ import annotations

from pydantic import BaseModel


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str
    database: ComponentHealth
    broker: ComponentHealth
    # How evaluator code is contained: "bubblewrap"; "rlimits-only" (RFT_UNSAFE_NO_SANDBOX:
    # no sandbox, the code can read the host file system); "disabled" (evaluators do not run).
    isolation: str


class WorkerPong(BaseModel):
    queue: str
    worker: str
    round_trip_ms: float
