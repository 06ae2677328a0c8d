"""Parquet uploads (verl and Hugging Face datasets ship Parquet), read with pyarrow, streamed.

The uploaded bytes are kept as they arrive; at the end the file is read one record batch at a
time and every row becomes one JSONL line, fed to the same validator as a JSONL upload: the same
rules, the same index, errors named by row ("line" = row number, from 1). Memory holds one
batch, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

MAGIC = b"PAR1"
BATCH_ROWS = 1024
_encode = msgspec.json.Encoder(enc_hook=str).encode


class ParquetError(ValueError):
    """The file starts like Parquet but cannot be read as Parquet."""


def is_parquet(head: bytes) -> bool:
    return head[:4] == MAGIC


def jsonl_blocks(path: Path, block_bytes: int = 1 << 20) -> Iterator[bytes]:
    """The Parquet file at ``path`` as JSONL, in blocks of about ``block_bytes``."""
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...: all mean unreadable
        raise ParquetError(f"not a readable Parquet file: {exc}") from None
    block = bytearray()
    try:
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                block += _encode(_plain(row))
                block += b"\n"
                if len(block) >= block_bytes:
                    yield bytes(block)
                    block.clear()
    except ParquetError:
        raise
    except Exception as exc:
        raise ParquetError(f"cannot read the Parquet file: {exc}") from None
    if block:
        yield bytes(block)


def _plain(value: Any) -> Any:
    """pyarrow's Python values as JSON values (numpy arrays from list columns become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def convert(path: Path, data: IO[bytes], feed: Any) -> None:
    """Write the JSONL form of the Parquet file to ``data`` and feed it to the validator."""
    for block in jsonl_blocks(path):
        data.write(block)
        feed(block)
