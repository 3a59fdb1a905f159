"""Two app servers on one PostgreSQL database: real ``kb serve`` and ``kb worker`` processes with instance
directories of their own, one shared file store and the PostgreSQL search backend. An asset published through
one server's API is found through the other's within two seconds of being indexed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import SECRET_KEY
from kb import accounts, create_app
from postgres_helpers import migrated_database, needs_postgres

pytestmark = [pytest.mark.slow, needs_postgres]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(instance: Path, database_url: str, blobs: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_INSTANCE_DIR=str(instance),
        KB_DATABASE_URL=database_url,
        KB_BLOB_DIR=str(blobs),
        KB_SEARCH_BACKEND="postgres",
        KB_SECRET_KEY=SECRET_KEY,
    )
    return env


def _call(port: int, path: str, token: str, body: bytes | None = None, content_type: str = "") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def _multipart(fields: dict[str, str], name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in
             fields.items()]  # fmt: skip
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/markdown\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_published_through_one_server_found_through_the_other(tmp_path: Path) -> None:
    with migrated_database() as url:
        blobs = tmp_path / "shared-blobs"
        blobs.mkdir()
        instances = [tmp_path / "a", tmp_path / "b"]
        for instance in instances:
            instance.mkdir()
        app = create_app({"KB_INSTANCE_DIR": str(instances[0]), "KB_DATABASE_URL": url, "KB_BLOB_DIR": str(blobs),
                          "KB_SECRET_KEY": SECRET_KEY, "KB_SEARCH_BACKEND": "postgres"})  # fmt: skip
        db = app.extensions["kb_db"]
        marketing = accounts.create_user(db, "m@example.com", "correct horse battery", "marketing")
        sales = accounts.create_user(db, "s@example.com", "correct horse battery", "sales")
        publish_token = accounts.create_token(db, marketing.id, "two-servers").secret
        search_token = accounts.create_token(db, sales.id, "two-servers").secret
        db.dispose()
        kb = str(Path(sys.executable).parent / "kb")
        ports = [_port(), _port()]
        processes = []
        for instance, port in zip(instances, ports, strict=True):
            env = _env(instance, url, blobs)
            processes.append(subprocess.Popen(
                [kb, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            ))  # fmt: skip
            processes.append(subprocess.Popen(
                [kb, "worker", "--poll", "0.05"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            ))  # fmt: skip
        try:
            for port in ports:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if _call(port, "/api/v1/search?q=x", search_token)[0] == 200:
                            break
                    except (urllib.error.URLError, ConnectionError):
                        pass
                    assert time.monotonic() < deadline, "a server did not start"
                    time.sleep(0.2)
            body, content_type = _multipart(
                {"title": "Паспорт турбокомпрессора", "kind": "datasheet", "language": "ru"},
                "passport.md",
                "# Турбокомпрессор\n\nТурбокомпрессор ТК-32 для котельных.".encode(),
            )
            status, created = _call(ports[0], "/api/v1/assets", publish_token, body, content_type)
            assert status == 201, created
            published = time.monotonic()
            query = "/api/v1/search?" + urllib.parse.urlencode({"q": "турбокомпрессор"})
            found_at = None
            while time.monotonic() - published < 30:
                status, answer = _call(ports[1], query, search_token)  # the other server
                if status == 200 and [r["asset_id"] for r in answer["results"]] == [created["id"]]:
                    found_at = time.monotonic() - published
                    break
                time.sleep(0.05)
            assert found_at is not None and found_at < 2.0, found_at
            status, answer = _call(ports[0], query, search_token)
            assert [r["asset_id"] for r in answer["results"]] == [created["id"]]
        finally:
            logs = []
            for process in processes:
                process.send_signal(signal.SIGTERM)
                logs.append(process.communicate(timeout=30)[0])
        assert all(p.returncode == 0 for p in processes), [log[-2000:] for log in logs]
