"""Packaging hook (everything else is in pyproject.toml): the wheel carries the folders the app
reads at run time — templates/, static/, migrations/ and alembic.ini — under app/bundled/, so an
installed `rft serve` runs outside the checkout. The checkout keeps them at its top level, where
app/core/paths.py looks first."""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("templates", "static", "migrations")


class BuildWithAssets(build_py):
    def run(self) -> None:
        super().run()
        target = os.path.join(self.build_lib, "app", "bundled")
        for folder in BUNDLED:
            self.copy_tree(folder, os.path.join(target, folder))
        self.copy_file("alembic.ini", os.path.join(target, "alembic.ini"))


setup(cmdclass={"build_py": BuildWithAssets})
