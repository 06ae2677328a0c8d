"""Start-up checks: each failure becomes one line that names the setting to fix."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from sqlalchemy import text

from app.core.config import Settings
from app.core.db import make_engine


class SettingError(Exception):
    """A setting that stops start-up; str() is the one line a user reads."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def load(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "RFT_" + str(err["loc"][0]).upper() if err.get("loc") else "settings"
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingError(name, message) from None


def check_data_dir(settings: Settings) -> None:
    """The data dir exists, is writable and is private: 0700, and everything this process
    creates from now on is 0600/0700 (umask 077). Evaluators without bubblewrap run as other
    uids; they must not read the database, the broker's messages or anyone's datasets."""
    path = settings.data_path
    os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
            for name in ("rft.db", "rft.db-wal", "rft.db-shm"):
                with contextlib.suppress(FileNotFoundError):
                    (path / name).chmod(0o600)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise SettingError(
            "RFT_DATA_DIR", f"{path} is not writable ({exc.strerror or exc}): pick another folder"
        ) from None


def check_database(settings: Settings) -> None:
    url = settings.database
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise SettingError(
            "RFT_DATABASE_URL", f"cannot connect to {redact(url)}: {_first_line(exc)}"
        ) from None
    finally:
        engine.dispose()


def check_broker(settings: Settings) -> None:
    if settings.broker_is_filesystem:
        try:
            settings.broker_folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingError("RFT_DATA_DIR", f"cannot create the broker folder: {exc}") from None
        return
    from kombu import Connection

    try:
        with Connection(settings.broker, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        raise SettingError(
            "RFT_BROKER_URL", f"cannot connect to {redact(settings.broker)}: {_first_line(exc)}"
        ) from None


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts so a busy port fails first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SettingError(
                "RFT_PORT", f"port {port} on {host} is already in use: choose another with --port"
            ) from None
        raise SettingError("RFT_HOST", f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
