"""A stand-in for the Hugging Face hub on 127.0.0.1 (HF_ENDPOINT points at it): this host has
no internet. It answers the calls `huggingface_hub.snapshot_download` makes (revision, tree,
HEAD and GET of each file), can stream one file slowly (to watch progress) and refuse one
(to fail a download half-way)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    files: dict[str, bytes]
    slow: set[str] = field(default_factory=set)  # streamed over ~SLOW_SECONDS
    missing: set[str] = field(default_factory=set)  # listed, but 404 when fetched


SLOW_SECONDS = 3.0
CHUNKS = 30


def model_files(context: int = 256, weights: int = 3_000_000) -> dict[str, bytes]:
    """What a model repo holds, as far as listing and registering it go."""
    config = {"architectures": ["LlamaForCausalLM"], "max_position_embeddings": context}
    return {
        "config.json": json.dumps(config).encode(),
        "tokenizer.json": b"{}",
        "tokenizer_config.json": json.dumps({"chat_template": "{{ x }}"}).encode(),
        "model.safetensors": bytes(weights),
    }


def _handler(repos: dict[str, Repo]) -> type[BaseHTTPRequestHandler]:
    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _repo(self, repo_id: str) -> Repo | None:
            return repos.get(repo_id)

        def _api(self, path: str) -> None:
            # /api/models/{org}/{name}/revision/main | /api/models/{org}/{name}/tree/{sha}
            parts = path.split("?")[0].split("/")
            if len(parts) < 7 or parts[2] != "models":  # e.g. huggingface_hub's own look-ups
                return self._not_found("NotFound")
            repo_id, kind = f"{parts[3]}/{parts[4]}", parts[5]
            repo = self._repo(repo_id)
            if repo is None:
                return self._not_found("RepoNotFound")
            if kind == "revision":
                files = [{"rfilename": name} for name in repo.files]
                return self._json({"id": repo_id, "sha": SHA, "siblings": files})
            tree = [
                {"type": "file", "path": name, "size": len(data), "oid": _oid(data)}
                for name, data in repo.files.items()
            ]
            return self._json(tree)

        def _file(self, path: str, body: bool) -> None:
            # /{org}/{name}/resolve/{sha}/{file}
            parts = path.split("?")[0].lstrip("/").split("/", 4)
            repo = self._repo(f"{parts[0]}/{parts[1]}")
            name = parts[4] if len(parts) == 5 else ""
            if repo is None or name not in repo.files or name in repo.missing:
                return self._not_found("EntryNotFound")
            data = repo.files[name]
            self.send_response(200)
            self.send_header("X-Repo-Commit", SHA)
            self.send_header("ETag", f'"{_oid(data)}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not body:
                return
            if name not in repo.slow:
                self.wfile.write(data)
                return
            step = max(1, len(data) // CHUNKS)
            for start in range(0, len(data), step):
                self.wfile.write(data[start : start + step])
                self.wfile.flush()
                time.sleep(SLOW_SECONDS / CHUNKS)

        def do_HEAD(self) -> None:
            self._file(self.path, body=False)

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                self._api(self.path)
            else:
                self._file(self.path, body=True)

    return Hub


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@contextmanager
def fake_hub(repos: dict[str, Repo]) -> Iterator[str]:
    """Serve ``repos`` (hub id -> files); yields the endpoint for HF_ENDPOINT."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repos))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
