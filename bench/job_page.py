"""Job page benchmark: run with `.venv/bin/python bench/job_page.py [--steps 10000]`.

Builds, in a fresh SQLite database, a finished-looking long job's records directly (10,000
steps of TRL metrics, 100,000 completions, reward logs, validation every 50 steps, a checkpoint
every 500, and every event the worker would have written), plus a 100-step job as the baseline
measured in the same run. Then prints:
  * server time of the job page (`GET /fine-tuning/{id}`: stored state, downsampled charts,
    summary, checkpoints) and its size, target < 1 s; ratio to the 100-step job;
  * the fragments the page loads next (completions page, filtered completions, reward logs);
  * the server cost of one live update: one poll of the event stream finding a step's events;
  * with Chromium (`RFT_TEST_CHROMIUM` or /usr/bin/chromium): page load to charts drawn in a
    real browser, and the browser cost of one live metrics update (target < 50 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient
from sqlalchemy import insert

from app.core.config import Settings
from app.core.db import transaction, utcnow
from app.core.migrate import upgrade
from app.main import create_app
from app.models import Checkpoint, Job, JobCompletion, JobEvent, JobLog, JobMetric
from app.services import auth_sessions, users
from tests.job_records_support import EVALUATORS, completion, eval_values, train_values

COMPLETIONS_PER_STEP = 10
CHUNK = 500  # steps per bulk insert


def build_job(factory: Any, owner_id: int, steps: int, name: str) -> int:
    """Bulk inserts: what the worker writes over a run, in a few seconds."""
    rng = random.Random(1)
    with transaction(factory) as session:
        job = Job(
            owner_id=owner_id,
            name=name,
            base_model="tiny-demo",
            spec={
                "training": {"learning_rate": 1e-4, "lora_rank": 8},
                "rollout": {"n": 8},
                "evaluators": [
                    {"id": i, "name": name, "version": 1, "weight": 1.0}
                    for i, name in enumerate(EVALUATORS)
                ],
            },
            status="completed",
            step=steps,
            total_steps=steps,
            attempts=1,
            started_at=utcnow(),
            finished_at=utcnow(),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    now = utcnow()
    for start in range(0, steps + 1, CHUNK):
        metrics, completions, logs, events, checkpoints = [], [], [], [], []
        for step in range(start, min(steps + 1, start + CHUNK)):
            if step > 0:
                values = train_values(step, steps, rng)
                metrics.append({"job_id": job_id, "kind": "train", "step": step, "values": values})
                events.append({"type": "metrics", "data": {"kind": "train", "step": step}})
                for i in range(COMPLETIONS_PER_STEP):
                    reward = None if i == 7 else round(rng.random(), 3)
                    item = completion(step, i, reward)
                    completions.append({"job_id": job_id, "created_at": now, **item})
                    events.append({"type": "completion", "data": {"step": step}})
                logs.append(
                    {"job_id": job_id, "created_at": now, "step": step, "level": "info"}
                    | {"source": "exact", "message": f"saw {step}"}
                )
                events.append({"type": "progress", "data": {"step": step, "total_steps": steps}})
            if step % 50 == 0:
                values = eval_values(step, steps)
                metrics.append({"job_id": job_id, "kind": "eval", "step": step, "values": values})
            if step > 0 and step % 500 == 0:
                checkpoints.append(
                    {"job_id": job_id, "step": step, "path": f"/tmp/c{step}", "created_at": now}
                    | {"metrics": {}, "eval_reward": eval_values(step, steps)["eval/reward"]}
                )
                events.append({"type": "checkpoint", "data": {"step": step}})
        with transaction(factory) as session:
            for model, rows in ((JobMetric, metrics), (JobCompletion, completions), (JobLog, logs)):
                if rows:
                    session.execute(insert(model), rows)
            if checkpoints:
                session.execute(insert(Checkpoint), checkpoints)
            session.execute(
                insert(JobEvent), [{"job_id": job_id, "created_at": now, **e} for e in events]
            )
    with transaction(factory) as session:
        from app.services.job_records import _mark_best

        _mark_best(session, job_id)
        session.add(JobEvent(job_id=job_id, type="status", data={"status": "completed"}))
    return job_id


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """Median seconds over ``repeat`` calls (after one warm-up), and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def chromium() -> str | None:
    path = os.environ.get("RFT_TEST_CHROMIUM", "/usr/bin/chromium")
    return path if os.path.exists(path) else None


def browser_figures(base: str, login: str, job_id: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(login)
        loads = []
        for _ in range(3):
            page.goto(f"{base}/fine-tuning/{job_id}")
            page.wait_for_function("performance.getEntriesByName('job-charts-drawn').length > 0")
            loads.append(
                page.evaluate("performance.getEntriesByName('job-charts-drawn')[0].startTime")
            )
        update = page.evaluate(
            """() => {
              const steps = window.jobPage.store.train.steps;
              let step = steps[steps.length - 1];
              const values = {};
              Object.keys(window.jobPage.store.train.series).forEach((k) => { values[k] = 0.5; });
              const times = [];
              for (let i = 0; i < 50; i++) {
                step += 1;
                const t = performance.now();
                window.jobPage.update({ kind: "train", step, values });
                times.push(performance.now() - t);
              }
              times.sort((a, b) => a - b);
              return times[25];
            }"""
        )
        browser.close()
    return {"load_ms": statistics.median(loads), "update_ms": update}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rft-bench-job-page-") as folder:
        settings = Settings(_env_file=None, data_dir=Path(folder), seed_demo=False)  # type: ignore[call-arg]
        upgrade(settings.database)
        app = create_app(settings)
        factory = app.state.session_factory
        with transaction(factory) as session:
            owner = users.get_or_create(session, "bench")
            owner_id = owner.id
            token = auth_sessions.create_login_token(session, owner, 60)
        started = time.perf_counter()
        long_job = build_job(factory, owner_id, args.steps, "long")
        built = time.perf_counter() - started
        small_job = build_job(factory, owner_id, 100, "baseline")
        print(
            f"built {args.steps} steps, {args.steps * COMPLETIONS_PER_STEP} completions "
            f"in {built:.1f} s"
        )
        with TestClient(app) as client:
            client.get(f"/login?token={token}")
            page = lambda job_id: client.get(f"/fine-tuning/{job_id}")  # noqa: E731
            small, _ = timed(lambda: page(small_job), args.repeat)
            large, response = timed(lambda: page(long_job), args.repeat)
            assert response.status_code == 200
            print(f"job page, 100 steps (baseline): {small * 1000:7.1f} ms")
            print(
                f"job page, {args.steps} steps:    {large * 1000:7.1f} ms "
                f"({len(response.content) / 1e3:.0f} kB, {large / small:.1f}x the baseline; "
                f"target < 1000 ms)"
            )
            for label, path in (
                ("completions, newest page", "/completions?any_step=1"),
                ("completions, reward >= 0.9", "/completions?any_step=1&reward_min=0.9"),
                ("completions, one step", f"/completions?step={args.steps // 2}"),
                ("completions, text search", "/completions?any_step=1&q=answer%203"),
                ("reward logs", "/logs"),
            ):
                url = f"/fine-tuning/{long_job}{path}"
                seconds, answer = timed(lambda url=url: client.get(url), args.repeat)
                assert answer.status_code == 200, answer.text
                print(f"  {label:28s} {seconds * 1000:7.1f} ms")
            from app.api.routes.jobs import _read_events
            from app.services.job_views import last_event_id

            with factory() as session:
                newest = last_event_id(session, long_job)
            poll, (events, _done) = timed(
                lambda: _read_events(factory, long_job, newest - 13), args.repeat * 4
            )
            print(f"live update, server (one poll, {len(events)} events): {poll * 1000:6.2f} ms")
            if chromium():
                figures = _with_live_server(settings, token_for=owner_id, job_id=long_job)
                print(f"browser: page load to charts drawn {figures['load_ms']:7.1f} ms")
                print(
                    f"browser: one live metrics update   {figures['update_ms']:7.2f} ms "
                    "(target < 50 ms)"
                )
            else:
                print("browser figures skipped: no Chromium (set RFT_TEST_CHROMIUM)")
        app.state.engine.dispose()


def _with_live_server(settings: Settings, token_for: int, job_id: int) -> dict[str, float]:
    import uvicorn

    from app.models import User
    from tests.helpers import free_port

    port = free_port()
    app = create_app(settings.model_copy(update={"port": port}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with transaction(app.state.session_factory) as session:
            user = session.get(User, token_for)
            assert user is not None
            token = auth_sessions.create_login_token(session, user, 60)
        base = f"http://127.0.0.1:{port}"
        return browser_figures(base, f"{base}/login?token={token}", job_id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
