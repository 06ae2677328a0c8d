"""Wire format between the pool and a worker, and the shared progress record.

Frames are a 4-byte big-endian length plus a msgpack body (msgspec). Rows travel in chunks of
hundreds per frame so the per-row cost is a few microseconds, not a syscall round trip.

Progress is not sent as messages: the worker writes what it is doing (loading, row N, an async
group, idle) and since when into a small shared memory block (a memfd both sides map), under a
sequence counter. The parent's watchdog reads it to know which row overran its time limit —
even when the worker is stuck in C code and will never answer again.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from typing import Any

import msgspec

from .values import EntryPointInfo, SampleResult

_HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 30  # requests (parent to worker): rows can be large, and the parent is trusted


class Payload(msgspec.Struct):
    entry: EntryPointInfo
    code: str | None = None
    grader: dict[str, Any] | None = None


class RunRequest(msgspec.Struct, array_like=True):
    key: str
    payload: Payload | None
    rows: list[tuple[dict[str, Any], str | None]]
    timeout_s: float
    llm: dict[str, Any] | None = None
    async_group: int = 64  # async rows awaited together; 1 isolates a row that blocks


class Hello(msgspec.Struct, array_like=True, tag=1):
    """First frame of a worker: the isolation it actually achieved."""

    uid: int
    seccomp: bool
    problems: list[str]


class Results(msgspec.Struct, array_like=True, tag=2):
    positions: list[int]
    results: list[SampleResult]
    # The chunk's last frame: the worker is idle again once this is sent.
    done: bool = False
    # With done: user code left processes or threads running. The parent then replaces the
    # worker instead of letting them burn CPU between chunks.
    recycle: bool = False


_encoder = msgspec.msgpack.Encoder()
request_decoder = msgspec.msgpack.Decoder(RunRequest)
reply_decoder = msgspec.msgpack.Decoder(Results | Hello)


def encode(message: Any) -> bytes:
    body = _encoder.encode(message)
    if len(body) > MAX_FRAME:
        raise ValueError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return _HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes | None:
    """Blocking read of exactly `size` bytes; None at end of file."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def read_frame(fd: int) -> bytes | None:
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return read_exact(fd, size)


class FrameBuffer:
    """Non-blocking side: accumulate bytes, hand out complete frame bodies.

    The length header is checked as soon as it arrives, before the body is kept: a frame over
    `limit` is refused (ValueError) having buffered at most one read's worth."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._data = bytearray()
        self.limit = limit

    def feed(self, chunk: bytes) -> list[bytes]:
        self._data += chunk
        frames = []
        offset = 0
        while len(self._data) - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._data, offset)
            if size > self.limit:
                raise ValueError(f"sent a frame of {size} bytes (limit {self.limit} bytes)")
            end = offset + _HEADER.size + size
            if len(self._data) < end:
                break
            frames.append(bytes(self._data[offset + _HEADER.size : end]))
            offset = end
        del self._data[:offset]
        return frames


# Progress record: seq, phase, pos, count, start_ns (monotonic clock, shared by both sides).
_PROGRESS = struct.Struct("=qqqqq")
PROGRESS_SIZE = _PROGRESS.size
IDLE, LOADING, ROW, GROUP = 0, 1, 2, 3


def create_progress_fd() -> int:
    fd = os.memfd_create("evaluator-progress", 0)  # inheritable only via pass_fds
    os.ftruncate(fd, mmap.PAGESIZE)
    return fd


class ProgressWriter:
    """Worker side. Writes are a few hundred nanoseconds: cheap enough for every row."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, mmap.PAGESIZE)
        self._seq = 0

    def set(self, phase: int, pos: int = 0, count: int = 0) -> None:
        self._seq += 1  # odd: being written
        _PROGRESS.pack_into(self._map, 0, self._seq, phase, pos, count, time.monotonic_ns())
        self._seq += 1
        struct.pack_into("=q", self._map, 0, self._seq)


class ProgressReader:
    """Parent side: a consistent (phase, pos, count, start_ns) snapshot."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, mmap.PAGESIZE)

    def read(self) -> tuple[int, int, int, int]:
        for _ in range(100):
            seq, phase, pos, count, start = _PROGRESS.unpack_from(self._map, 0)
            if seq % 2 == 0 and _PROGRESS.unpack_from(self._map, 0)[0] == seq:
                return phase, pos, count, start
        return _PROGRESS.unpack_from(self._map, 0)[1:]

    def close(self) -> None:
        self._map.close()
