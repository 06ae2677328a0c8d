"""Environments for evaluators' declared requirements, built OUTSIDE the sandbox.

`pip install --target <data>/evaluator-envs/<hash> --only-binary=:all:` in a subprocess with a
time limit (wheels only: an sdist's build would run its code here, outside the sandbox),
constrained by requirements.lock (`-c`), so an evaluator's packages can never be other versions
of the server's own. Requirements that name a locked package at another version are refused
before pip runs; ones the lock already satisfies are not installed again. The hash covers the
requirements, the Python version and the lock, so a second use installs nothing. One build at a
time per environment (a lock file); pip writes into a temporary directory renamed into place
when it succeeds, so a failed install leaves no environment, only its log (`<hash>.log`).

Inside the sandbox the whole directory is bound read-only and a worker appends only its
evaluator's environment to sys.path (after the server's packages: they always win).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.evaluators import EvaluatorSpec, load_evaluator_spec, with_env
from app.evaluators.requirements import env_name

LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"
LOG_LIMIT = 64 << 10
PYTHON = f"{sys.implementation.name}-{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class EnvStatus:
    name: str
    status: str  # "ready", "failed" (the last install failed: see log) or "not built"
    log: str
    packages: list[str]


def envs_root(settings: Settings) -> Path:
    return settings.data_path / "evaluator-envs"


@cache
def _lock_text() -> str:
    """The lock, or (an installed wheel has no lock file beside it) what this interpreter has
    installed, in the lock's name==version form: either way, the server's own versions."""
    if LOCK_FILE.is_file():
        return LOCK_FILE.read_text()
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    return "".join(f"{name}=={version}\n" for name, version in sorted(installed.items()))


def _constraints_file(root: Path) -> Path:
    """requirements.lock, or the installed versions written beside the environments."""
    if LOCK_FILE.is_file():
        return LOCK_FILE
    path = root / f"constraints-{name_of([])}.txt"
    if not path.is_file():
        path.write_text(_lock_text())
    return path


def pinned() -> dict[str, str]:
    """The server's locked packages: canonical name -> version."""
    out: dict[str, str] = {}
    for line in _lock_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            out[canonicalize_name(name)] = version.strip()
    return out


def to_install(requirements: list[str]) -> list[str]:
    """The requirements pip must install; InvalidInput for one that conflicts with the lock."""
    locked, out = pinned(), []
    for index, text in enumerate(requirements):
        requirement = Requirement(text)
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            out.append(text)
        elif not requirement.specifier.contains(version, prereleases=True):
            message = (
                f"{text} conflicts with the server's pinned {requirement.name}=={version}: "
                "the evaluator environment adds packages, it cannot replace the server's"
            )
            raise InvalidInput(message, [{"field": f"requirements.{index}", "message": message}])
    return out


def name_of(requirements: list[str]) -> str:
    return env_name(requirements, PYTHON, _lock_text())


def _read_log(path: Path) -> str:
    if not path.is_file():
        return ""
    data = path.read_bytes()
    return data[-LOG_LIMIT:].decode("utf-8", "replace")


def _packages(target: Path) -> list[str]:
    """Distributions installed in an environment, as name==version."""
    out = []
    for info in sorted(target.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        out.append(f"{name}=={version}")
    return out


def status(settings: Settings, requirements: list[str]) -> EnvStatus | None:
    """What exists for these requirements now (builds nothing); None when there are none."""
    if not requirements:
        return None
    name = name_of(requirements)
    root = envs_root(settings)
    target, log = root / name, _read_log(root / f"{name}.log")
    if target.is_dir():
        return EnvStatus(name, "ready", log, _packages(target))
    return EnvStatus(name, "failed" if log else "not built", log, [])


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_readable(top: Path) -> None:
    """The sandbox runs as another uid: every file readable, every directory enterable."""
    for folder, _dirs, files in os.walk(top):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def _pip(settings: Settings, target: str, requirements: list[str]) -> tuple[bool, str]:
    command = [
        sys.executable, "-m", "pip", "install", "--target", target, "--no-input",
        "--disable-pip-version-check", "--no-warn-script-location", "--no-compile",
        # Wheels only: building an sdist runs its setup code here, outside the sandbox.
        "--only-binary=:all:",
    ]  # fmt: skip
    command += ["-c", str(_constraints_file(Path(target).parent))]
    command += [*shlex.split(settings.evaluator_pip_args), *requirements]
    header = "$ " + shlex.join(command) + "\n"
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=settings.evaluator_pip_timeout_seconds,
            env={**os.environ, "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        limit = settings.evaluator_pip_timeout_seconds
        return False, f"{header}{out}\ntimed out after {limit:g} s\n"
    ok = done.returncode == 0
    return ok, f"{header}{done.stdout}{done.stderr}\nexit status {done.returncode}\n"


def ensure(settings: Settings, requirements: list[str]) -> EnvStatus | None:
    """The environment for these (normalized) requirements, built now if it does not exist.

    InvalidInput (field "requirements") when one conflicts with the lock or pip fails; the
    message ends with the tail of pip's log."""
    if not requirements:
        return None
    installs = to_install(requirements)
    name = name_of(requirements)
    root = envs_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    # Public packages, read by the sandbox's own uid: not the data dir's 0700 (`rft serve` sets
    # umask 077, under which the folder would be closed to the evaluator and nothing imports).
    root.chmod(0o755)
    target, log_path = root / name, root / f"{name}.log"
    if target.is_dir():  # the common case: built before, no lock needed
        return status(settings, requirements)
    with _exclusive(root / f"{name}.lock"):
        if not target.is_dir():  # another process may have built it while we waited
            _build(settings, target, log_path, installs)
    return status(settings, requirements)


def _build(settings: Settings, target: Path, log_path: Path, installs: list[str]) -> None:
    temporary = tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        ok, log = _pip(settings, temporary, installs) if installs else (True, "nothing to install")
        log_path.write_text(log)
        if not ok:
            tail = log[-2000:].strip()
            message = f"installing the evaluator's requirements failed; pip said:\n{tail}"
            raise InvalidInput(message, [{"field": "requirements", "message": message}])
        _make_readable(Path(temporary))
        os.rename(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def runnable(
    settings: Settings, code: str | Mapping[str, Any], requirements: list[str]
) -> str | Mapping[str, Any] | EvaluatorSpec:
    """What to hand the pool: the (checked) code, with its environment when it declares
    requirements (built now if it does not exist yet)."""
    env = ensure(settings, requirements)
    if env is None:
        return code
    return with_env(load_evaluator_spec(code), env.name)
