"""One value per query parameter that takes one: FastAPI keeps the last of `?purpose=a&purpose=b`
silently; here it is refused naming the parameter (422 on /api/v1, OpenAI's 400 on /v1)."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant

from app.core.errors import InvalidInput

_SEQUENCES = (list, set, tuple, frozenset)
_single_by_route: dict[int, frozenset[str]] = {}


async def single_query_values(request: Request) -> None:
    """An app-wide dependency: refuses a single-valued query parameter given more than once."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not request.query_params:
        return
    single = _single_by_route.get(id(dependant))
    if single is None:
        single = _single_by_route[id(dependant)] = frozenset(_single_valued(dependant))
    repeated = sorted(name for name in single if len(request.query_params.getlist(name)) > 1)
    if repeated:
        message = "given more than once: send one value"
        raise InvalidInput("Invalid request", [{"field": n, "message": message} for n in repeated])


def _single_valued(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params if not _takes_many(p.field_info.annotation)}
    for sub in dependant.dependencies:
        names |= _single_valued(sub)
    return names


def _takes_many(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        return True
    if origin in (Union, types.UnionType):
        return any(_takes_many(arg) for arg in get_args(annotation))
    return False
