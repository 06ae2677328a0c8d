"""Folders the app reads at run time: the checkout's own (a development install), or the copies
an installed wheel carries under app/bundled/ (setup.py puts them there)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IS_CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "templates").is_dir()
# The wheel is installed unzipped: the package's resources are plain folders.
BUNDLED = Path(str(files("app") / "bundled"))
ASSETS = ROOT if IS_CHECKOUT else BUNDLED

TEMPLATES_DIR = ASSETS / "templates"
STATIC_DIR = ASSETS / "static"
MIGRATIONS_DIR = ASSETS / "migrations"
ALEMBIC_INI = ASSETS / "alembic.ini"
