"""Celery tasks: thin wrappers that take ids and call worker code."""

from __future__ import annotations

import os
import socket
import time

from celery import shared_task


def _pong(sent_at: float) -> dict[str, object]:
    return {
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "received_after_ms": round((time.time() - sent_at) * 1000, 1),
    }


@shared_task(name="rft.ping.cpu")
def ping_cpu(sent_at: float) -> dict[str, object]:
    return _pong(sent_at)


@shared_task(name="rft.ping.gpu")
def ping_gpu(sent_at: float) -> dict[str, object]:
    return _pong(sent_at)
