"""Storage for datasets, checkpoints and adapters: any fsspec URL, a local folder by default.

Keys are relative POSIX paths (``datasets/<key>/data.jsonl``) under the configured root, so
the same database works wherever the storage is mounted. Files appear under their final name
only when complete: they are written under a temporary name and renamed, so a reader never
sees half a file.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from app.core.config import Settings

log = logging.getLogger("rft.storage")

TEMP_MARK = ".partial-"
STAGING_MAX_AGE = 24 * 3600


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url
        fs, root = fsspec.core.url_to_fs(url)
        self.fs: Any = fs
        self.root: str = root.rstrip("/")
        self.is_local = isinstance(fs, LocalFileSystem)

    @classmethod
    def from_settings(cls, settings: Settings) -> Storage:
        return cls(settings.storage)

    def path(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"storage key {key!r} must be a relative path")
        return posixpath.join(self.root, key)

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        handle: IO[bytes] = self.fs.open(self.path(key), mode)
        return handle

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def put_file(self, local: Path, key: str) -> None:
        """Move a finished local file to ``key`` (a rename when both are on one local disk)."""
        target = self.path(key)
        temp = f"{target}{TEMP_MARK}{uuid.uuid4().hex}"
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        try:
            if self.is_local:
                shutil.move(local, temp)
                os.replace(temp, target)
            else:
                self.fs.put_file(str(local), temp)
                self.fs.mv(temp, target)
        except BaseException:
            self._remove(temp)
            raise

    @contextmanager
    def writer(self, key: str) -> Iterator[IO[bytes]]:
        """A file to write ``key`` through; it takes its name only if the block succeeds."""
        target = self.path(key)
        temp = f"{target}{TEMP_MARK}{uuid.uuid4().hex}"
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        try:
            with self.fs.open(temp, "wb") as handle:
                yield handle
            self.fs.mv(temp, target)
        except BaseException:
            self._remove(temp)
            raise

    def delete_dir(self, key: str) -> None:
        path = self.path(key)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def _remove(self, path: str) -> None:
        with suppress(FileNotFoundError, OSError):
            if self.fs.exists(path):
                self.fs.rm(path)


def describe_bytes(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def staging_dir(settings: Settings) -> Path:
    """Where uploads are received until they are complete and valid (never under storage).

    Every upload removes its own files, whatever happens; what a killed server left behind
    (older than a day: no upload takes that long) is swept here.
    """
    path = settings.data_path / "tmp" / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    stale = time.time() - STAGING_MAX_AGE
    for leftover in path.iterdir():
        with suppress(OSError):
            if leftover.stat().st_mtime < stale:
                leftover.unlink()
    return path
