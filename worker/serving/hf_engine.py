"""The CPU engine: one transformers model, every adapter of it loaded into one PeftModel.

One thread owns the model. Requests queue up; the thread takes the oldest request's adapter,
gathers every queued request for that same adapter (up to the batch limit) and decodes them
together in one left-padded batch with a KV cache. Each row keeps its own sampling settings
(temperature, top_p, seed, stop, max_tokens), so requests batch whatever they ask for. The base
model is served with the adapters disabled. Adapter loads and unloads run on the same thread,
between batches, so a batch never sees the model change under it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from worker.serving.protocol import GenerationRequest, PromptTooLong, Sampling, StopMatcher

log = logging.getLogger("rft.serving")
T = TypeVar("T")
DEFAULT_MAX_TOKENS = 2048


class _Row:
    """One sequence of a batch: one choice of one request."""

    def __init__(self, request: GenerationRequest, index: int, prompt_room: int) -> None:
        import torch

        self.request = request
        self.index = index
        sampling = request.sampling
        self.max_tokens = min(sampling.max_tokens or DEFAULT_MAX_TOKENS, prompt_room)
        self.stops = StopMatcher(sampling.stop)
        seed = sampling.seed + index if sampling.seed is not None else random.getrandbits(62)
        self.generator = torch.Generator().manual_seed(seed)
        self.ids: list[int] = []
        self.emitted = 0
        self.done = False

    def finish(self, reason: str, text: str) -> None:
        if len(text) > self.emitted:
            self.request.emit({"type": "delta", "index": self.index, "text": text[self.emitted :]})
        self.request.emit(
            {
                "type": "end",
                "index": self.index,
                "finish_reason": reason,
                "completion_tokens": len(self.ids),
            }
        )
        self.done = True


class HfEngine:
    def __init__(self, model_path: Path, max_batch: int = 16) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_path = model_path
        self.max_batch = max_batch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        model: Any = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        self.model: Any = model.to(self.device).eval()
        self.peft: Any = None  # the PeftModel wrapping self.model, once an adapter is loaded
        self.adapters: dict[int, str] = {}  # deployment id -> adapter name in the PeftModel
        config = self.model.config
        self.context_length = int(getattr(config, "max_position_embeddings", None) or 2048)
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        pad = self.tokenizer.pad_token_id
        self.pad_id: int = int(pad if pad is not None else next(iter(self.eos_ids)))
        self._queue: list[GenerationRequest] = []
        self._commands: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"engine-{model_path.name}")
        self._thread.daemon = True
        self._thread.start()

    # Prompts.

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        encoded: Any = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return [int(i) for i in ids]

    def encode_prompt(self, prompt: str) -> list[int]:
        return [int(i) for i in self.tokenizer(prompt)["input_ids"]]

    def check_prompt(self, prompt_ids: list[int]) -> None:
        if len(prompt_ids) >= self.context_length:
            raise PromptTooLong(
                f"the prompt is {len(prompt_ids)} tokens; this model's context is "
                f"{self.context_length} tokens"
            )

    # Work from other threads.

    def submit(self, request: GenerationRequest) -> None:
        self.check_prompt(request.prompt_ids)
        with self._wake:
            self._queue.append(request)
            self._wake.notify()

    def call(self, function: Callable[[], T]) -> T:
        """Runs ``function`` on the engine thread between batches and returns its result."""
        future: Future[T] = Future()
        with self._wake:
            self._commands.append((function, future))
            self._wake.notify()
        return future.result()

    def load_adapter(self, deployment_id: int, folder: Path) -> None:
        self.call(lambda: self._load(deployment_id, folder))

    def unload_adapter(self, deployment_id: int) -> None:
        self.call(lambda: self._unload(deployment_id))

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()

    # The engine thread.

    def _load(self, deployment_id: int, folder: Path) -> None:
        from peft import PeftModel

        if deployment_id in self.adapters:
            return
        name = f"d{deployment_id}"
        if self.peft is None:
            self.peft = PeftModel.from_pretrained(self.model, str(folder), adapter_name=name)
            self.peft.eval()
        else:
            self.peft.load_adapter(str(folder), adapter_name=name)
        self.adapters[deployment_id] = name

    def _unload(self, deployment_id: int) -> None:
        name = self.adapters.pop(deployment_id, None)
        if name is None or self.peft is None:
            return
        if not self.adapters:
            # The last adapter: take the LoRA layers out altogether (the plain base again).
            self.model = self.peft.unload()
            self.peft = None
        else:
            self.peft.delete_adapter(name)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._commands and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                commands, self._commands = self._commands, []
                batch = [] if commands else self._take_batch()
            for function, future in commands:
                try:
                    future.set_result(function())
                except BaseException as exc:  # the caller gets it
                    future.set_exception(exc)
            if batch:
                try:
                    self._generate(batch)
                except Exception as exc:
                    log.exception("generation failed")
                    for request in batch:
                        request.emit({"type": "error", "message": f"{type(exc).__name__}: {exc}"})

    def _take_batch(self) -> list[GenerationRequest]:
        """The oldest request and every queued one for the same adapter, up to the limit.
        Requests whose client left while queued are dropped unrun."""
        self._queue = [request for request in self._queue if not request.cancelled()]
        if not self._queue:
            return []
        adapter = self._queue[0].adapter
        batch: list[GenerationRequest] = []
        rest: list[GenerationRequest] = []
        rows = 0
        for request in self._queue:
            fits = not batch or rows + request.sampling.n <= self.max_batch
            if request.adapter == adapter and fits:
                batch.append(request)
                rows += request.sampling.n
            else:
                rest.append(request)
        self._queue = rest
        return batch

    def _adapter_context(self, adapter: int | None) -> Any:
        if adapter is None:
            return (
                self.peft.disable_adapter() if self.peft is not None else contextlib.nullcontext()
            )
        name = self.adapters.get(adapter)
        if name is None:
            raise RuntimeError(f"adapter of deployment {adapter} is not loaded")
        self.peft.set_adapter(name)
        return contextlib.nullcontext()

    def _generate(self, batch: list[GenerationRequest]) -> None:
        import torch

        rows = [
            _Row(request, index, self.context_length - len(request.prompt_ids))
            for request in batch
            for index in range(request.sampling.n)
        ]
        for request in batch:
            request.emit({"type": "start", "prompt_tokens": len(request.prompt_ids)})
        model = self.peft if self.peft is not None else self.model
        with torch.inference_mode(), self._adapter_context(batch[0].adapter):
            self._decode(model, rows)

    def _decode(self, model: Any, rows: list[_Row]) -> None:
        import torch

        prompts = [row.request.prompt_ids for row in rows]
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        input_ids, mask, positions = (t.to(self.device) for t in (input_ids, mask, positions))
        past = None
        while True:
            out = model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=past,
                use_cache=True,
            )
            past = out.past_key_values
            logits = out.logits[:, -1, :].float().cpu()
            chosen = [self._advance(row, logits[i]) for i, row in enumerate(rows)]
            if all(row.done for row in rows):
                return
            input_ids = torch.tensor(chosen, device=self.device)[:, None]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1

    def _advance(self, row: _Row, logits: Any) -> int:
        """Samples the row's next token, streams what is safe to stream; the token fed next."""
        if row.done:
            return self.pad_id
        if row.request.cancelled():
            row.done = True
            return self.pad_id
        token = _sample(logits, row.request.sampling, row.generator)
        if token in self.eos_ids:
            row.finish("stop", self._text(row))
            return self.pad_id
        row.ids.append(token)
        text = self._text(row)
        cut = row.stops.cut(text)
        if cut is not None:
            row.finish("stop", text[:cut])
        elif len(row.ids) >= row.max_tokens:
            row.finish("length", text)
        else:
            safe = row.stops.safe_length(text)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                safe = min(safe, len(text) - 1)
            if safe > row.emitted:
                row.request.emit(
                    {"type": "delta", "index": row.index, "text": text[row.emitted : safe]}
                )
                row.emitted = safe
        return token

    def _text(self, row: _Row) -> str:
        return str(self.tokenizer.decode(row.ids, skip_special_tokens=True))


def _sample(logits: Any, sampling: Sampling, generator: Any) -> int:
    import torch

    if sampling.temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(probs, descending=True)
        outside = ordered.cumsum(-1) - ordered > sampling.top_p
        ordered[outside] = 0.0
        pick = torch.multinomial(ordered / ordered.sum(), 1, generator=generator)
        return int(order[pick])
    return int(torch.multinomial(probs, 1, generator=generator))
