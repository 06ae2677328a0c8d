"""Checkpoint exports: the PEFT adapter folder as a .tar.gz (plain file copying: the web app
never loads weights), and merged full weights, which a model server produces (it has torch)
into storage under ``exports/`` and which are archived from there the same way."""

from __future__ import annotations

import posixpath
import tarfile
import tempfile
from collections.abc import Iterator
from typing import IO

from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.core.storage import Storage
from app.models import Checkpoint, Job, User

# What a PEFT folder is made of; a trainer checkpoint also holds optimizer state, RNG state
# and trainer bookkeeping, which no one loading the adapter needs.
TRAINER_ONLY = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state",
    "trainer_state.json",
    "training_args.bin",
)
CHUNK = 1 << 20


def owned_checkpoint(session: Session, owner: User, checkpoint_id: int) -> tuple[Checkpoint, Job]:
    checkpoint = session.get(Checkpoint, checkpoint_id)
    job = session.get(Job, checkpoint.job_id) if checkpoint is not None else None
    if checkpoint is None or job is None or job.owner_id != owner.id:
        raise NotFound(f"Checkpoint {checkpoint_id} not found")
    return checkpoint, job


def merged_key(checkpoint_id: int) -> str:
    return f"exports/checkpoint-{checkpoint_id}/merged"


def _files(storage: Storage, key: str) -> list[str]:
    root = storage.path(key)
    if not storage.fs.isdir(root):
        raise NotFound(f"Nothing stored at {key}: the checkpoint's files are gone")
    found = []
    for path in sorted(storage.fs.find(root)):
        name = posixpath.relpath(path, root)
        if not name.startswith(TRAINER_ONLY) and ".partial-" not in name:
            found.append(name)
    return found


def archive(storage: Storage, key: str, top: str) -> IO[bytes]:
    """A .tar.gz of the folder at ``key`` (files under ``top/``), spooled to a temporary file
    so the response streams it without holding the weights in memory."""
    names = _files(storage, key)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stream(), after the response)
    with tarfile.open(fileobj=spool, mode="w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = int(storage.fs.size(storage.path(f"{key}/{name}")))
            with storage.open(f"{key}/{name}") as handle:
                tar.addfile(info, handle)
    spool.seek(0)
    return spool


def stream(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while block := handle.read(CHUNK):
            yield block
