"""Base models available to fine-tune: Hugging Face folders under RFT_MODELS_DIR.

Read from each folder's config.json only: the web process never imports torch or transformers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.core.config import Settings
from app.core.errors import InvalidInput


@dataclass(frozen=True)
class BaseModel:
    name: str
    path: Path
    architecture: str
    max_context_length: int
    parameters: int | None


def _estimate_parameters(config: dict[str, object]) -> int | None:
    try:
        hidden = int(config["hidden_size"])  # type: ignore[call-overload]
        layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
        vocab = int(config["vocab_size"])  # type: ignore[call-overload]
        inner = int(config.get("intermediate_size", 4 * hidden))  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        return None
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return int(embeddings + layers * (4 * hidden * hidden + 3 * hidden * inner))


def _read(folder: Path) -> BaseModel | None:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer_config.json").exists():
        return None
    architectures = config.get("architectures") or [config.get("model_type", "unknown")]
    return BaseModel(
        name=folder.name,
        path=folder,
        architecture=str(architectures[0]),
        max_context_length=int(config.get("max_position_embeddings") or 2048),
        parameters=_estimate_parameters(config),
    )


def list_models(settings: Settings) -> list[BaseModel]:
    root = settings.models_path
    if not root.is_dir():
        return []
    found = (_read(folder) for folder in sorted(root.iterdir()) if folder.is_dir())
    return [model for model in found if model is not None]


def get_model(settings: Settings, name: str) -> BaseModel:
    for model in list_models(settings):
        if model.name == name:
            return model
    names = ", ".join(m.name for m in list_models(settings)) or "none yet: run `rft demo`"
    raise InvalidInput(
        "Invalid job request",
        [{"field": "base_model", "message": f"unknown model {name!r} (available: {names})"}],
    )
