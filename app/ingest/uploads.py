"""Receiving a dataset upload: the multipart body streamed to a staging file as it is validated.

The body arrives in chunks; python-multipart finds the parts. The ``file`` part's bytes are
gathered into blocks of about 1 MiB; each block is written to the staging file and fed to the
validator in a worker thread, so memory stays at a few blocks whatever the file's size and the
event loop stays free. Other parts are short text fields. The caller gets a ``StagedUpload``
and must ``discard()`` it (a no-op once its files were moved into storage).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from anyio import to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import InvalidInput, PayloadTooLarge
from app.core.storage import describe_bytes
from app.ingest import parquet
from app.ingest.jsonl import JsonlValidator, Report

BLOCK_BYTES = 1024 * 1024
FRAMING_ALLOWANCE = 64 * 1024  # multipart headers and the small text fields
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 16
FILE_FIELD = "file"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the upload limit of {describe_bytes(limit)} ({limit:,} bytes)",
        [{"field": FILE_FIELD, "message": f"larger than {limit:,} bytes"}],
    )


@dataclass
class StagedUpload:
    """A received file in the staging folder, its row index beside it, and the form fields."""

    data_path: Path
    index_path: Path
    report: Report
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None

    def discard(self) -> None:
        self.data_path.unlink(missing_ok=True)
        self.index_path.unlink(missing_ok=True)


class _Receiver:
    """The multipart parser's callbacks: the file part to disk and validator, fields to text."""

    def __init__(self, staging: Path, boundary: bytes, max_bytes: int) -> None:
        stem = staging / uuid.uuid4().hex
        self.data_path, self.index_path = stem.with_suffix(".jsonl"), stem.with_suffix(".idx")
        self._data: IO[bytes] = self.data_path.open("wb")
        self._index: IO[bytes] = self.index_path.open("wb")
        self.validator = JsonlValidator(self._index)
        self.max_bytes = max_bytes
        self.received = 0
        self.block = bytearray()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.complete = False
        self.file_seen = False
        self.parquet_path: Path | None = None  # set when the file turns out to be Parquet
        self._parquet: IO[bytes] | None = None
        self._headers: dict[str, bytes] = {}
        self._header = (bytearray(), bytearray())
        self._part: str | None = None
        self._text = bytearray()
        self.parser = MultipartParser(boundary, self._callbacks())

    def _callbacks(self) -> Any:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header[0].extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header[1].extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._part, self._text = {}, None, bytearray()

    def _header_end(self) -> None:
        name, value = self._header
        self._headers[bytes(name).decode("latin-1").lower()] = bytes(value)
        self._header = (bytearray(), bytearray())

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part = options.get(b"name", b"").decode("utf-8", "replace")
        if self._part == FILE_FIELD:
            if self.file_seen:
                raise InvalidInput(
                    "Invalid upload", [{"field": FILE_FIELD, "message": "send one file"}]
                )
            self.file_seen = True
            filename = options.get(b"filename")
            self.filename = filename.decode("utf-8", "replace") if filename else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == FILE_FIELD:
            self.received += end - start
            if self.received > self.max_bytes:
                raise too_large(self.max_bytes)
            self.block += memoryview(data)[start:end]
        else:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                problem = f"longer than {MAX_FIELD_BYTES} bytes"
                raise InvalidInput("Invalid upload", [{"field": self._part, "message": problem}])

    def _part_end(self) -> None:
        if self._part and self._part != FILE_FIELD:
            self.fields[self._part] = self._text.decode("utf-8", "replace")
            if len(self.fields) > MAX_FIELDS:
                raise InvalidInput(
                    "Invalid upload", [{"field": "body", "message": "too many fields"}]
                )

    def _end(self) -> None:
        self.complete = True

    def take_block(self) -> bytes:
        block, self.block = bytes(self.block), bytearray()
        return block

    def consume(self, block: bytes) -> None:
        """Runs in a worker thread: the block to the staging file and the validator."""
        if self.validator.size == 0 and self._parquet is None and parquet.is_parquet(block):
            self.parquet_path = self.data_path.with_suffix(".parquet")
            self._parquet = self.parquet_path.open("wb")
        if self._parquet is not None:  # read at the end: Parquet keeps its schema last
            self._parquet.write(block)
            return
        if not self.validator.failed:
            self._data.write(block)  # a rejected file is not kept: only counted to the end
        self.validator.feed(block)

    def finish(self) -> Report:
        if self._parquet is not None and self.parquet_path is not None:
            self._parquet.close()
            try:
                parquet.convert(self.parquet_path, self._data, self.validator.feed)
            except parquet.ParquetError as exc:
                raise InvalidInput(
                    "Invalid upload", [{"field": FILE_FIELD, "message": str(exc)}]
                ) from None
            finally:
                self.parquet_path.unlink(missing_ok=True)
        report = self.validator.finish()
        self.close()
        return report

    def close(self) -> None:
        self._data.close()
        self._index.close()
        if self._parquet is not None:
            self._parquet.close()
        if self.parquet_path is not None:
            self.parquet_path.unlink(missing_ok=True)


def stage_bytes(staging: Path, data: bytes, filename: str | None = None) -> StagedUpload:
    """A file already in memory, staged as an upload would be (seed data, tests)."""
    stem = staging / uuid.uuid4().hex
    data_path, index_path = stem.with_suffix(".jsonl"), stem.with_suffix(".idx")
    with index_path.open("wb") as index:
        validator = JsonlValidator(index)
        if parquet.is_parquet(data):
            source = stem.with_suffix(".parquet")
            source.write_bytes(data)
            try:
                with data_path.open("wb") as out:
                    parquet.convert(source, out, validator.feed)
            finally:
                source.unlink(missing_ok=True)
        else:
            data_path.write_bytes(data)
            validator.feed(data)
        report = validator.finish()
    return StagedUpload(data_path, index_path, report, {}, filename)


def _boundary(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput(
            "Invalid upload",
            [{"field": FILE_FIELD, "message": "send the file as multipart/form-data"}],
        )
    return boundary


async def receive(
    chunks: AsyncIterator[bytes],
    content_type: str,
    content_length: int | None,
    staging: Path,
    max_bytes: int,
) -> StagedUpload:
    """Reads a multipart upload to its end; on any error nothing is left in ``staging``."""
    if content_length is not None and content_length > max_bytes + FRAMING_ALLOWANCE:
        raise too_large(max_bytes)
    receiver = _Receiver(staging, _boundary(content_type), max_bytes)
    try:
        async for chunk in chunks:
            _parse(receiver, chunk)
            if len(receiver.block) >= BLOCK_BYTES:
                await to_thread.run_sync(receiver.consume, receiver.take_block())
        _check_complete(receiver)
        await to_thread.run_sync(receiver.consume, receiver.take_block())
        report = await to_thread.run_sync(receiver.finish)
    except BaseException:
        receiver.close()
        for path in (receiver.data_path, receiver.index_path):
            path.unlink(missing_ok=True)
        raise
    return StagedUpload(
        receiver.data_path, receiver.index_path, report, receiver.fields, receiver.filename
    )


def _parse(receiver: _Receiver, chunk: bytes) -> None:
    try:
        receiver.parser.write(chunk)
    except MultipartParseError:
        problem = {"field": "body", "message": "malformed multipart body"}
        raise InvalidInput("Invalid upload", [problem]) from None


def _check_complete(receiver: _Receiver) -> None:
    if not receiver.complete:
        raise InvalidInput(
            "Upload interrupted: the body ended before the end of the multipart form",
            [{"field": FILE_FIELD, "message": "incomplete upload: nothing was stored"}],
        )
    if not receiver.file_seen:
        raise InvalidInput("Invalid upload", [{"field": FILE_FIELD, "message": "Field required"}])
