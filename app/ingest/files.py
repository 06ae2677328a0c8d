"""A dataset's files in storage: rows read back through the index, and split indexes written.

Layout under the storage root (see ``jsonl`` for the index format)::

    datasets/<key>/data.jsonl   the uploaded bytes, exactly as sent
    datasets/<key>/rows.idx     one 24-byte record per row: offset, length, tokens
    datasets/<split key>/rows.idx   a split: a subset of its source's records

A page costs two reads: ``limit`` records of the index at ``24 * offset``, then the bytes
from the first row's start to the last row's end (rows far apart are read separately).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import msgspec

from app.core.storage import Storage
from app.ingest.jsonl import (
    RECORD_BYTES,
    RECORD_WORDS,
    TOKEN_MASK,
    Tally,
    pack_records,
    unpack_records,
)

READ_THROUGH_GAP = 64 * 1024  # rows closer than this are fetched with one read
BATCH_ROWS = 65536

_decode = msgspec.json.Decoder().decode


class RowRef(NamedTuple):
    """A row's index record (a named tuple: pages build a thousand of these)."""

    position: int  # the row's index in its dataset, from 0
    start: int
    length: int
    tokens: int
    answer: bool


def _refs(words: Sequence[int], first: int) -> list[RowRef]:
    refs = []
    for i, w in enumerate(range(0, len(words), RECORD_WORDS)):
        word = words[w + 2]
        refs.append(RowRef(first + i, words[w], words[w + 1], word & TOKEN_MASK, word > TOKEN_MASK))
    return refs


def read_refs(storage: Storage, index_key: str, offset: int, limit: int) -> list[RowRef]:
    with storage.open(index_key) as handle:
        handle.seek(offset * RECORD_BYTES)
        data = handle.read(limit * RECORD_BYTES)
    return _refs(unpack_records(data), offset)


def refs_at(storage: Storage, index_key: str, indices: Sequence[int]) -> list[RowRef]:
    """The records of the given rows, in the order asked."""
    refs = []
    with storage.open(index_key) as handle:
        for index in indices:
            handle.seek(index * RECORD_BYTES)
            refs.extend(_refs(unpack_records(handle.read(RECORD_BYTES)), index))
    return refs


def iter_refs(storage: Storage, index_key: str) -> Iterator[list[RowRef]]:
    with storage.open(index_key) as handle:
        first = 0
        while data := handle.read(BATCH_ROWS * RECORD_BYTES):
            refs = _refs(unpack_records(data), first)
            first += len(refs)
            yield refs


def read_bytes(storage: Storage, data_key: str, refs: Sequence[RowRef]) -> list[bytes]:
    """Each row's bytes, in the order of ``refs``; rows close together share one read."""
    ordered = sorted(refs, key=lambda r: r.start)
    found: dict[int, bytes] = {}
    with storage.open(data_key) as handle:
        for group in _groups(ordered):
            base = group[0].start
            handle.seek(base)
            blob = handle.read(group[-1].start + group[-1].length - base)
            for ref in group:
                found[ref.start] = blob[ref.start - base : ref.start - base + ref.length]
    return [found[ref.start] for ref in refs]


def _groups(refs: list[RowRef]) -> Iterator[list[RowRef]]:
    group: list[RowRef] = []
    for ref in refs:
        if group and ref.start - (group[-1].start + group[-1].length) > READ_THROUGH_GAP:
            yield group
            group = []
        group.append(ref)
    if group:
        yield group


def decode_row(data: bytes) -> dict[str, Any]:
    """A stored row as Python values with its JSON types (big integers stay exact)."""
    row: dict[str, Any] = _decode(data)
    return row


def read_page(
    storage: Storage, index_key: str, data_key: str, offset: int, limit: int
) -> list[tuple[RowRef, bytes]]:
    """Rows as stored: each a valid JSON object (checked at upload), ready to be sent as is."""
    refs = read_refs(storage, index_key, offset, limit)
    return list(zip(refs, read_bytes(storage, data_key, refs), strict=True))


def iter_rows(storage: Storage, index_key: str, data_key: str) -> Iterator[dict[str, Any]]:
    for refs in iter_refs(storage, index_key):
        yield from map(decode_row, read_bytes(storage, data_key, refs))


# Splits


def choose_validation(rows: int, count: int, seed: int) -> bytearray:
    """A bitmap of ``count`` rows out of ``rows``, the same for the same seed on any machine.

    Floyd's sampling, drawing only with ``Random.random()``, whose sequence for an integer seed
    Python guarantees across versions. Memory: one bit per row.
    """
    rng = random.Random(seed)
    bits = bytearray((rows + 7) // 8)
    for j in range(rows - count, rows):
        pick = int(rng.random() * (j + 1))
        if bits[pick >> 3] >> (pick & 7) & 1:
            pick = j
        bits[pick >> 3] |= 1 << (pick & 7)
    return bits


def write_split(
    storage: Storage, source_index: str, chosen: bytearray, train_index: str, validation_index: str
) -> tuple[Tally, Tally]:
    """Writes the train and validation indexes: the source's records, split by ``chosen``."""
    train, validation = Tally(), Tally()
    row = 0
    with (
        storage.open(source_index) as source,
        storage.writer(train_index) as train_out,
        storage.writer(validation_index) as validation_out,
    ):
        while data := source.read(BATCH_ROWS * RECORD_BYTES):
            words = unpack_records(data)
            kept: tuple[list[int], list[int]] = ([], [])
            for w in range(0, len(words), RECORD_WORDS):
                kept[chosen[row >> 3] >> (row & 7) & 1].extend(words[w : w + RECORD_WORDS])
                row += 1
            for tally, part, out in (
                (train, kept[0], train_out),
                (validation, kept[1], validation_out),
            ):
                tally.add(part)
                out.write(pack_records(part))
    return train, validation
