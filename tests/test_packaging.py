"""The product installs as a package: a wheel built from the project serves its pages from
outside the checkout (templates, static files and migrations travel inside it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _build_wheel(tmp: Path) -> Path:
    """From a copy of the tracked files, so the checkout gets no build/ or egg-info."""
    source = tmp / "source"
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (t.decode() for t in tracked)):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=source,
        capture_output=True,
        check=True,
    )
    (wheel,) = dist.glob("rft_studio-*.whl")
    return wheel


def _install(wheel: Path, venv: Path) -> None:
    """A throwaway venv with only our wheel; its dependencies come from the test's own venv."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True)
    # After the install (pip must not see the checkout's editable install and skip ours).
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def test_installed_wheel_serves_its_pages_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _install(wheel, venv)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RFT_") and k != "PYTHONPATH"}
    env.update(
        RFT_DATA_DIR=str(elsewhere / "data"), RFT_EMBEDDED_WORKER="false", RFT_SEED_DEMO="false"
    )
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's code, not the checkout's

    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "rft"), "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=300, what="the installed `rft serve` to answer")
        login = httpx.get(f"{url}/login")
        assert login.status_code == 200 and "Sign in" in login.text  # a template
        assert "<form" in login.text
        css = httpx.get(f"{url}/static/css/app.css")
        assert css.status_code == 200 and css.text.strip()  # a static file
    finally:
        server.terminate()
        server.wait(timeout=30)
