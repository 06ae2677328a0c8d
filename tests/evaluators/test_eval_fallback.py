"""The unsafe fallback (no bubblewrap, RFT_UNSAFE_NO_SANDBOX) on hosts whose Python lives
under a directory other users cannot enter (pyenv under /root, mode 0700): each worker switches
to a uid of its own, which then could not import the standard library lazily (issue 11)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.evaluators import EvaluatorPool, Sample
from app.evaluators.sandbox import Launcher
from tests.evaluators.support import TIMEOUT_S, chat_row

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid switch needs root")

LAZY_STDLIB = """
def evaluate(messages, **kw):
    import fractions, decimal, statistics
    from xml.etree import ElementTree
    half = statistics.mean([fractions.Fraction(1, 4), fractions.Fraction(3, 4)])
    assert decimal.Decimal("0.5") == decimal.Decimal(half.numerator) / half.denominator
    assert ElementTree.fromstring("<a>1</a>").text == "1"
    return float(half)
"""


@as_root
def test_lazy_stdlib_imports_work_after_the_uid_switch() -> None:
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, use_bwrap=False) as pool:
        (result,) = pool.score(LAZY_STDLIB, [Sample(chat_row(), "x")])
    assert result.error is None, result.error
    assert result.score == 0.5


@pytest.fixture
def locked_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A world-readable import directory inside a 0700 one (like pyenv's under /root), on the
    workers' PYTHONPATH; beside it, a 0600 secret in a 0700 directory (like the data dir)."""
    locked = tmp_path / "home"
    library = locked / "lib"
    library.mkdir(parents=True)
    module = library / "lazy_probe.py"
    module.write_text("VALUE = 0.75\n")
    module.chmod(0o644)  # as installed: the server's umask (077) must not decide it
    library.chmod(0o755)
    secret = locked / "data" / "rft.db"
    secret.parent.mkdir(mode=0o700)
    secret.write_text("api_key=sk-top-secret")
    secret.chmod(0o600)
    locked.chmod(0o700)
    env = Launcher.env

    def with_library(self: Launcher) -> dict[str, str]:
        values = env(self)
        values["PYTHONPATH"] += os.pathsep + str(library)
        return values

    monkeypatch.setattr(Launcher, "env", with_library)
    yield secret


@as_root
def test_a_library_under_a_locked_directory_imports_but_nothing_else_opens(
    locked_library: Path,
) -> None:
    code = f"""
def evaluate(messages, **kw):
    import lazy_probe
    for path in ({str(locked_library)!r}, {str(locked_library.parent.parent)!r}):
        try:
            open(path).read() if path.endswith(".db") else __import__("os").listdir(path)
            print("read", path)
        except OSError as exc:
            print(type(exc).__name__)
    return lazy_probe.VALUE
"""
    with EvaluatorPool(size=1, timeout_s=TIMEOUT_S, use_bwrap=False) as pool:
        (result,) = pool.score(code, [Sample(chat_row(), "x")])
    assert result.error is None, result.error
    assert result.score == 0.75
    assert result.stdout.split() == ["PermissionError", "PermissionError"]
