from __future__ import annotations

from pydantic import BaseModel


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str
    database: ComponentHealth
    broker: ComponentHealth


class WorkerPong(BaseModel):
    queue: str
    worker: str
    round_trip_ms: float
