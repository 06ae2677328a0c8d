"""The datasets service: files and rows move together, reads through the index, splits."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.storage import Storage, staging_dir
from app.ingest.uploads import StagedUpload, stage_bytes
from app.models import Dataset, User
from app.schemas.dataset import DatasetUploadForm
from app.services import datasets
from tests.conftest import Account


def make_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "messages": [{"role": "user", "content": f"question {i}"}],
            "ground_truth": i,
            "tags": ["a", {"deep": [i, 1.5, None, True]}],
        }
        for i in range(count)
    ]


def stage(folder: Path, data: bytes, filename: str = "rows.jsonl") -> StagedUpload:
    """What uploads.receive leaves behind: the file and its index in the staging folder."""
    folder.mkdir(parents=True, exist_ok=True)
    return stage_bytes(folder, data, filename)


def encode(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return Storage.from_settings(settings)


@pytest.fixture
def memory() -> Iterator[Storage]:
    """Storage that is not a local folder: fsspec's in-memory filesystem (process-wide)."""
    storage = Storage(f"memory://rft-test-{uuid.uuid4().hex}")
    yield storage
    if storage.fs.exists(storage.root):
        storage.fs.rm(storage.root, recursive=True)


@pytest.fixture
def root(settings: Settings) -> Path:
    return Path(settings.storage)


@pytest.fixture
def owner(alice: Account) -> User:
    return alice.user


@pytest.fixture
def create(session_factory: sessionmaker[Session], storage: Storage, owner: User, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(rows: list[dict[str, Any]], **form: Any) -> Dataset:
        staged = stage(tmp_path / "staging", encode(rows))
        with transaction(session_factory) as session:
            return datasets.create(session, storage, owner, staged, DatasetUploadForm(**form))

    return make


def count_datasets(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Dataset)) or 0


class TestCreate:
    def test_row_and_files(
        self, create, session_factory, storage: Storage, owner: User, root: Path
    ) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(30), name="math")
        assert (row.name, row.format, row.row_count) == ("math", "messages", 30)
        assert sorted(p.name for p in files_in(root)) == ["data.jsonl", "rows.idx"]
        with session_factory() as session:
            rows = datasets.read_rows(session, owner, row.id, 28, 10, storage=storage)
        assert rows == make_rows(30)[28:]

    def test_default_name_is_the_file_stem(self, session_factory, storage, owner, tmp_path) -> None:  # type: ignore[no-untyped-def]
        staged = stage(tmp_path, encode(make_rows(1)), "C:\\data\\gsm8k train.jsonl")
        with transaction(session_factory) as session:
            row = datasets.create(session, storage, owner, staged, DatasetUploadForm())
        assert row.name == "gsm8k train"

    def test_rejected_file_leaves_nothing(
        self, session_factory, storage, owner, tmp_path: Path, root: Path
    ) -> None:  # type: ignore[no-untyped-def]
        staged = stage(tmp_path, encode(make_rows(3)) + b"{oops\n")
        with pytest.raises(InvalidInput) as caught, transaction(session_factory) as session:
            datasets.create(session, storage, owner, staged, DatasetUploadForm())
        assert caught.value.errors[0]["line"] == 4
        assert count_datasets(session_factory) == 0 and files_in(root) == []

    def test_failed_commit_removes_the_files(
        self, session_factory, storage, owner, tmp_path: Path, root: Path
    ) -> None:  # type: ignore[no-untyped-def]
        staged = stage(tmp_path, encode(make_rows(3)))
        session = session_factory()

        @event.listens_for(session, "before_commit")
        def _refuse(_session: Session) -> None:
            raise RuntimeError("database went away")

        datasets.create(session, storage, owner, staged, DatasetUploadForm(validation_percent=50))
        assert len(files_in(root)) == 4  # data + index, and the two split indexes
        with pytest.raises(RuntimeError):
            session.commit()
        session.rollback()
        session.close()
        assert files_in(root) == [] and count_datasets(session_factory) == 0

    def test_files_outside_a_local_folder(self, session_factory, owner, tmp_path, memory) -> None:  # type: ignore[no-untyped-def]
        staged = stage(tmp_path, encode(make_rows(5)))
        with transaction(session_factory) as session:
            row = datasets.create(session, memory, owner, staged, DatasetUploadForm())
            train, _validation = datasets.split(session, memory, owner, row.id, 40, seed=1)
        with session_factory() as session:
            assert datasets.read_rows(session, owner, row.id, 0, 5, storage=memory) == make_rows(5)
            assert len(datasets.read_rows(session, owner, train.id, 0, 5, storage=memory)) == 3
        assert not [p for p in memory.fs.find(memory.root) if ".partial-" in p]


class TestRead:
    def test_pages_and_indices(self, create, session_factory, storage, owner) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(50))
        with session_factory() as session:
            _row, page = datasets.read_page(session, owner, row.id, 45, 100, storage=storage)
            assert [ref.position for ref, _ in page] == [45, 46, 47, 48, 49]
            assert datasets.read_page(session, owner, row.id, 50, 10, storage=storage)[1] == []
            picked = datasets.read_rows_at(session, owner, row.id, [49, 0, 7], storage=storage)
            assert [r["ground_truth"] for r in picked] == [49, 0, 7]
            with pytest.raises(InvalidInput) as caught:
                datasets.read_rows_at(session, owner, row.id, [50], storage=storage)
            assert caught.value.errors[0]["field"] == "rows"

    def test_bad_page_names_the_field(self, create, session_factory, storage, owner) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(2))
        with session_factory() as session, pytest.raises(InvalidInput) as caught:
            datasets.read_rows(session, owner, row.id, -1, 1001, storage=storage)
        assert [e["field"] for e in caught.value.errors] == ["offset", "limit"]

    def test_iter_rows_streams_every_row(self, create, storage) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(40))
        assert list(datasets.iter_rows(storage, row)) == make_rows(40)

    def test_storage_comes_from_the_app_settings(
        self, create, session_factory, settings, owner
    ) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(3))
        factory = sessionmaker(bind=session_factory.kw["bind"], info={"settings": settings})
        with factory() as session:
            assert datasets.read_rows(session, owner, row.id, 0, 3) == make_rows(3)

    def test_other_users_dataset_is_not_found(
        self, create, session_factory, storage, bob: Account
    ) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(2))
        with session_factory() as session, pytest.raises(NotFound):
            datasets.read_rows(session, bob.user, row.id, 0, 1, storage=storage)


class TestDelete:
    def test_files_go_when_the_deletion_commits(
        self, create, session_factory, storage, owner, root: Path
    ) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(10), validation_percent=20)
        with session_factory() as session:
            datasets.delete(session, storage, owner, row.id)
            assert len(files_in(root)) == 4
            session.rollback()  # changed its mind: nothing is lost
        assert len(files_in(root)) == 4 and count_datasets(session_factory) == 3
        with transaction(session_factory) as session:
            datasets.delete(session, storage, owner, row.id)
        assert files_in(root) == [] and count_datasets(session_factory) == 0

    def test_deleting_a_split_keeps_its_source(
        self, create, session_factory, storage, owner, root: Path
    ) -> None:  # type: ignore[no-untyped-def]
        row = create(make_rows(10), validation_percent=20)
        with transaction(session_factory) as session:
            train, _validation = datasets.get(session, owner, row.id).splits
            datasets.delete(session, storage, owner, train.id)
        with session_factory() as session:
            source = datasets.get(session, owner, row.id)
            assert [s.split for s in source.splits] == ["validation"]
            assert source.splits[0].meta["split"]["pair_id"] is None
            assert len(datasets.read_rows(session, owner, row.id, 0, 10, storage=storage)) == 10
        assert len(files_in(root)) == 3


class TestSplit:
    @pytest.fixture
    def source(self, create) -> Dataset:  # type: ignore[no-untyped-def]
        return create(make_rows(200), name="src")

    def split(self, factory, storage, owner, source_id, percent=10.0, seed=0) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
        with transaction(factory) as session:
            train, validation = datasets.split(session, storage, owner, source_id, percent, seed)
            rows = [
                [r.get("ground_truth") for r in datasets.iter_rows(storage, part)]
                for part in (train, validation)
            ]
            return train, validation, rows

    def test_disjoint_complete_and_reproducible(
        self, source, session_factory, storage, owner
    ) -> None:  # type: ignore[no-untyped-def]
        train, validation, (train_rows, validation_rows) = self.split(
            session_factory, storage, owner, source.id, 10, seed=7
        )
        assert (train.row_count, validation.row_count) == (180, 20)
        assert sorted(train_rows + validation_rows) == list(range(200))
        assert train_rows == sorted(train_rows)  # source order is kept
        assert (train.name, validation.name) == ("src (train 90%)", "src (validation 10%)")
        assert train.meta["split"] == {
            "validation_percent": 10,
            "seed": 7,
            "pair_id": validation.id,
        }
        with transaction(session_factory) as session:
            datasets.delete(session, storage, owner, train.id)
            datasets.delete(session, storage, owner, validation.id)
        again = self.split(session_factory, storage, owner, source.id, 10, seed=7)
        assert again[2][1] == validation_rows
        other = self.split(session_factory, storage, owner, source.id, 10, seed=8)
        assert other[2][1] != validation_rows

    def test_same_split_twice_is_a_conflict(self, source, session_factory, storage, owner) -> None:  # type: ignore[no-untyped-def]
        self.split(session_factory, storage, owner, source.id, 10, 1)
        with pytest.raises(Conflict):
            self.split(session_factory, storage, owner, source.id, 10, 1)
        self.split(session_factory, storage, owner, source.id, 10, 2)

    def test_split_metadata_is_recounted(self, create, session_factory, storage, owner) -> None:  # type: ignore[no-untyped-def]
        rows = [{"prompt": "x" * (4 * (i + 1))} for i in range(4)]
        source = create(rows)
        train, validation, _ = self.split(session_factory, storage, owner, source.id, 50, 0)
        both = sorted([train.meta["tokens"]["total"], validation.meta["tokens"]["total"]])
        assert sum(both) == 1 + 2 + 3 + 4
        assert train.size_bytes + validation.size_bytes == source.size_bytes - 4  # newlines

    @pytest.mark.parametrize("percent", [0.1, 99.9])
    def test_split_with_an_empty_side_is_refused(
        self, source, session_factory, storage, owner, percent: float
    ) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(InvalidInput) as caught:
            self.split(session_factory, storage, owner, source.id, percent)
        assert caught.value.errors[0]["field"] == "validation_percent"

    def test_a_split_is_not_split_again(self, source, session_factory, storage, owner) -> None:  # type: ignore[no-untyped-def]
        train, _validation, _ = self.split(session_factory, storage, owner, source.id)
        with pytest.raises(InvalidInput) as caught:
            self.split(session_factory, storage, owner, train.id)
        assert caught.value.errors[0]["field"] == "dataset_id"


class TestStorage:
    def test_writer_publishes_only_a_finished_file(self, storage: Storage, root: Path) -> None:
        with pytest.raises(RuntimeError), storage.writer("datasets/x/rows.idx") as handle:
            handle.write(b"half")
            raise RuntimeError("disk full")
        assert files_in(root) == []
        with storage.writer("datasets/x/rows.idx") as handle:
            handle.write(b"whole")
        assert [p.read_bytes() for p in files_in(root)] == [b"whole"]

    def test_keys_stay_under_the_root(self, storage: Storage) -> None:
        for key in ("../etc/passwd", "/etc/passwd", "datasets/../../x"):
            with pytest.raises(ValueError):
                storage.path(key)

    def test_staging_sweeps_what_a_killed_server_left(self, settings: Settings) -> None:
        folder = staging_dir(settings)
        old, fresh = folder / "old.jsonl", folder / "fresh.jsonl"
        old.write_bytes(b"x")
        fresh.write_bytes(b"y")
        day_ago = time.time() - 25 * 3600
        os.utime(old, (day_ago, day_ago))
        staging_dir(settings)
        assert not old.exists() and fresh.exists()
