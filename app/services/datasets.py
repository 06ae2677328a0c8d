"""Datasets: validated JSONL files in storage, their facts in the database.

Files and rows move together. A new dataset's files are put in storage before its row is
flushed, and a hook on the session deletes them if the transaction rolls back (a failed
commit included); a deleted dataset's files go only once the deletion is committed. So a
reader that finds a row always finds its files, and a rejected upload leaves nothing.

Splits: ``split()`` draws ``validation_percent`` of a dataset's rows at random (seeded, so the
same dataset, percent and seed always give the same rows) into a validation dataset and the
rest into a train dataset. Both are new datasets linked to their source (``split_of_id``,
``split``); they reuse the source's data file through an index of their own, so a split copies
no rows. The source stays as it was; deleting it deletes its splits.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from app.core.config import Settings
from app.core.errors import Conflict, InvalidInput, NotFound, field_errors
from app.core.storage import STAGING_MAX_AGE, TEMP_MARK, Storage
from app.ingest import files as dataset_files
from app.ingest.files import RowRef
from app.ingest.jsonl import Tally
from app.ingest.uploads import StagedUpload
from app.models import Dataset, User
from app.schemas.dataset import DatasetUploadForm

log = logging.getLogger("rft.datasets")

MAX_PAGE = 1000
_HOOKS = "rft_storage_hooks"


def storage_for(session: Session, storage: Storage | None = None) -> Storage:
    """``storage``, or the one configured for the app that made ``session``."""
    if storage is not None:
        return storage
    settings = session.info.get("settings")
    return Storage.from_settings(settings if isinstance(settings, Settings) else Settings())


def parse_upload_form(fields: dict[str, str]) -> DatasetUploadForm:
    values = {k: v for k, v in fields.items() if v.strip() != ""}
    try:
        return DatasetUploadForm.model_validate(values)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        raise InvalidInput("Invalid upload", errors) from None


def create(
    session: Session, storage: Storage, owner: User, staged: StagedUpload, form: DatasetUploadForm
) -> Dataset:
    """A dataset from a received upload; with ``form.validation_percent``, its split too."""
    report = staged.report
    if not report.ok:
        raise InvalidInput("Invalid dataset", report.problems())
    key = _new_key()
    _after(session, "rollback", lambda: storage.delete_dir(key))
    row = Dataset(
        owner_id=owner.id,
        name=form.name or _name_from(staged.filename),
        format=report.format,
        row_count=report.rows,
        size_bytes=report.size_bytes,
        storage_dir=key,
        data_file=f"{key}/data.jsonl",
        meta={"filename": staged.filename, **report.metadata()},
    )
    try:
        storage.put_file(staged.index_path, row.index_file)
        storage.put_file(staged.data_path, row.data_file)
    except BaseException:
        storage.delete_dir(key)
        raise
    session.add(row)
    session.flush()
    if form.validation_percent is not None:
        split(session, storage, owner, row.id, form.validation_percent, form.seed)
    return row


def list_for(session: Session, owner: User, offset: int = 0, limit: int = 100) -> list[Dataset]:
    query = select(Dataset).where(Dataset.owner_id == owner.id).order_by(Dataset.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_for(session: Session, owner: User) -> int:
    return session.scalar(select(func.count()).where(Dataset.owner_id == owner.id)) or 0


def get(session: Session, owner: User, dataset_id: int) -> Dataset:
    row = session.get(Dataset, dataset_id)
    if row is None or row.owner_id != owner.id:
        raise NotFound(f"Dataset {dataset_id} not found")
    return row


def delete(session: Session, storage: Storage, owner: User, dataset_id: int) -> None:
    """Deletes the dataset and its splits; their files go once the deletion is committed."""
    row = get(session, owner, dataset_id)
    folders = [row.storage_dir, *(s.storage_dir for s in row.splits)]
    if row.split_of_id is not None:
        parent = get(session, owner, row.split_of_id)
        for sibling in parent.splits:
            if (sibling.meta.get("split") or {}).get("pair_id") == row.id:
                sibling.meta = {**sibling.meta, "split": {**sibling.meta["split"], "pair_id": None}}
        parent.splits.remove(row)
    session.delete(row)
    session.flush()
    _after(session, "commit", lambda: _delete_dirs(storage, folders))


def read_page(
    session: Session,
    owner: User,
    dataset_id: int,
    offset: int,
    limit: int,
    *,
    storage: Storage | None = None,
) -> tuple[Dataset, list[tuple[RowRef, bytes]]]:
    """Rows ``offset`` to ``offset + limit`` (fewer at the end) with their index records, as
    the bytes stored: valid JSON objects, so an API answer can carry them without re-encoding.
    """
    problems = []
    if offset < 0:
        problems.append({"field": "offset", "message": "must be 0 or more"})
    if not 1 <= limit <= MAX_PAGE:
        problems.append({"field": "limit", "message": f"must be from 1 to {MAX_PAGE}"})
    if problems:
        raise InvalidInput("Invalid page", problems)
    row = get(session, owner, dataset_id)
    limit = min(limit, max(row.row_count - offset, 0))
    if not limit:
        return row, []
    storage = storage_for(session, storage)
    return row, dataset_files.read_page(storage, row.index_file, row.data_file, offset, limit)


def read_rows(
    session: Session,
    owner: User,
    dataset_id: int,
    offset: int,
    limit: int,
    *,
    storage: Storage | None = None,
) -> list[dict[str, Any]]:
    """A page of rows as dicts, every field with its JSON type (for previews and checks)."""
    _row, page = read_page(session, owner, dataset_id, offset, limit, storage=storage)
    return [dataset_files.decode_row(data) for _ref, data in page]


def read_rows_at(
    session: Session,
    owner: User,
    dataset_id: int,
    indices: Sequence[int],
    *,
    storage: Storage | None = None,
) -> list[dict[str, Any]]:
    """The rows at ``indices`` (from 0), in that order; an index out of range is an error."""
    row = get(session, owner, dataset_id)
    wrong = [i for i in indices if not 0 <= i < row.row_count]
    if wrong or len(indices) > MAX_PAGE:
        message = f"rows must be at most {MAX_PAGE} indices from 0 to {row.row_count - 1}"
        raise InvalidInput("Invalid rows", [{"field": "rows", "message": message}])
    storage = storage_for(session, storage)
    refs = dataset_files.refs_at(storage, row.index_file, indices)
    return list(
        map(dataset_files.decode_row, dataset_files.read_bytes(storage, row.data_file, refs))
    )


def iter_rows(storage: Storage, dataset: Dataset) -> Iterator[dict[str, Any]]:
    """Every row in order, streamed (constant memory): what training reads."""
    return dataset_files.iter_rows(storage, dataset.index_file, dataset.data_file)


def split(
    session: Session,
    storage: Storage,
    owner: User,
    dataset_id: int,
    validation_percent: float,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """New train and validation datasets drawn from ``dataset_id`` (see the module's notes)."""
    source = get(session, owner, dataset_id)
    held_out = _validation_rows(source, validation_percent, seed)
    keys = _new_key(), _new_key()
    _after(session, "rollback", lambda: _delete_dirs(storage, keys))
    chosen = dataset_files.choose_validation(source.row_count, held_out, seed)
    tallies = dataset_files.write_split(
        storage, source.index_file, chosen, f"{keys[0]}/rows.idx", f"{keys[1]}/rows.idx"
    )
    settings = {"validation_percent": validation_percent, "seed": seed}
    train, validation = (
        _split_part(source, part, key, tally, settings)
        for part, key, tally in zip(("train", "validation"), keys, tallies, strict=True)
    )
    source.splits.extend((train, validation))
    session.flush()
    for one, other in ((train, validation), (validation, train)):
        one.meta = {**one.meta, "split": {**settings, "pair_id": other.id}}
    session.flush()
    return train, validation


def _split_part(
    source: Dataset, part: str, key: str, tally: Tally, settings: dict[str, Any]
) -> Dataset:
    percent = settings["validation_percent"]
    share = 100 - percent if part == "train" else percent
    return Dataset(
        owner_id=source.owner_id,
        name=f"{source.name[:160]} ({part} {share:g}%)",
        format=source.format,
        row_count=tally.rows,
        size_bytes=tally.size_bytes,
        storage_dir=key,
        data_file=source.data_file,
        split_of_id=source.id,
        split=part,
        meta={
            **source.meta,
            "warnings": [],
            "warning_count": 0,
            "tokens": tally.tokens(),
            "rows_with_answer": tally.answers,
            "split": settings,
        },
    )


def _validation_rows(source: Dataset, percent: float, seed: int) -> int:
    """How many rows the split holds out; refuses a split that is not worth making."""
    if source.split_of_id is not None:
        message = (
            f"dataset {source.id} is already a split of dataset {source.split_of_id}: "
            "split that one"
        )
        raise InvalidInput("Invalid split", [{"field": "dataset_id", "message": message}])
    count = round(source.row_count * percent / 100)
    if not 0 < count < source.row_count:
        message = f"{percent:g}% of {source.row_count:,} rows leaves a split with no rows"
        raise InvalidInput("Invalid split", [{"field": "validation_percent", "message": message}])
    same = [
        str(s.id)
        for s in source.splits
        if (s.meta.get("split") or {}).get("validation_percent") == percent
        and s.meta["split"].get("seed") == seed
    ]
    if same:
        raise Conflict(f"Dataset {source.id} already has this split: datasets {', '.join(same)}")
    return count


def _delete_dirs(storage: Storage, keys: Sequence[str]) -> None:
    for key in keys:
        storage.delete_dir(key)


def _new_key() -> str:
    return f"datasets/{uuid.uuid4().hex}"


def _name_from(filename: str | None) -> str:
    stem = PurePosixPath((filename or "").replace("\\", "/")).stem.strip()
    return (stem or "dataset")[:200]


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Runs ``action`` once the session's transaction is committed (files follow rows)."""
    _after(session, "commit", action)


def _after(session: Session, outcome: str, action: Callable[[], object]) -> None:
    """Runs ``action`` when the session's transaction ends in ``outcome`` (commit|rollback)."""
    hooks = session.info.get(_HOOKS)
    if hooks is None:
        hooks = session.info[_HOOKS] = {"commit": [], "rollback": []}
        event.listen(session, "after_commit", lambda s: _run_hooks(s, "commit"))
        event.listen(session, "after_soft_rollback", _after_rollback)
    hooks[outcome].append(action)


def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    # Every rollback of the whole transaction, also the one after a failed commit; not the
    # rollback of a savepoint.
    if not previous.nested:
        _run_hooks(session, "rollback")


def _run_hooks(session: Session, outcome: str) -> None:
    hooks = session.info[_HOOKS]
    actions = hooks[outcome]
    hooks["commit"], hooks["rollback"] = [], []
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("cleaning up dataset files after %s failed", outcome)


def sweep_partials(storage: Storage, older_than_s: float = STAGING_MAX_AGE) -> int:
    """Remove `.partial-` files a crashed writer left in storage; returns how many.

    Called at start (`rft serve`, `rft worker`). Only files older than `older_than_s` go:
    another replica sharing the storage may be writing one right now."""
    removed = 0
    cutoff = time.time() - older_than_s
    try:
        found = storage.fs.find(storage.root, detail=True)
    except FileNotFoundError:
        return 0
    for path, info in found.items():
        if TEMP_MARK not in path.rsplit("/", 1)[-1]:
            continue
        modified = info.get("mtime") or info.get("LastModified") or info.get("created")
        stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
        if stamp is None or float(stamp) < cutoff:
            with contextlib.suppress(OSError):
                storage.fs.rm(path)
                removed += 1
    return removed
