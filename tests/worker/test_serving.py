"""Serving for real: `rft model-server` as its own process, the web app in front of it, and
the official `openai` client talking to both. Two adapters of one base and the base itself
are served by ONE model-server process, each with its own weights (checked against plain
transformers + PEFT generation in this process)."""

from __future__ import annotations

import io
import os
import signal
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli.main import cli
from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.models import Checkpoint, Deployment, Job
from app.services import demo
from tests.conftest import Account
from tests.helpers import free_port, run_rft, start_rft, wait_for

PROMPTS = ["3+4=", "8+1=", "5+5=", "2+7="]
GREEDY = {"temperature": 0, "max_tokens": 8}


def make_adapter(model_dir: Path, folder: Path, seed: int) -> None:
    """A LoRA adapter with random (non-zero) weights: it answers unlike the base and unlike
    an adapter of another seed, which is all these tests need to tell weights apart."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(r=8, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(folder)


@pytest.fixture
def checkpoints(
    train_settings: Settings, session_factory: sessionmaker[Session], alice: Account
) -> list[int]:
    """Two checkpoints of one job, their adapters in storage where training puts them."""
    storage = Storage.from_settings(train_settings)
    model_dir = train_settings.models_path / demo.DEMO_MODEL
    ids = []
    with transaction(session_factory) as session:
        job = Job(owner_id=alice.user.id, name="j", base_model=demo.DEMO_MODEL, spec={})
        session.add(job)
        session.flush()
        for step, seed in ((10, 1), (20, 2)):
            key = f"jobs/{job.id}/checkpoint-{step}"
            make_adapter(model_dir, Path(storage.path(key)), seed)
            checkpoint = Checkpoint(job_id=job.id, step=step, path=key)
            session.add(checkpoint)
            session.flush()
            ids.append(checkpoint.id)
    return ids


@pytest.fixture
def web(train_settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[str]:
    from app.main import create_app

    port = free_port()
    app = create_app(train_settings.model_copy(update={"port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the web app")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture
def model_server(train_env: dict[str, str]) -> Iterator[Callable[..., Any]]:
    started = []

    def start(**env: str) -> Any:
        process = start_rft(["model-server"], {**train_env, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def deploy(web: str, account: Account, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{web}/api/v1/deployments", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def wait_ready(factory: sessionmaker[Session], ids: list[int], since: str | None = None) -> None:
    def ready() -> bool:
        with factory() as session:
            rows = [session.get(Deployment, i) for i in ids]
            for row in rows:
                assert row is not None
                assert row.state != "failed", row.cause
            return all(r is not None and r.state == "ready" and r.server_url != since for r in rows)

    wait_for(ready, 300, f"deployments {ids} to be ready")


def direct_greedy(model_dir: Path, adapter: Path | None, prompt: str) -> str:
    """What plain transformers (+ PEFT) answers, greedy: the reference for served weights."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    encoded: Any = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True
    )
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=GREEDY["max_tokens"], do_sample=False
        )
    return str(tokenizer.decode(out[0][len(ids) :], skip_special_tokens=True))


def chat(api: openai.OpenAI, model: str, prompt: str, **options: Any) -> Any:
    messages: Any = [{"role": "user", "content": prompt}]
    return api.chat.completions.create(model=model, messages=messages, **{**GREEDY, **options})


def test_two_adapters_and_the_base_served_by_one_process_through_openai(
    web: str,
    model_server: Callable[..., Any],
    checkpoints: list[int],
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    train_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = model_server()
    first = deploy(web, alice, checkpoint_id=checkpoints[0])
    second = deploy(web, alice, checkpoint_id=checkpoints[1])
    base = deploy(web, alice, base_model=demo.DEMO_MODEL)
    wait_ready(session_factory, [first["id"], second["id"], base["id"]])
    with session_factory() as session:
        urls = {session.get(Deployment, d["id"]).server_url for d in (first, second, base)}  # type: ignore[union-attr]
    assert len(urls) == 1, urls  # one model server holds all three
    health = httpx.get(f"{urls.pop()}/health").json()
    assert set(health["deployments"]) == {str(first["id"]), str(second["id"]), str(base["id"])}
    assert server.poll() is None

    api = openai.OpenAI(base_url=web + "/v1", api_key=alice.key, max_retries=0)
    listed = {m.id: m for m in api.models.list()}
    assert set(listed) == {first["name"], second["name"], base["name"]}

    # Each deployment answers with its own weights: exactly what transformers + PEFT answer.
    storage = Storage.from_settings(train_settings)
    model_dir = train_settings.models_path / demo.DEMO_MODEL
    served: dict[str, list[str]] = {}
    for made in (first, second, base):
        adapter = Path(storage.path(made["adapter_path"])) if made["adapter_path"] else None
        served[made["name"]] = []
        for prompt in PROMPTS:
            answer = chat(api, made["name"], prompt)
            text = answer.choices[0].message.content
            assert text == direct_greedy(model_dir, adapter, prompt), (made["name"], prompt)
            served[made["name"]].append(text)
    assert served[first["name"]] != served[second["name"]]
    assert served[first["name"]] != served[base["name"]]

    # A completion with usage and a finish reason.
    answer = chat(api, second["name"], PROMPTS[0])
    assert answer.object == "chat.completion" and answer.model == second["name"]
    assert answer.choices[0].finish_reason in ("stop", "length")
    usage = answer.usage
    assert usage is not None and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    # Streamed: the same greedy text, chunk by chunk, usage last.
    stream = chat(
        api, second["name"], PROMPTS[0], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == served[second["name"]][0]
    # A character-level tokenizer: one chunk per generated token.
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == len(streamed)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

    # n=2 sampled with a seed: two choices, and the same seed gives the same two again.
    sampled = chat(api, first["name"], PROMPTS[1], n=2, temperature=1.0, seed=7)
    assert [c.index for c in sampled.choices] == [0, 1]
    again = chat(api, first["name"], PROMPTS[1], n=2, temperature=1.0, seed=7)
    assert [c.message.content for c in again.choices] == [
        c.message.content for c in sampled.choices
    ]

    # stop: the answer ends where the stop string would begin.
    name, prompt, text = max(
        ((n, PROMPTS[i], t) for n, texts in served.items() for i, t in enumerate(texts)),
        key=lambda item: len(item[2]),
    )
    stop = text[len(text) // 2 :][:2]
    assert stop
    stopped = chat(api, name, prompt, stop=[stop])
    assert stopped.choices[0].message.content == text[: text.find(stop)]
    assert stopped.choices[0].finish_reason == "stop"

    # The prompt-only endpoint, on the same weights.
    completion = api.completions.create(
        model=first["name"], prompt="3+4=", max_tokens=5, temperature=0
    )
    assert completion.object == "text_completion" and completion.choices[0].text is not None
    parts = list(
        api.completions.create(
            model=first["name"],
            prompt="3+4=",
            max_tokens=5,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in parts if c.choices) == completion.choices[0].text
    assert parts[-1].usage is not None and parts[-1].usage.completion_tokens > 0

    # Export: the adapter as a PEFT folder, and merged weights that plain transformers loads
    # and that answer exactly as the deployment does (through `rft export --merged`).
    archive = httpx.get(f"{web}/api/v1/checkpoints/{checkpoints[0]}/adapter", headers=alice.headers)
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        names = {Path(n).name for n in tar.getnames()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= names
    out = tmp_path / "merged"
    env = {**train_env, "RFT_API_URL": web, "RFT_API_KEY": alice.key}
    done = run_rft(["export", str(checkpoints[0]), "--merged", "--out", str(out)], env, timeout=600)
    assert done.returncode == 0, done.stderr
    folder = next(out.iterdir())
    assert (folder / "model.safetensors").exists()
    assert direct_greedy(folder, None, PROMPTS[0]) == served[first["name"]][0]

    # Counted per deployment; a stopped deployment leaves the server and the model list.
    counted = httpx.get(f"{web}/api/v1/deployments/{second['id']}", headers=alice.headers).json()
    assert counted["requests_served"] == len(PROMPTS) + 2 + (name == second["name"])
    httpx.delete(f"{web}/api/v1/deployments/{second['id']}", headers=alice.headers)
    with pytest.raises(openai.NotFoundError):
        chat(api, second["name"], PROMPTS[0])
    wait_for(
        lambda: str(second["id"]) not in httpx.get(f"{health['url']}/health").json()["deployments"],
        30,
        "the model server to let the stopped deployment go",
    )


def test_ready_deployments_survive_a_restart_and_idle_adapters_reload(
    web: str,
    model_server: Callable[..., Any],
    checkpoints: list[int],
    session_factory: sessionmaker[Session],
    alice: Account,
) -> None:
    server = model_server(RFT_DEPLOYMENT_IDLE_SECONDS="2")
    made = deploy(web, alice, checkpoint_id=checkpoints[0])
    wait_ready(session_factory, [made["id"]])
    api = openai.OpenAI(base_url=web + "/v1", api_key=alice.key, max_retries=0)
    before = chat(api, made["name"], PROMPTS[0]).choices[0].message.content
    # `rft chat` streams the same answer in the terminal.
    terminal = CliRunner().invoke(
        cli,
        ["chat", made["name"], "--temperature", "0", "--max-tokens", "8"],
        input=f"{PROMPTS[0]}\n/exit\n",
        env={"RFT_API_URL": web, "RFT_API_KEY": alice.key},
    )
    assert terminal.exit_code == 0, terminal.output
    assert f"{made['name']}> {before}" in terminal.output
    with session_factory() as session:
        old_url = session.get(Deployment, made["id"]).server_url  # type: ignore[union-attr]

    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    with pytest.raises(openai.APIStatusError) as gone:
        chat(api, made["name"], PROMPTS[0])
    assert gone.value.status_code == 503  # the server is down: retry later, not a 500

    model_server(RFT_DEPLOYMENT_IDLE_SECONDS="2")
    wait_ready(session_factory, [made["id"]], since=old_url)  # reclaimed from the database
    assert chat(api, made["name"], PROMPTS[0]).choices[0].message.content == before

    def unloaded() -> bool:
        with session_factory() as session:
            return not session.get(Deployment, made["id"]).loaded  # type: ignore[union-attr]

    wait_for(unloaded, 60, "the idle adapter to unload")
    time.sleep(0.1)
    assert chat(api, made["name"], PROMPTS[0]).choices[0].message.content == before
    with session_factory() as session:
        row = session.get(Deployment, made["id"])
        assert row is not None and row.loaded and row.state == "ready"


def sft_adapter(model_dir: Path, folder: Path, pairs: list[tuple[int, int]], steps: int) -> None:
    """A LoRA adapter trained for a few steps on right answers to ``pairs`` only."""
    import random

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"),
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    rng = random.Random(0)
    for _ in range(steps):
        rows = []
        for a, b in rng.choices(pairs, k=16):
            encoded: Any = tokenizer.apply_chat_template(
                [{"role": "user", "content": f"{a}+{b}="}], add_generation_prompt=True
            )
            prompt = list(encoded["input_ids"])
            answer = [*tokenizer(str(a + b), add_special_tokens=False)["input_ids"]]
            answer.append(tokenizer.eos_token_id)
            rows.append((prompt + answer, [-100] * len(prompt) + answer))
        width = max(len(ids) for ids, _ in rows)
        pad = tokenizer.pad_token_id
        ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in rows])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
        mask = (ids != pad).long()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)


def test_a_trained_checkpoint_beats_its_base_on_held_out_prompts(
    web: str,
    model_server: Callable[..., Any],
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
) -> None:
    """Served weights are the trained ones: sampled answers to sums the adapter never saw are
    right more often than the base model's (exact-answer rate, same prompts and sampling)."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    held_out = [p for p in pairs if (p[0] * 10 + p[1]) % 4 == 0]
    key = "jobs/sft/checkpoint-60"
    storage = Storage.from_settings(train_settings)
    model_dir = train_settings.models_path / demo.DEMO_MODEL
    train = [p for p in pairs if p not in held_out]
    sft_adapter(model_dir, Path(storage.path(key)), train, steps=60)
    with transaction(session_factory) as session:
        job = Job(owner_id=alice.user.id, name="sft", base_model=demo.DEMO_MODEL, spec={})
        session.add(job)
        session.flush()
        checkpoint = Checkpoint(job_id=job.id, step=60, path=key)
        session.add(checkpoint)
        session.flush()
        checkpoint_id = checkpoint.id
    model_server()
    tuned = deploy(web, alice, checkpoint_id=checkpoint_id)
    base = deploy(web, alice, base_model=demo.DEMO_MODEL)
    wait_ready(session_factory, [tuned["id"], base["id"]])
    api = openai.OpenAI(base_url=web + "/v1", api_key=alice.key, max_retries=0)

    def exact_rate(model: str) -> float:
        right = total = 0
        for a, b in held_out:
            answer = chat(api, model, f"{a}+{b}=", n=8, temperature=1.0, seed=a * 10 + b)
            right += sum(c.message.content.strip() == str(a + b) for c in answer.choices)
            total += len(answer.choices)
        return right / total

    tuned_rate, base_rate = exact_rate(tuned["name"]), exact_rate(base["name"])
    assert tuned_rate > base_rate + 0.1, (tuned_rate, base_rate)


@pytest.mark.gpu
def test_vllm_engine_serves_two_adapters_with_their_own_weights(
    models_dir: Path, tmp_path: Path
) -> None:
    """The GPU path: vLLM with LoRA enabled, adapters added at run time (skipped without CUDA)."""
    from worker.serving import vllm_engine
    from worker.serving.protocol import GenerationRequest, Sampling

    assert vllm_engine.available()
    model_dir = models_dir / demo.DEMO_MODEL
    engine = vllm_engine.VllmEngine(model_dir)
    for deployment_id, seed in ((1, 1), (2, 2)):
        make_adapter(model_dir, tmp_path / f"a{seed}", seed)
        engine.load_adapter(deployment_id, tmp_path / f"a{seed}")

    def greedy(adapter: int | None) -> str:
        events: list[dict[str, Any]] = []
        done = threading.Event()

        def emit(event: dict[str, Any]) -> None:
            events.append(event)
            if event["type"] in ("end", "error"):
                done.set()

        prompt = engine.encode_chat([{"role": "user", "content": PROMPTS[0]}])
        engine.submit(
            GenerationRequest(adapter, prompt, Sampling(temperature=0, max_tokens=8), emit)
        )
        assert done.wait(120)
        return "".join(e["text"] for e in events if e["type"] == "delta")

    assert greedy(1) == direct_greedy(model_dir, tmp_path / "a1", PROMPTS[0])
    assert greedy(2) == direct_greedy(model_dir, tmp_path / "a2", PROMPTS[0])
    engine.unload_adapter(1)
    assert greedy(None) == direct_greedy(model_dir, None, PROMPTS[0])
    engine.close()
