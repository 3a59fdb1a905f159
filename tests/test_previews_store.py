"""The preview store and kb check: previews of a file no version refers to are orphans, removed with the rest;
those of a stored version stay. No LibreOffice or Tesseract here."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kb import integrity
from kb.blobs import BlobStore
from kb.previews.store import PreviewStore
from publishing_helpers import fields, publisher_for, text_upload


def test_orphan_previews_are_reported_and_removed_and_used_ones_kept(app, make_user, tmp_path: Path) -> None:
    settings = app.config["KB_SETTINGS"]
    db, blobs, store = app.extensions["kb_db"], BlobStore(settings.blob_dir), PreviewStore(settings.preview_dir)
    owner = make_user("marketing")
    publisher_for(app).create_asset(owner.id, fields(owner), text_upload("# Каталог"))
    used = next(blobs.all_digests())
    orphan = "ab" * 32
    for digest in (used, orphan):
        store.dir_for(digest).mkdir(parents=True)
        store.image_path(digest, 1).write_bytes(b"RIFF....WEBP")
        old = time.time() - 2 * integrity.ORPHAN_MIN_AGE_S
        os.utime(store.dir_for(digest), (old, old))

    report = integrity.check_blobs(db, blobs, previews=store)
    assert report.preview_orphans == [orphan]
    assert "1 file(s) with previews but no version (removed with --remove-orphans)" in report.lines()
    assert integrity.remove_orphans(db, blobs, report, previews=store) == 1
    assert not store.dir_for(orphan).exists() and store.image_path(used, 1).is_file()


def test_young_orphan_previews_are_left_for_a_publish_under_way(app, tmp_path: Path) -> None:
    settings = app.config["KB_SETTINGS"]
    store = PreviewStore(settings.preview_dir)
    store.dir_for("cd" * 32).mkdir(parents=True)
    report = integrity.check_blobs(app.extensions["kb_db"], BlobStore(settings.blob_dir), previews=store)
    assert report.preview_orphans == []
