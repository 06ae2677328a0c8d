"""Execute user source as a module (inside the worker only)."""

from __future__ import annotations

import sys
import types

from .capture import USER_FILENAME, register_source


def exec_module(source: str, key: str, label: str = "") -> types.ModuleType:
    """Compile and run `source` as a fresh module registered in sys.modules.

    Registered because dataclasses, pickle and typing look a class's module up there. The
    filename starts with <evaluator> so tracebacks keep exactly the user's frames.
    """
    filename = f"{USER_FILENAME[:-1]}{':' + label if label else ''}>"
    register_source(filename, source)
    name = f"evaluator_{key[:16]}{'_' + label if label else ''}"
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def forget_module(module: types.ModuleType) -> None:
    sys.modules.pop(module.__name__, None)
