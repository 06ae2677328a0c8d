"""Declared-requirements environments: `.venv/bin/python bench/evaluator_envs.py`.

Builds a one-module wheel, installs it as an evaluator's declared requirement (pip outside the
sandbox, `--no-index --find-links`), then asks for the same environment 100 more times: the
first call is the baseline, the cached ones must install nothing. Prints both and the ratio.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from app.core.config import Settings
from app.services import evaluator_envs
from tests.api.test_evaluator_requirements import build_wheel

REPEATS = 100


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="rft-bench-envs-"))
    try:
        wheels = folder / "wheels"
        wheels.mkdir()
        build_wheel(wheels, "tinyreward", "0.1", "SCORE = 0.75\n")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=folder / "data",
            evaluator_pip_args=f"--no-index --find-links {wheels}",
        )
        started = time.perf_counter()
        evaluator_envs.ensure(settings, ["tinyreward==0.1"])
        cold = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(REPEATS):
            evaluator_envs.ensure(settings, ["tinyreward==0.1"])
        warm = (time.perf_counter() - started) / REPEATS
        print(f"first use (pip install): {cold * 1000:.0f} ms")
        print(f"cached use (mean of {REPEATS}): {warm * 1000:.2f} ms")
        print(f"ratio cold / cached: {cold / warm:.0f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
