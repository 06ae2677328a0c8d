"""Evaluator pool benchmarks: run with `.venv/bin/python bench/evaluators.py`.

Prints, in one run:
  * rows/s for a trivial evaluator through the sandboxed pool (target >= 30,000 on 2 cores);
  * pool / serial in-process speed-up for an evaluator burning ~2 ms of CPU a row
    (target >= 1.7 on 2 cores);
  * the latency of one small call (16 rows, a GRPO step's worth), which is what a training
    step pays on top of TRL;
  * a training step's scoring (32 rows) with one evaluator and with two (each step switches
    between two (user, evaluator version) workers), with live workers kept per pair and, for
    reference, with only `size` workers alive (a restart on every switch).
The machine's own parallel speed-up (plain forked processes, no sandbox) is printed next to
the pool's: on a shared VM the two cores rarely give a full 2x.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.evaluators import EvaluatorPool, Sample, load_evaluator_spec
from app.evaluators.runtime import Runtime
from app.evaluators.values import SampleResult

TRIVIAL = """
def evaluate(messages, ground_truth=None, **fields):
    return float(messages[-1]["content"] == ground_truth)
"""
BURN = """
def evaluate(messages, ground_truth=None, **fields):
    total = 0
    for i in range({loops}):
        total += i * i
    return float(messages[-1]["content"] == ground_truth)
"""
THROUGHPUT_ROWS = 100_000
BURN_ROWS = 1_000
BURN_MS = 2.0


def rows(count: int) -> list[Sample]:
    return [
        Sample(
            {"messages": [{"role": "user", "content": f"What is {i} + 1?"}], "ground_truth": "1"},
            str(i % 3),
        )
        for i in range(count)
    ]


def serial_seconds(code: str, samples: list[Sample]) -> float:
    """Score in this process, one row after another, through the same runtime code."""
    spec = load_evaluator_spec(code)
    runtime = Runtime()
    wire = [(s.row, s.completion) for s in samples]
    out: list[SampleResult] = []
    started = time.perf_counter()
    runtime.run(spec.key, spec.payload(), wire, 10.0, lambda _pos, r: out.append(r))
    elapsed = time.perf_counter() - started
    assert len(out) == len(samples) and all(r.is_score_valid for r in out)
    return elapsed


def plain_parallel_seconds(code: str, samples: list[Sample], workers: int) -> float:
    """The machine's own parallelism: plain forked processes, no sandbox, no pool."""
    share = len(samples) // workers
    parts = [samples[i * share : (i + 1) * share] for i in range(workers)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        list(executor.map(serial_seconds, [code] * workers, [p[:5] for p in parts]))  # warm up
        started = time.perf_counter()
        list(executor.map(serial_seconds, [code] * workers, parts))
        return time.perf_counter() - started


def calibrate_loops() -> int:
    """Loop count that makes BURN take about BURN_MS per row on this machine."""
    probe = 20_000
    per_row = min(serial_seconds(BURN.format(loops=probe), rows(100)) for _ in range(3)) / 100
    return max(1, int(probe * (BURN_MS / 1000.0) / per_row))


def timed_score(pool: EvaluatorPool, code: str, samples: list[Sample]) -> float:
    started = time.perf_counter()
    results = pool.score(code, samples)
    elapsed = time.perf_counter() - started
    assert all(r.is_score_valid for r in results), results[0]
    if os.environ.get("BENCH_VERBOSE"):
        mean_ms = statistics.mean(r.duration_ms for r in results)
        print(f"  {len(samples)} rows in {elapsed:.3f} s, {mean_ms:.3f} ms/row inside workers")
    return elapsed


SECOND = TRIVIAL.replace("return float(", "return 0.0 + float(")  # another evaluator version


def step_ms(pool: EvaluatorPool, codes: list[str], samples: list[Sample]) -> float:
    """One training step's scoring: every evaluator of the job on the step's samples."""
    started = time.perf_counter()
    for code in codes:
        pool.score(code, samples, tenant="user-1")
    return (time.perf_counter() - started) * 1000


def switching(max_workers: int | None, steps: int) -> tuple[float, float]:
    """Median ms per step with one evaluator and with two, 32 rows a step."""
    samples = rows(32)
    with EvaluatorPool(max_workers=max_workers) as pool:
        step_ms(pool, [TRIVIAL, SECOND], samples)  # start the workers, load both
        one = statistics.median(step_ms(pool, [TRIVIAL], samples) for _ in range(steps))
        two = statistics.median(step_ms(pool, [TRIVIAL, SECOND], samples) for _ in range(steps))
    return one, two


def main() -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load {load}")
    loops = calibrate_loops()
    burn = BURN.format(loops=loops)
    with EvaluatorPool() as pool:
        print(f"pool: {pool.size} workers, isolation {pool.isolation}")
        timed_score(pool, TRIVIAL, rows(1_000))  # start workers, load the evaluator
        timed_score(pool, burn, rows(100))
        throughput = [
            THROUGHPUT_ROWS / timed_score(pool, TRIVIAL, rows(THROUGHPUT_ROWS)) for _ in range(3)
        ]
        small = [timed_score(pool, TRIVIAL, rows(16)) * 1000 for _ in range(200)]
        burn_rows = rows(BURN_ROWS)
        # Interleaved, best of 3 each: other load on the machine hits both sides alike.
        serial_runs, pool_runs = [], []
        for _ in range(3):
            serial_runs.append(serial_seconds(burn, burn_rows))
            pool_runs.append(timed_score(pool, burn, burn_rows))
        serial, pooled = min(serial_runs), min(pool_runs)
        workers = pool.size
    plain = min(plain_parallel_seconds(burn, burn_rows, workers) for _ in range(3))
    kept = switching(None, 200)
    restarted = switching(workers, 10)
    per_row_ms = serial / BURN_ROWS * 1000
    print(
        f"trivial evaluator, {THROUGHPUT_ROWS:,} rows: "
        f"{statistics.median(throughput):,.0f} rows/s median "
        f"(runs: {', '.join(f'{t:,.0f}' for t in throughput)})"
    )
    print(
        f"16-row call latency: median {statistics.median(small):.2f} ms, "
        f"p95 {statistics.quantiles(small, n=20)[-1]:.2f} ms"
    )
    print(
        f"CPU-bound evaluator ({per_row_ms:.2f} ms/row serial), {BURN_ROWS:,} rows: "
        f"serial in-process {serial:.2f} s, pool {pooled:.2f} s, "
        f"speed-up {serial / pooled:.2f}x"
    )
    print(
        f"  for reference, {workers} plain forked processes (no sandbox): {plain:.2f} s, "
        f"speed-up {serial / plain:.2f}x — the most this machine gave at that moment"
    )
    print(
        f"training step, 32 rows: 1 evaluator {kept[0]:.2f} ms, 2 evaluators {kept[1]:.2f} ms "
        f"(median); with only {workers} workers alive (a restart per switch): "
        f"{restarted[0]:.2f} ms, {restarted[1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
