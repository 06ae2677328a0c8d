"""Merged export: the base model with a LoRA adapter folded into its weights
(``merge_and_unload``), saved as safetensors with the tokenizer, loadable with plain
``AutoModelForCausalLM.from_pretrained``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from app.core.config import Settings
from app.core.storage import Storage
from app.services import base_models


def merge_checkpoint(settings: Settings, base_model: str, adapter_key: str, out_key: str) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    storage = Storage.from_settings(settings)
    base = base_models.get_model(settings, base_model)
    with tempfile.TemporaryDirectory(dir=settings.data_path) as work:
        adapter = Path(work) / "adapter"
        if storage.is_local:
            adapter = Path(storage.path(adapter_key))
        else:
            storage.fs.get(storage.path(adapter_key), str(adapter), recursive=True)
        model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        out = Path(work) / "merged"
        merged.save_pretrained(out, safe_serialization=True)
        AutoTokenizer.from_pretrained(base.path).save_pretrained(out)
        # Into storage under a temporary name, then renamed: a reader never sees half of it.
        staged = f"{out_key}.partial-merge"
        storage.delete_dir(staged)
        storage.fs.put(str(out), storage.path(staged), recursive=True)
        storage.delete_dir(out_key)
        storage.fs.mv(storage.path(staged), storage.path(out_key), recursive=True)
    shutil.rmtree(Path(work), ignore_errors=True)
