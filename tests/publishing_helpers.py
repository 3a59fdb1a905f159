"""Helpers for the publishing tests: a publisher on the test app, a worker, and quick asset fields."""

from __future__ import annotations

import io

from flask import Flask

from kb.blobs import BlobStore
from kb.models import User
from kb.publishing import AssetFields, FileUpload, Publisher
from kb.worker import Worker, WorkerContext


def publisher_for(app: Flask) -> Publisher:
    return Publisher(app.extensions["kb_db"], app.extensions["kb_blobs"], app.config["MAX_CONTENT_LENGTH"])


def worker_for(app: Flask, worker_id: str = "test-worker") -> Worker:
    settings = app.config["KB_SETTINGS"]
    return Worker(WorkerContext(app.extensions["kb_db"], BlobStore(settings.blob_dir), settings), worker_id)


def fields(owner: User, **overrides: object) -> AssetFields:
    values: dict[str, object] = {
        "title": "Каталог насосов НВ",
        "kind": "catalog",
        "description": "Насосы для водоканалов",
        "product": "Насосы НВ",
        "segments": ["B2B", "B2G"],
        "region": "Россия",
        "language": "ru",
        "owner_id": owner.id,
        "tags": ["насосы", "НВ-250/4"],
    }
    values.update(overrides)
    return AssetFields(**values)  # type: ignore[arg-type]


def text_upload(text: str, filename: str = "заметка.md") -> FileUpload:
    return FileUpload(io.BytesIO(text.encode("utf-8")), filename)
