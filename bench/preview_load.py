"""Preview load benchmark: `.venv/bin/python bench/preview_load.py [--previews 50]`.

Starts the real app under uvicorn on 127.0.0.1 (SQLite, or a fresh database on the PostgreSQL
server given with `--postgres URL`; a temporary data dir, a preview pool
of `--workers` sandboxed workers), makes two users with a dataset each, then fires
`--previews` concurrent previews (half per user, each 2 rows of a 50 ms evaluator) while a
probe process polls `/healthz` every 100 ms. Prints: errors, /healthz p50/p99/max, and each user's
completed rows over time (their share). Targets (issue 11): 0 errors, /healthz p99 < 1 s,
each user's share within 2x of the other's. Loopback only; everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, transaction
from app.core.migrate import upgrade
from app.main import create_app
from app.services import api_keys, users
from tests.datasets_support import rows_bytes
from tests.helpers import free_port

CODE = "import time\n\ndef evaluate(messages, **kw):\n    time.sleep(0.05)\n    return 1.0\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--previews", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server URL: the bench makes a database of its own there and drops it",
    )
    args = parser.parse_args()
    os.environ.setdefault("RFT_UNSAFE_NO_SANDBOX", "true")  # hosts without bubblewrap
    data = Path(tempfile.mkdtemp(prefix="rft-bench-preview-"))
    database = None
    if args.postgres:
        database, name = _create_pg_database(args.postgres)
    try:
        run(data, args.previews, args.workers, database)
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if args.postgres:
            _drop_pg_database(args.postgres, name)


def _create_pg_database(server: str) -> tuple[str, str]:
    name = f"rft_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(server: str, name: str) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(data: Path, previews: int, workers: int, database: str | None) -> None:
    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data,
        database_url=database,
        port=port,
        evaluator_preview_workers=workers,
        seed_demo=False,
    )
    upgrade(settings.database)
    engine = make_engine(settings.database)
    keys = {}
    with transaction(make_session_factory(engine)) as session:
        for name in ("ann", "bo"):
            keys[name] = api_keys.create(session, users.get_or_create(session, name), "bench")[1]
    engine.dispose()
    # The server in a process of its own: client threads here must not share its GIL.
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(settings,))
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url)
        measure(url, keys, previews)
    finally:
        server.terminate()  # uvicorn shuts down; the lifespan closes the evaluator pool
        server.join(timeout=30)


def _serve(settings: Settings) -> None:
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="error")


def _wait_up(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def measure(url: str, keys: dict[str, str], previews: int) -> None:
    datasets = {}
    for name, key in keys.items():
        files = {"file": ("rows.jsonl", rows_bytes(4), "application/jsonl")}
        answer = httpx.post(f"{url}/api/v1/datasets", files=files, headers=_auth(key))
        datasets[name] = answer.json()["id"]
    for name, key in keys.items():  # start the pool and each user's worker before timing
        httpx.post(
            f"{url}/api/v1/evaluators/preview",
            json={"code": CODE, "dataset_id": datasets[name], "limit": 1},
            headers=_auth(key),
            timeout=120,
        )
    errors: list[str] = []
    done: dict[str, list[float]] = {name: [] for name in keys}
    lock = threading.Lock()

    # One client shared by the threads (httpx's is thread-safe): a client per request would
    # build an SSL context each, ~50 x 20 ms of this machine's CPU spent in the load generator.
    clients = httpx.Client(limits=httpx.Limits(max_connections=None), timeout=600)

    def preview(name: str) -> None:
        body = {"code": CODE, "dataset_id": datasets[name], "limit": 2}
        try:
            answer = clients.post(
                f"{url}/api/v1/evaluators/preview",
                json=body,
                headers=_auth(keys[name]),
            )
            ok = answer.status_code == 200
        except httpx.HTTPError as exc:
            ok, answer = False, exc  # type: ignore[assignment]
        with lock:
            if ok:
                done[name].append(time.monotonic() - started)
            else:
                errors.append(f"{name}: {answer}")

    # The probe in a process of its own, like an outside monitor: the 50 client threads here
    # contend for this process's GIL, which would otherwise be counted as server latency.
    spawn = multiprocessing.get_context("spawn")
    stop, probes = spawn.Event(), spawn.Queue()
    prober = spawn.Process(target=probe, args=(url, stop, probes))
    prober.start()
    probes.get(timeout=60)  # "ready": the prober is up and polling
    started = time.monotonic()
    names = list(keys)
    threads = [threading.Thread(target=preview, args=(names[i % 2],)) for i in range(previews)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    clients.close()
    stop.set()
    health, failed = probes.get(timeout=60)
    prober.join()
    errors += ["healthz"] * failed
    report(errors, health, done, time.monotonic() - started)


def probe(url: str, stop: Any, out: Any) -> None:
    """Poll /healthz every 100 ms until `stop`; put "ready", then (latencies, failures)."""
    health: list[float] = []
    failed = 0
    # A new connection per probe, as an outside monitor would (no keep-alive).
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=30, limits=no_keepalive) as client:
        out.put("ready")
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                ok = client.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            health.append(time.monotonic() - t0)
            failed += not ok
            time.sleep(0.1)
    out.put((health, failed))


def report(
    errors: list[str], health: list[float], done: dict[str, list[float]], elapsed: float
) -> None:
    probes = list(health)
    health.sort()
    p99 = health[min(len(health) - 1, int(len(health) * 0.99))]
    print(f"previews: {sum(len(v) for v in done.values())} ok, {len(errors)} errors {errors[:3]}")
    print("probes (ms, in order):", [round(h * 1000) for h in probes])
    print(
        f"/healthz: {len(health)} probes, p50 {statistics.median(health) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {health[-1] * 1000:.0f} ms (target p99 < 1000 ms)"
    )
    # Share: previews each user finished by the time half of all previews had finished.
    half = sorted(t for times in done.values() for t in times)
    cut = half[len(half) // 2] if half else 0.0
    shares = {name: sum(1 for t in times if t <= cut) for name, times in done.items()}
    low, high = min(shares.values()), max(shares.values())
    ratio = high / low if low else float("inf")
    print(f"share at the halfway point: {shares} ratio {ratio:.2f} (target <= 2)")
    finish = {name: f"{max(times):.1f} s" for name, times in done.items() if times}
    print(f"last preview per user: {finish}; all done in {elapsed:.1f} s")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


if __name__ == "__main__":
    main()
