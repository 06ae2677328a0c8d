"""Dataset benchmarks: run with `.venv/bin/python bench/datasets.py [--rows N] [--keep]`.

Generates a JSONL file of 1,000,000 chat rows (~1 GB) in /tmp, then prints, in one run:
  * validation speed of the streaming validator (target >= 100 MB/s), and a plain
    `json.loads` loop over the same file, with the ratio between the two;
  * a real upload through HTTP to a server in a subprocess (uvicorn, SQLite, local storage):
    the server's peak RSS growth during the upload (target < 200 MB) and the end-to-end speed;
  * the latency of `GET /api/v1/datasets/{id}/rows` at random offsets (target < 50 ms).
The file, the server's data folder and the dataset are deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.ingest.jsonl import JsonlValidator

MB = 1e6
CHUNK = 1024 * 1024
VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all would their will each about how up out"
)
WORDS = VOCABULARY.split()

SERVER = """
import uvicorn
from app.core.config import Settings
from app.main import create_app
settings = Settings()
uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
"""


def generate(path: Path, rows: int) -> None:
    """~1,000-byte chat rows: a system prompt, a question, a reference answer, extra fields."""
    rnd = random.Random(0)
    texts = [" ".join(rnd.choices(WORDS, k=n)) for n in rnd.choices(range(20, 140), k=4096)]
    with path.open("wb") as out:
        for i in range(rows):
            a, b = rnd.randrange(1000), rnd.randrange(1000)
            row = {
                "messages": [
                    {"role": "system", "content": texts[i % 4096][:300]},
                    {"role": "user", "content": f"What is {a} + {b}? {texts[(i * 7) % 4096]}"},
                    {"role": "assistant", "content": f"{texts[(i * 13) % 4096][:200]} {a + b}"},
                ],
                "ground_truth": str(a + b),
                "nums": [a, b, rnd.random()],
                "meta": {"id": i, "tags": ["math", "add"], "level": rnd.randint(1, 5)},
            }
            out.write(orjson.dumps(row) + b"\n")


def validate_file(path: Path) -> None:
    validator = JsonlValidator(io.BytesIO())
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            validator.feed(chunk)
    report = validator.finish()
    assert report.ok and report.rows > 0, report.errors[:3]


def json_loads_loop(path: Path) -> None:
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)


def measure_parsers(path: Path, rounds: int = 2) -> dict[str, float]:
    """Best MB/s (wall clock) of each, run in turns so that both see the same machine."""
    best = {"validation": 0.0, "json.loads": 0.0}
    size = path.stat().st_size / MB
    for _ in range(rounds):
        for name, run in (("validation", validate_file), ("json.loads", json_loads_loop)):
            start = time.perf_counter()
            run(path)
            best[name] = max(best[name], size / (time.perf_counter() - start))
    return best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    from app.core.config import Settings
    from app.core.migrate import upgrade

    data_dir.mkdir(parents=True)
    upgrade(Settings(_env_file=None, data_dir=data_dir).database)  # type: ignore[call-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RFT_")}
    env.update(RFT_DATA_DIR=str(data_dir), RFT_PORT=str(port))
    server = subprocess.Popen([sys.executable, "-c", SERVER], env=env, cwd=ROOT)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start")


def api_key(data_dir: Path) -> str:
    from app.core.config import Settings
    from app.core.db import make_engine, make_session_factory, transaction
    from app.services import api_keys, users

    engine = make_engine(Settings(_env_file=None, data_dir=data_dir).database)  # type: ignore[call-arg]
    with transaction(make_session_factory(engine)) as session:
        _row, key = api_keys.create(session, users.get_or_create(session, "bench"), "bench")
    engine.dispose()
    return key


def multipart(path: Path) -> tuple[Iterator[bytes], dict[str, str]]:
    boundary = "rft-bench-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: application/jsonl\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        yield tail

    size = len(head) + path.stat().st_size + len(tail)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(size),
    }
    return body(), headers


def measure_upload(path: Path, client: httpx.Client, pid: int) -> dict[str, float]:
    baseline = status_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:  # a second witness besides VmHWM
        while not done.wait(0.05):
            peak[0] = max(peak[0], status_kib(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    body, headers = multipart(path)
    start = time.perf_counter()
    response = client.post("/api/v1/datasets", content=body, headers=headers)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    assert response.status_code == 201, response.text[:500]
    high_water = status_kib(pid, "VmHWM")
    return {
        "id": response.json()["id"],
        "seconds": seconds,
        "mb_per_s": path.stat().st_size / MB / seconds,
        "baseline_mb": baseline / 1024,
        "growth_mb": (max(high_water, peak[0]) - baseline) / 1024,
    }


def percentiles(seen: list[float]) -> dict[str, float]:
    seen.sort()
    return {"p50": statistics.median(seen), "p95": seen[int(len(seen) * 0.95)], "max": seen[-1]}


def page_offsets(rows: int, limit: int) -> list[int]:
    rnd = random.Random(limit)
    return [0, rows - limit] + [rnd.randrange(rows - limit) for _ in range(200)]


def measure_pages(client: httpx.Client, dataset_id: int, rows: int) -> dict[int, dict[str, float]]:
    """Round trips of GET …/rows (auth, database, storage reads, HTTP) at random offsets."""
    timings = {}
    for limit in (100, 1000):
        seen = []
        for offset in page_offsets(rows, limit):
            start = time.perf_counter()
            response = client.get(
                f"/api/v1/datasets/{dataset_id}/rows", params={"offset": offset, "limit": limit}
            )
            seen.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and response.json()["data"][0]["index"] == offset
        timings[limit] = percentiles(seen)
    return timings


def measure_reads(data_dir: Path, dataset_id: int, rows: int) -> dict[int, dict[str, float]]:
    """The storage part alone: ``read_rows`` (index + data reads, decoded) in this process."""
    from app.core.config import Settings
    from app.core.db import make_engine, make_session_factory
    from app.core.storage import Storage
    from app.services import datasets, users

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    engine = make_engine(settings.database)
    storage, timings = Storage.from_settings(settings), {}
    with make_session_factory(engine)() as session:
        owner = users.get_or_create(session, "bench")
        for limit in (100, 1000):
            seen = []
            for offset in page_offsets(rows, limit):
                start = time.perf_counter()
                datasets.read_rows(session, owner, dataset_id, offset, limit, storage=storage)
                seen.append((time.perf_counter() - start) * 1000)
            timings[limit] = percentiles(seen)
    engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the generated file.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rft-bench-datasets-", dir="/tmp"))
    path = work / "bench.jsonl"
    server = None
    try:
        start = time.perf_counter()
        generate(path, args.rows)
        size = path.stat().st_size
        print(
            f"file: {args.rows:,} rows, {size / MB:,.0f} MB ({time.perf_counter() - start:.0f} s)"
        )

        speeds = measure_parsers(path)
        validation, loads = speeds["validation"], speeds["json.loads"]
        print(f"validation: {validation:.0f} MB/s (parse + row rules + index + field stats)")
        print(f"json.loads loop: {loads:.0f} MB/s (parse only, no checks)")
        print(f"ratio validation / json.loads: {validation / loads:.2f}")

        data_dir, port = work / "data", free_port()
        server = start_server(data_dir, port)
        headers = {"Authorization": f"Bearer {api_key(data_dir)}"}
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            upload = measure_upload(path, client, server.pid)
            print(
                f"upload over HTTP: {upload['seconds']:.1f} s, {upload['mb_per_s']:.0f} MB/s; "
                f"server RSS {upload['baseline_mb']:.0f} MB before, peak growth "
                f"{upload['growth_mb']:.0f} MB"
            )
            dataset_id = int(upload["id"])
            pages = measure_pages(client, dataset_id, args.rows)
            reads = measure_reads(data_dir, dataset_id, args.rows)
            for what, timings in (("GET rows over HTTP", pages), ("read_rows in-process", reads)):
                for limit, t in timings.items():
                    print(
                        f"{what}, limit {limit}, 202 random offsets: p50 {t['p50']:.1f} ms, "
                        f"p95 {t['p95']:.1f} ms, max {t['max']:.1f} ms"
                    )
            client.delete(f"/api/v1/datasets/{int(upload['id'])}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
