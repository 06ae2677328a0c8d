"""Declared extra requirements (reward-kit's `requirements`, Predibase's `runtime.packages`):
installed outside the sandbox by pip into a cached environment, read-only inside it, with pip's
log shown. pip reads a wheel built here (--no-index --find-links): no internet."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.evaluators import EvaluatorPool, Sample
from app.services import evaluator_envs
from tests.conftest import Account
from tests.datasets_support import rows_bytes, upload

EVALUATORS = "/api/v1/evaluators"
USES_PACKAGE = """import tinyreward

def evaluate(messages, **kwargs):
    return tinyreward.SCORE
"""


def build_wheel(folder: Path, name: str, version: str, module_source: str) -> Path:
    """A minimal pure-Python wheel (what `pip wheel` makes for a one-module package)."""
    files = {
        f"{name}/__init__.py": module_source,
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    build_wheel(folder, "tinyreward", "0.1", "SCORE = 0.75\n")
    return folder


@pytest.fixture
def settings(settings: Settings, wheelhouse: Path) -> Settings:
    """The suite's settings, with pip pointed at the local wheelhouse only."""
    return settings.model_copy(
        update={"evaluator_pip_args": f"--no-index --find-links {wheelhouse}"}
    )


def create(client: TestClient, account: Account, **body: Any) -> Any:
    return client.post(EVALUATORS, json={"name": "uses-pkg", **body}, headers=account.headers)


def envs(settings: Settings) -> list[str]:
    root = evaluator_envs.envs_root(settings)
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_declared_package_installs_with_its_log_and_scores_in_preview(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    response = create(client, alice, code=USES_PACKAGE, requirements=["TinyReward==0.1"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["requirements"] == ["tinyreward==0.1"]  # canonical name
    env = body["environment"]
    assert env["status"] == "ready" and env["packages"] == ["tinyreward==0.1"]
    assert "Successfully installed tinyreward-0.1" in env["log"]
    assert "--no-index" in env["log"] and "-c" in env["log"]  # the operator's args, the lock
    assert "--only-binary=:all:" in env["log"]  # no sdist build runs code outside the sandbox
    read = client.get(f"{EVALUATORS}/{body['id']}", headers=alice.headers).json()
    assert read["environment"]["status"] == "ready"

    dataset = upload(client, alice, rows_bytes(2)).json()["id"]
    preview = {"code": USES_PACKAGE, "requirements": ["tinyreward"], "dataset_id": dataset}
    results = client.post(f"{EVALUATORS}/preview", json=preview, headers=alice.headers).json()
    assert [r["score"] for r in results["results"]] == [0.75, 0.75]


@pytest.fixture
def serve_umask() -> Iterator[None]:
    """`rft serve` runs with umask 077 (a private data dir): what it creates is 0700/0600."""
    before = os.umask(0o077)
    yield
    os.umask(before)


def test_declared_package_imports_under_rft_serves_umask(
    client: TestClient, alice: Account, settings: Settings, serve_umask: None
) -> None:
    """CI found it: with umask 077 the environments folder was 0700, closed to the sandbox's own
    uid, so every row failed on `import tinyreward` (it passed only where the umask was 022)."""
    dataset = upload(client, alice, rows_bytes(2)).json()["id"]
    preview = {"code": USES_PACKAGE, "requirements": ["tinyreward"], "dataset_id": dataset}
    response = client.post(f"{EVALUATORS}/preview", json=preview, headers=alice.headers)
    assert [r["score"] for r in response.json()["results"]] == [0.75, 0.75], response.text
    assert evaluator_envs.envs_root(settings).stat().st_mode & 0o777 == 0o755


def test_requirements_written_in_the_code_are_read(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    code = 'REQUIREMENTS = ["tinyreward>=0.1"]\n' + USES_PACKAGE
    body = create(client, alice, code=code).json()
    assert body["requirements"] == ["tinyreward>=0.1"]
    assert body["environment"]["status"] == "ready"
    # A new version with other code keeps the declared list unless told otherwise.
    update = {"code": USES_PACKAGE + "\n# v2\n"}
    again = client.put(f"{EVALUATORS}/{body['id']}", json=update, headers=alice.headers).json()
    assert again["latest_version"] == 2 and again["requirements"] == ["tinyreward>=0.1"]
    cleared = {"code": USES_PACKAGE + "\n# v3\n", "requirements": []}
    third = client.put(f"{EVALUATORS}/{body['id']}", json=cleared, headers=alice.headers).json()
    assert third["requirements"] == [] and third["environment"] is None


def test_reward_kits_decorator_declares_requirements(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    code = """import tinyreward
from reward_kit import reward_function


@reward_function(requirements=["tinyreward==0.1"])
def evaluate(messages, **kwargs):
    return tinyreward.SCORE
"""
    body = create(client, alice, code=code).json()
    assert body["requirements"] == ["tinyreward==0.1"]
    assert body["environment"]["status"] == "ready"
    dataset = upload(client, alice, rows_bytes(1)).json()["id"]
    preview = {"code": code, "dataset_id": dataset}
    results = client.post(f"{EVALUATORS}/preview", json=preview, headers=alice.headers).json()
    assert [r["score"] for r in results["results"]] == [0.75]


def test_a_second_use_installs_nothing(settings: Settings) -> None:
    first = evaluator_envs.ensure(settings, ["tinyreward==0.1"])
    assert first is not None and first.status == "ready"
    folder = evaluator_envs.envs_root(settings) / first.name
    inode = folder.stat().st_ino
    # With pip now unable to reach any index, the environment is still there: it is reused.
    broken = settings.model_copy(update={"evaluator_pip_args": "--no-index --find-links /none"})
    second = evaluator_envs.ensure(broken, ["tinyreward==0.1"])
    assert second == first and folder.stat().st_ino == inode
    assert envs(settings) == [first.name, f"{first.name}.lock", f"{first.name}.log"]


def test_a_failed_install_saves_nothing_and_shows_pips_words(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    response = create(client, alice, code=USES_PACKAGE, requirements=["notinthewheelhouse"])
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert "installing the evaluator's requirements failed" in message
    assert "notinthewheelhouse" in message and "No matching distribution" in message
    assert client.get(EVALUATORS, headers=alice.headers).json()["count"] == 0
    # No half-built environment: only the lock file and the log are left.
    assert [name.rsplit(".", 1)[-1] for name in envs(settings)] == ["lock", "log"]
    status = evaluator_envs.status(settings, ["notinthewheelhouse"])
    assert status is not None and status.status == "failed" and "No matching" in status.log


@pytest.mark.parametrize(
    ("requirement", "says"),
    [
        ("pkg @ https://example.com/pkg.whl", "no URLs"),
        ("--index-url=https://evil.example/simple", "no URLs, paths or pip options"),
        ("-r /etc/passwd", "pip options"),
        ("../local/package", "paths"),
        ("numpy<2", "conflicts with the server's pinned numpy=="),
        ("not a requirement ===", "not a valid requirement"),
    ],
)
def test_refused_requirements_name_the_field_and_why(
    client: TestClient, alice: Account, requirement: str, says: str
) -> None:
    response = create(client, alice, code=USES_PACKAGE, requirements=["tinyreward", requirement])
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"].startswith("requirements"), error
    assert says in error["message"]


def test_too_many_requirements_are_refused(client: TestClient, alice: Account) -> None:
    many = [f"package{i}" for i in range(21)]
    response = create(client, alice, code=USES_PACKAGE, requirements=many)
    assert response.status_code == 422
    assert "requirements" in response.json()["errors"][0]["field"]


def test_a_missing_import_says_what_there_is_and_how_to_declare(
    client: TestClient, alice: Account
) -> None:
    dataset = upload(client, alice, rows_bytes(1)).json()["id"]
    code = "import tinyreward\n\ndef evaluate(messages, **kwargs):\n    return 1.0\n"
    body = {"code": code, "dataset_id": dataset}
    [result] = client.post(f"{EVALUATORS}/preview", json=body, headers=alice.headers).json()[
        "results"
    ]
    assert "'tinyreward' is not in the evaluator environment" in result["reason"]
    assert (
        "numpy" in result["reason"]
        and "declare it in the evaluator's requirements" in (result["reason"])
    )


def test_training_scores_with_the_pinned_requirements(settings: Settings) -> None:
    from worker.training.rewards import RewardHub

    # A job pins the version's requirements; the training worker's reward hub (TRL's reward
    # function) installs or reuses their environment and scores with it.
    pinned = {"id": 1, "name": "uses-pkg", "version": 1, "weight": 1.0, "components": None}
    pinned |= {"code": USES_PACKAGE, "requirements": ["tinyreward==0.1"]}
    row = {"messages": [{"role": "user", "content": "?"}]}
    envs_dir = str(evaluator_envs.envs_root(settings))
    with EvaluatorPool(size=1, timeout_s=10.0, envs_dir=envs_dir) as pool:
        hub = RewardHub(pool, [pinned], tenant="user-1", settings=settings)
        [[result]] = hub.score([row], ["x"])
        # Without the environment, the same code cannot import the package.
        [bare] = pool.score(USES_PACKAGE, [Sample(row, "x")])
    assert result.score == 0.75
    assert bare.score is None and "tinyreward" in (bare.reason or "")


def test_every_component_of_a_module_gets_the_environment(settings: Settings) -> None:
    from worker.training.rewards import RewardHub

    code = (
        "import tinyreward\n\n"
        "def correctness_reward(prompt, completion, example):\n    return tinyreward.SCORE\n\n"
        "def format_reward(prompt, completion, example):\n    return tinyreward.SCORE / 3\n"
    )
    pinned = {"id": 1, "name": "two", "version": 1, "weight": 1.0, "components": None}
    pinned |= {"code": code, "requirements": ["tinyreward==0.1"]}
    envs_dir = str(evaluator_envs.envs_root(settings))
    with EvaluatorPool(size=1, timeout_s=10.0, envs_dir=envs_dir) as pool:
        hub = RewardHub(pool, [pinned], tenant="user-1", settings=settings)
        scores = hub.score([{"prompt": "p"}], ["x"])
    assert [[r.score for r in per] for per in scores] == [[0.75], [0.25]]


def test_conflicts_are_refused_before_pip_runs(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="cannot replace the server's"):
        evaluator_envs.ensure(settings, ["numpy==1.0"])
    assert envs(settings) == []


def test_without_a_lock_file_the_installed_versions_constrain(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An installed wheel has no requirements.lock beside it: the interpreter's own packages
    # are the constraints instead.
    from importlib import metadata

    monkeypatch.setattr(evaluator_envs, "LOCK_FILE", tmp_path / "absent.lock")
    evaluator_envs._lock_text.cache_clear()
    try:
        assert evaluator_envs.pinned()["numpy"] == metadata.version("numpy")
        with pytest.raises(InvalidInput, match="numpy"):
            evaluator_envs.to_install(["numpy<1"])
        env = evaluator_envs.ensure(settings, ["tinyreward"])
        assert env is not None and env.status == "ready"
        assert "constraints-" in env.log
    finally:
        evaluator_envs._lock_text.cache_clear()


def test_the_environment_is_read_only_in_the_sandbox(settings: Settings) -> None:
    env = evaluator_envs.ensure(settings, ["tinyreward==0.1"])
    assert env is not None
    code = """import tinyreward

def evaluate(messages, **kwargs):
    with open(tinyreward.__file__, "a") as f:
        f.write("SCORE = 1.0\\n")
    return 1.0
"""
    envs_dir = str(evaluator_envs.envs_root(settings))
    with EvaluatorPool(size=1, timeout_s=10.0, envs_dir=envs_dir) as pool:
        spec = evaluator_envs.runnable(settings, code, ["tinyreward==0.1"])
        [result] = pool.score(spec, [Sample({"messages": [{"role": "user", "content": "?"}]}, "x")])
    assert result.score is None and result.error is not None
    assert "Read-only file system" in result.error or "Permission denied" in result.error
    module = evaluator_envs.envs_root(settings) / env.name / "tinyreward" / "__init__.py"
    assert module.read_text() == "SCORE = 0.75\n"
