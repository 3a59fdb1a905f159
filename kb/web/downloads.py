"""Sending files: a stored version (exact bytes, its media type, its original name per RFC 6266, Cyrillic kept)
and the CSV downloads (the delimiter the reader's Excel expects, or the one asked for)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, send_file
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from kb import assets, audit, usage
from kb.errors import N_, ValidationError
from kb.models import AssetVersion
from kb.web.context import db_session, get_blobs, get_db

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch  y  e yu ya".split(" "),
        strict=True,
    )
)


def ascii_name(filename: str) -> str:
    """A readable ASCII stand-in for old clients (``filename=``): Cyrillic transliterated, the rest kept safe."""
    out = []
    for ch in filename:
        lower = ch.lower()
        if lower in _TRANSLIT:
            text = _TRANSLIT[lower]
            out.append(text.capitalize() if ch != lower else text)
        elif ch.isascii() and (ch.isalnum() or ch in " ._-()+,"):
            out.append(ch)
        else:
            out.append("_")
    return "".join(out).strip() or "download"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_version(version: AssetVersion, *, inline: bool = False) -> Response:
    """The stored file of ``version``; 404 with a message when the store has lost it (``kb check`` tells)."""
    path = get_blobs().path_for(version.sha256)
    if not path.is_file():
        abort(404, description=_("The stored file is missing. An administrator can find it with kb check."))
    response = send_file(path, etag=version.sha256, conditional=True, max_age=0)
    # Werkzeug would add "; charset=utf-8" to every text type; the stored type already names its charset.
    response.headers["Content-Type"] = version.media_type
    response.headers["Content-Disposition"] = content_disposition(version.original_filename, inline=inline)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def download(asset_id: int, number: int) -> Response:
    """A version's file for the person asking (if they may see the asset), recorded as a download."""
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    version = assets.get_version(session, asset.id, number)
    response = send_version(version)
    usage.record_download(
        get_db(),
        user_id=current_user.id,
        asset_id=asset.id,
        version_id=version.id,
        subject=audit.version_subject(asset.title, version.number),
    )
    return response


def csv_response(text: str, filename: str) -> Response:
    """A CSV download; ``text`` carries its own byte-order mark where spreadsheets need one."""
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


DELIMITERS = (",", ";")


def excel_delimiter() -> str:
    """The delimiter Excel splits a CSV by when opened with a double click: its list separator, ';' where the
    comma is the decimal sign (Russian), ',' elsewhere. Read from the reader's language, the best guess at theirs."""
    locale = get_locale()
    return ";" if locale is not None and locale.language == "ru" else ","


def csv_delimiter(args: Any, default: str) -> str:
    """The ``delimiter`` a CSV download asks for (``,`` or ``;``), else ``default``; anything else is a 400."""
    asked = args.get("delimiter") or default
    if asked not in DELIMITERS:
        raise ValidationError(N_("The delimiter must be “,” or “;”."), field="delimiter")
    return asked
