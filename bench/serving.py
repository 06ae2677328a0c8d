"""Serving throughput and latency: 16 concurrent OpenAI clients on the CPU demo deployment,
against bare `model.generate` on the same prompts in the same run; and mixed traffic over 4
adapters against all traffic on 1 adapter (same total requests).

    .venv/bin/python bench/serving.py [--requests 64] [--clients 16] [--max-tokens 16]

Everything real: a SQLite database in a temp dir, the web app (uvicorn) in this process, one
`rft model-server` subprocess, httpx clients through /v1/chat/completions. Sampling at
temperature 1 with fixed max_tokens and no stop (ignore_eos is not an OpenAI field, so answers
may end early; tokens/s counts what was generated).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
import uvicorn

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.migrate import upgrade
from app.core.paths import ROOT
from app.core.storage import Storage
from app.models import Checkpoint, Deployment, Job
from app.services import api_keys, demo, users
from tests.helpers import free_port

PROMPTS = [f"{a}+{b}=" for a in range(10) for b in range(10)]


def make_adapter(model_dir: Path, folder: Path, seed: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(r=8, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(folder)


def bare_generate(
    model_dir: Path, adapter: Path, prompts: list[str], max_tokens: int
) -> dict[str, float]:
    """The baseline: transformers `generate` on the same adapter, one prompt at a time, same
    sampling; tokens counted as the server counts them (the end-of-sequence token excluded)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    model = PeftModel.from_pretrained(base, str(adapter)).eval()
    tokens, latencies = 0, []
    start = time.perf_counter()
    for prompt in prompts:
        began = time.perf_counter()
        encoded: Any = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True
        )
        ids = torch.tensor([encoded["input_ids"]])
        with torch.inference_mode():
            out = model.generate(ids, max_new_tokens=max_tokens, do_sample=True, temperature=1.0)
        new = out[0, ids.shape[1] :].tolist()
        tokens += len([t for t in new if t != tokenizer.eos_token_id])
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests_per_s": len(prompts) / elapsed,
        "tokens_per_s": tokens / elapsed,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[int(0.95 * (len(latencies) - 1))],
    }


async def traffic(
    web: str, key: str, models: list[str], prompts: list[str], clients: int, max_tokens: int
) -> dict[str, float]:
    latencies: list[float] = []
    tokens = 0
    queue = list(enumerate(prompts))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal tokens
        while queue:
            i, prompt = queue.pop()
            body = {
                "model": models[i % len(models)],
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 1.0,
            }
            began = time.perf_counter()
            response = await http.post("/v1/chat/completions", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - began)
            tokens += response.json()["usage"]["completion_tokens"]

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=web, headers=headers, timeout=600) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests_per_s": len(prompts) / elapsed,
        "tokens_per_s": tokens / elapsed,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[int(0.95 * (len(latencies) - 1))],
        "elapsed_s": elapsed,
        "tokens": tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    from worker.training.demo_model import build_with_status

    models_dir = ROOT / ".cache" / "test-models" / "pretrain-1500"
    model_dir = build_with_status(models_dir, demo.DEMO_MODEL, steps=1500)
    work = Path(tempfile.mkdtemp(prefix="rft-bench-serving-"))
    port = free_port()
    settings = Settings(_env_file=None, data_dir=work, models_dir=models_dir, port=port)  # type: ignore[call-arg]
    upgrade(settings.database)
    factory = make_session_factory(make_engine(settings.database))
    storage = Storage.from_settings(settings)
    with transaction(factory) as session:
        user = users.get_or_create(session, "bench")
        _row, key = api_keys.create(session, user, "bench")
        job = Job(owner_id=user.id, name="bench", base_model=demo.DEMO_MODEL, spec={})
        session.add(job)
        session.flush()
        job_id = job.id
        names = []
        for n in range(4):
            path = f"jobs/{job.id}/checkpoint-{n + 1}"
            make_adapter(model_dir, Path(storage.path(path)), seed=n)
            checkpoint = Checkpoint(job_id=job.id, step=n + 1, path=path)
            session.add(checkpoint)
            session.flush()
            name = f"adapter-{n}"
            session.add(
                Deployment(
                    owner_id=user.id,
                    name=name,
                    base_model=demo.DEMO_MODEL,
                    checkpoint_id=checkpoint.id,
                    adapter_path=path,
                )
            )
            names.append(name)

    from app.main import create_app

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RFT_")}
    env |= {"RFT_DATA_DIR": str(work), "RFT_MODELS_DIR": str(models_dir), "PYTHONPATH": str(ROOT)}
    model_server = subprocess.Popen([sys.executable, "-m", "app.cli", "model-server"], env=env)
    try:
        while True:
            with factory() as session:
                states = [d.state for d in session.query(Deployment)]
            if all(s == "ready" for s in states):
                break
            if "failed" in states:
                raise SystemExit(f"a deployment failed: {states}")
            time.sleep(0.5)
        web = f"http://127.0.0.1:{port}"
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.requests)]
        asyncio.run(traffic(web, key, names[:1], prompts[:8], 4, args.max_tokens))  # warm-up
        one = asyncio.run(traffic(web, key, names[:1], prompts, args.clients, args.max_tokens))
        four = asyncio.run(traffic(web, key, names, prompts, args.clients, args.max_tokens))
        adapter = Path(storage.path(f"jobs/{job_id}/checkpoint-1"))
        bare = bare_generate(model_dir, adapter, prompts, args.max_tokens)
    finally:
        model_server.terminate()
        model_server.wait(timeout=30)
        server.should_exit = True
    print(f"{args.requests} requests, {args.clients} clients, max_tokens {args.max_tokens}")
    for label, run in (
        ("bare generate, serial", bare),
        ("served, 1 adapter", one),
        ("served, 4 adapters mixed", four),
    ):
        print(
            f"{label}: {run['requests_per_s']:.1f} req/s, {run['tokens_per_s']:.0f} tok/s, "
            f"p50 {run['p50_s'] * 1000:.0f} ms, p95 {run['p95_s'] * 1000:.0f} ms"
        )
    ratios = (("served(1 adapter)/bare", one, bare), ("4 adapters/1 adapter", four, one))
    for label, top, bottom in ratios:
        requests = top["requests_per_s"] / bottom["requests_per_s"]
        tokens = top["tokens_per_s"] / bottom["tokens_per_s"]
        print(f"ratio {label}: {requests:.2f} req/s, {tokens:.2f} tok/s")


if __name__ == "__main__":
    main()
