"""The preview store: page images derived from a stored file, kept under ``KB_PREVIEW_DIR`` by the file's SHA-256.

A file's previews live in ``<root>/ab/<sha256>/``: ``p<n>.webp`` is page ``n`` as shown in the page viewer,
``t<n>.webp`` its thumbnail, ``document.pdf`` the PDF LibreOffice made of an office file (kept so that pages past
the first ones can be drawn later without converting again). Like the blobs they come from, they never change
once written: the same bytes give the same previews, so two versions of one file share them. They are derived:
``kb previews rebuild`` makes them again, and ``kb check --remove-orphans`` removes those no version needs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
KINDS = {"page": "p", "thumb": "t"}


class PreviewStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def dir_for(self, sha256: str) -> Path:
        if not _DIGEST_RE.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def image_path(self, sha256: str, number: int, kind: str = "page") -> Path:
        return self.dir_for(sha256) / f"{KINDS[kind]}{int(number)}.webp"

    def pdf_path(self, sha256: str) -> Path:
        return self.dir_for(sha256) / "document.pdf"

    def has_page(self, sha256: str, number: int) -> bool:
        return self.image_path(sha256, number, "page").is_file() and self.image_path(sha256, number, "thumb").is_file()

    def remove(self, sha256: str) -> bool:
        """Deletes the previews of ``sha256``; whether there were any."""
        directory = self.dir_for(sha256)
        if not directory.exists():
            return False
        shutil.rmtree(directory, ignore_errors=True)
        return True

    def all_digests(self) -> Iterator[str]:
        for path in self.root.glob("??/*"):
            if path.is_dir() and _DIGEST_RE.match(path.name):
                yield path.name
