"""Making a version's previews and reading its scans: the worker's preview job, the on-demand pages, the rebuild.

After a version's text is extracted, a preview job (``PREVIEW_JOB``, behind extraction and the index) makes its
page images: a PDF directly, an image frame by frame, any other accepted file through a PDF that LibreOffice
makes of it. The first ``FIRST_PAGES`` pages are drawn in the job; a page past them is drawn when someone first
opens it (``page_image``), so a 600-page PDF does not hold the queue. Then, with OCR on, the pages of a PDF or
image that have no text are read by Tesseract, ``OCR_CHUNK`` pages a job: each job stores what it read (marked
as recognised from a scan), asks for the asset to be re-indexed and queues the next chunk.

Every step runs in the preview sandbox (``kb.previews.run``): a file that makes LibreOffice, PDFium or Tesseract
loop, explode or crash fails that version's preview with a reason, and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import jobs
from kb.blobs import BlobStore
from kb.db import Database
from kb.extraction import RejectedFile, detect
from kb.extraction.types import IMAGE_TYPES, ZIP_TYPES, FileType
from kb.extraction.zipguard import CorruptZip, UnsafeZip, check_zip
from kb.models import AssetVersion, ExtractedPage, ExtractionStatus, PreviewStatus
from kb.previews import messages
from kb.previews.run import Outcome, run_sandbox
from kb.previews.store import PreviewStore

log = logging.getLogger(__name__)

PREVIEW_JOB = "preview_version"
#: Behind extraction and the index job: text is searchable first, pictures come after.
PRIORITY = jobs.BACKGROUND + 1
#: Pages drawn by the job; the rest when first opened.
FIRST_PAGES = 20
#: Pages drawn at once when someone opens a page not drawn yet (the next ones will likely be opened too).
ON_DEMAND_PAGES = 5
#: Pages of scans read by one job; the next chunk is another job, so other work gets its turn in between.
OCR_CHUNK = 10
CONVERT_TIMEOUT_S = 180
RENDER_TIMEOUT_S = 120
ON_DEMAND_TIMEOUT_S = 30
OCR_TIMEOUT_S = 600
#: Past this, a chunk stops between pages and the next job goes on (``OCR_TIMEOUT_S`` fails it).
OCR_BUDGET_S = 240
MEMORY_MB = 1536
OCR_LANGUAGES = "rus+eng"


class PreviewFailed(Exception):
    """The version's previews cannot be made: ``str()`` is the reason (a ``kb.previews.messages`` template)."""


class PreviewInterrupted(Exception):
    """The sandbox was killed from outside (the OOM killer, a shutdown): the job is worth another try."""


@dataclass(frozen=True)
class Source:
    """What pages are drawn from: a PDF (the file itself or LibreOffice's PDF of it) or an image."""

    path: Path
    kind: str  # "pdf" or "image"


def enqueue_previews(session: Session, version_id: int, *, start: int = 1) -> None:
    """Asks the worker for the previews of a version (``start`` 1), or to go on reading its scans at ``start``."""
    jobs.enqueue(
        session,
        PREVIEW_JOB,
        {"version_id": version_id, "start": start},
        max_attempts=2,
        priority=PRIORITY,
        subject=f"version:{version_id}:{start}",
        coalesce=True,
    )


def request_previews(session: Session, version: AssetVersion) -> None:
    """Marks ``version``'s previews pending and queues the job that makes them."""
    version.preview_status = PreviewStatus.PENDING
    version.preview_error = None
    enqueue_previews(session, version.id)


def previewable(file_type: FileType) -> bool:
    return file_type.problem is None


def _file_type(blobs: BlobStore, sha256: str, filename: str) -> FileType:
    path = blobs.path_for(sha256)
    if not path.is_file():
        raise PreviewFailed(messages.MISSING)
    try:
        with path.open("rb") as handle:
            file_type = detect(handle.read(65536), path, filename)
    except RejectedFile as exc:
        raise PreviewFailed(str(exc)) from None
    if file_type.problem:
        raise PreviewFailed(file_type.problem)
    return file_type


def source_for(blobs: BlobStore, store: PreviewStore, sha256: str, file_type: FileType, *, convert: bool) -> Source:
    """The PDF or image pages are drawn from; an office or text file is converted by LibreOffice (once: the PDF
    is kept with the previews) when ``convert`` is set, else ``PreviewFailed`` when it has not been."""
    blob = blobs.path_for(sha256)
    if file_type.name == "pdf":
        return Source(blob, "pdf")
    if file_type.name in IMAGE_TYPES:
        return Source(blob, "image")
    pdf = store.pdf_path(sha256)
    if pdf.is_file():
        return Source(pdf, "pdf")
    if not convert:
        raise PreviewFailed(messages.UNREADABLE % {"detail": "not converted yet"})
    if file_type.name in ZIP_TYPES:
        try:
            check_zip(blob)  # zip bombs never reach LibreOffice (checked at upload too; the rules may have grown)
        except UnsafeZip as exc:
            raise PreviewFailed(str(exc)) from None
        except CorruptZip:
            raise PreviewFailed(messages.UNREADABLE % {"detail": "the ZIP container is damaged"}) from None
    pdf.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf.with_name("document.pdf.partial")
    _check(
        run_sandbox(
            {
                "op": "convert",
                "source": str(blob),
                "type_name": file_type.name,
                "pdf_out": str(partial),
                "timeout_s": CONVERT_TIMEOUT_S - 5,
            },
            timeout_s=CONVERT_TIMEOUT_S,
            memory_mb=MEMORY_MB,
        )
    )
    partial.replace(pdf)
    return Source(pdf, "pdf")


def _check(outcome: Outcome) -> dict[str, Any]:
    if outcome.retryable:
        raise PreviewInterrupted(outcome.error or "")
    if outcome.error is not None:
        raise PreviewFailed(outcome.error)
    return outcome.data


def render_pages(source: Source, store: PreviewStore, sha256: str, pages: list[int], *, timeout_s: float) -> int:
    """Draws ``pages`` (those that exist) into the store; returns the document's page count."""
    data = _check(
        run_sandbox(
            {
                "op": "render",
                "source": str(source.path),
                "kind": source.kind,
                "pages": pages,
                "out_dir": str(store.dir_for(sha256)),
            },
            timeout_s=timeout_s,
            memory_mb=MEMORY_MB,
        )
    )
    return int(data["page_count"])


# --- the worker's job --------------------------------------------------------------------------------------


def run_preview_job(context: Any, payload: dict[str, Any]) -> None:
    """Worker handler: the version's page images (``start`` 1) and the text of its scans from page ``start``."""
    version_id, start = int(payload["version_id"]), int(payload.get("start", 1))
    db: Database = context.db
    blobs: BlobStore = context.blobs
    settings = context.settings
    store = PreviewStore(settings.preview_dir)
    with db.session() as session:
        version = session.get(AssetVersion, version_id)
        if version is None:
            return
        sha256, filename = version.sha256, version.original_filename
        extracted = version.extraction_status
        page_count = version.page_count
    try:
        file_type = _file_type(blobs, sha256, filename)
        if start == 1 and settings.previews:
            source = source_for(blobs, store, sha256, file_type, convert=True)
            page_count = render_pages(
                source, store, sha256, list(range(1, FIRST_PAGES + 1)), timeout_s=RENDER_TIMEOUT_S
            )
            _store_preview(db, version_id, PreviewStatus.DONE, None, page_count)
    except PreviewFailed as exc:
        _store_preview(db, version_id, PreviewStatus.FAILED, str(exc), None)
        return
    if not settings.ocr or file_type.name != "pdf" and file_type.name not in IMAGE_TYPES:
        return
    if extracted not in (ExtractionStatus.DONE, ExtractionStatus.EMPTY) or not page_count:
        return
    try:
        read_scans(db, blobs, store, version_id, source_for(blobs, store, sha256, file_type, convert=False), start)
    except PreviewFailed as exc:
        _store_ocr_failure(db, version_id, str(exc))


def read_scans(
    db: Database, blobs: BlobStore, store: PreviewStore, version_id: int, source: Source, start: int
) -> list[int]:
    """Reads with Tesseract the next ``OCR_CHUNK`` pages from ``start`` that have no text, stores their text and
    queues the rest; returns the pages read."""
    with db.session() as session:
        version = session.get(AssetVersion, version_id)
        if version is None or not version.page_count:
            return []
        have_text = set(session.scalars(select(ExtractedPage.number).where(ExtractedPage.version_id == version_id)))
        wanted = [n for n in range(max(1, start), version.page_count + 1) if n not in have_text]
    chunk = wanted[:OCR_CHUNK]
    if not chunk:
        return []
    data = _check(
        run_sandbox(
            {
                "op": "ocr",
                "source": str(source.path),
                "kind": source.kind,
                "pages": chunk,
                "languages": OCR_LANGUAGES,
                "budget_s": OCR_BUDGET_S,
            },
            timeout_s=OCR_TIMEOUT_S,
            memory_mb=MEMORY_MB,
        )
    )
    texts = {int(n): text for n, text in data["texts"].items()}
    left = [int(n) for n in data.get("left", [])] + wanted[OCR_CHUNK:]
    _store_ocr(db, version_id, texts, next_start=min(left) if left else None)
    return sorted(texts)


def _store_preview(
    db: Database, version_id: int, status: PreviewStatus, error: str | None, page_count: int | None
) -> None:
    with db.transaction() as session:
        version = session.get(AssetVersion, version_id)
        if version is None:
            return
        version.preview_status = status
        version.preview_error = error[:2000] if error else None
        version.preview_pages = page_count


def _store_ocr_failure(db: Database, version_id: int, error: str) -> None:
    with db.transaction() as session:
        version = session.get(AssetVersion, version_id)
        if version is not None:
            version.preview_error = error[:2000]


def _store_ocr(db: Database, version_id: int, texts: dict[int, str], *, next_start: int | None) -> None:
    """Adds the pages read from scans (those where Tesseract found words) and re-indexes the asset."""
    from kb.extraction.text import clean_text, has_text
    from kb.search.indexing import enqueue_index

    with db.transaction() as session:
        version = session.get(AssetVersion, version_id)
        if version is None:
            return
        present = set(session.scalars(select(ExtractedPage.number).where(ExtractedPage.version_id == version_id)))
        added = 0
        for number, raw in sorted(texts.items()):
            text = clean_text(raw)
            if number in present or not has_text(text):
                continue
            session.add(ExtractedPage(version_id=version_id, number=number, title="", text=text, ocr=True))
            added += 1
        if added and version.extraction_status == ExtractionStatus.EMPTY:
            version.extraction_status = ExtractionStatus.DONE
            version.extraction_error = None
        if added:
            enqueue_index(session, version.asset_id)
        if next_start is not None:
            enqueue_previews(session, version_id, start=next_start)


def _preview_gave_up(session: Session, payload: dict[str, Any], error: str) -> None:
    """The preview job failed for good: the version's previews must not stay "pending" for ever."""
    version = session.get(AssetVersion, int(payload.get("version_id", 0)))
    if version is not None and version.preview_status == PreviewStatus.PENDING:
        version.preview_status = PreviewStatus.FAILED
        interrupted = f"{PreviewInterrupted.__name__}: "
        version.preview_error = (
            error.removeprefix(interrupted)[:2000]
            if error.startswith(interrupted)
            else messages.CRASHED % {"detail": error[:300]}
        )


jobs.on_final_failure(PREVIEW_JOB, _preview_gave_up)


# --- pages opened in the browser ---------------------------------------------------------------------------


def page_image(
    blobs: BlobStore, store: PreviewStore, version: AssetVersion, number: int, kind: str = "page"
) -> Path | None:
    """The image of page ``number`` of ``version``, drawn now (with the next few) when the job left it for later;
    None when the version has no such page or its previews failed."""
    path = store.image_path(version.sha256, number, kind)
    if path.is_file():
        return path
    if version.preview_status != PreviewStatus.DONE or not 1 <= number <= (version.preview_pages or 0):
        return None
    try:
        file_type = _file_type(blobs, version.sha256, version.original_filename)
        source = source_for(blobs, store, version.sha256, file_type, convert=False)
        render_pages(
            source,
            store,
            version.sha256,
            list(range(number, number + ON_DEMAND_PAGES)),
            timeout_s=ON_DEMAND_TIMEOUT_S,
        )
    except (PreviewFailed, PreviewInterrupted) as exc:
        log.warning("page %s of version %s could not be drawn: %s", number, version.id, exc)
        return None
    return path if path.is_file() else None


# --- kb previews rebuild ------------------------------------------------------------------------------------


def rebuild(db: Database, store: PreviewStore, *, asset_id: int | None = None) -> int:
    """Removes the previews of every version (of ``asset_id``) and queues them again; returns how many."""
    with db.transaction() as session:
        stmt = select(AssetVersion)
        if asset_id is not None:
            stmt = stmt.where(AssetVersion.asset_id == asset_id)
        versions = list(session.scalars(stmt.order_by(AssetVersion.id)))
        for version in versions:
            store.remove(version.sha256)
            request_previews(session, version)
    return len(versions)
