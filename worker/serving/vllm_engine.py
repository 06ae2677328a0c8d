"""The GPU engine: vLLM with LoRA enabled; adapters are loaded at run time by vLLM itself
(each request names its ``LoRARequest``; vLLM loads, caches and evicts adapters, and batches
continuously across them). Chosen when vLLM imports and CUDA is present."""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path
from typing import Any

from worker.serving.protocol import GenerationRequest, PromptTooLong

MAX_LORA_RANK = 128  # the largest rank the job spec allows


def available() -> bool:
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class VllmEngine:
    def __init__(self, model_path: Path, max_batch: int = 16) -> None:
        from transformers import AutoTokenizer
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        self.model_path = model_path
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.adapters: dict[int, Any] = {}  # deployment id -> LoRARequest
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="vllm-loop", daemon=True).start()
        args = AsyncEngineArgs(
            model=str(model_path),
            enable_lora=True,
            max_loras=max(1, max_batch // 2),
            max_lora_rank=MAX_LORA_RANK,
        )
        self.engine = AsyncLLMEngine.from_engine_args(args)
        self.context_length = int(self.engine.engine.model_config.max_model_len)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        return list(
            self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=False
            )
        )

    def encode_prompt(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    def check_prompt(self, prompt_ids: list[int]) -> None:
        if len(prompt_ids) >= self.context_length:
            raise PromptTooLong(
                f"the prompt is {len(prompt_ids)} tokens; this model's context is "
                f"{self.context_length} tokens"
            )

    def load_adapter(self, deployment_id: int, folder: Path) -> None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest(f"d{deployment_id}", deployment_id, str(folder))
        future = asyncio.run_coroutine_threadsafe(self.engine.add_lora(lora), self._loop)
        future.result()
        self.adapters[deployment_id] = lora

    def unload_adapter(self, deployment_id: int) -> None:
        lora = self.adapters.pop(deployment_id, None)
        if lora is not None:
            remove = self.engine.remove_lora(lora.lora_int_id)
            asyncio.run_coroutine_threadsafe(remove, self._loop).result()

    def submit(self, request: GenerationRequest) -> None:
        self.check_prompt(request.prompt_ids)
        asyncio.run_coroutine_threadsafe(self._run(request), self._loop)

    async def _run(self, request: GenerationRequest) -> None:
        from vllm import SamplingParams, TokensPrompt

        s = request.sampling
        params = SamplingParams(
            n=s.n,
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens or self.context_length - len(request.prompt_ids),
            stop=s.stop or None,
            seed=s.seed,
        )
        lora = self.adapters.get(request.adapter) if request.adapter is not None else None
        request.emit({"type": "start", "prompt_tokens": len(request.prompt_ids)})
        sent: dict[int, int] = {}
        try:
            stream = self.engine.generate(
                TokensPrompt(prompt_token_ids=request.prompt_ids),
                params,
                request_id=f"r{next(self._ids)}",
                lora_request=lora,
            )
            async for output in stream:
                for choice in output.outputs:
                    start = sent.get(choice.index, 0)
                    if len(choice.text) > start:
                        delta = choice.text[start:]
                        request.emit({"type": "delta", "index": choice.index, "text": delta})
                        sent[choice.index] = len(choice.text)
                    if choice.finish_reason is not None and sent.get(-1 - choice.index) is None:
                        sent[-1 - choice.index] = 1
                        request.emit(
                            {
                                "type": "end",
                                "index": choice.index,
                                "finish_reason": "length"
                                if choice.finish_reason == "length"
                                else "stop",
                                "completion_tokens": len(choice.token_ids),
                            }
                        )
        except Exception as exc:
            request.emit({"type": "error", "message": f"{type(exc).__name__}: {exc}"})

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
