"""The intranet search page (``/search``) and its JSON twin (``/api/v1/search``).

Short queries travel in the URL (a search is a link people share); a long pasted text is sent in the body
of a POST (the search form switches by itself, and the API takes JSON), so no query is ever too long for a
URL. Everything else is ``kb.search.search``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for
from flask_login import current_user

from kb import audiences, feedback, search
from kb.assets import can_see_unpublished
from kb.search import FACETS, SORTS, PageHit, SearchRequest, SearchResults
from kb.search.indexing import still_indexing
from kb.search.query import MAX_CHARS
from kb.web.context import db_session, get_search_log
from kb.web.previews import result_previews

bp = Blueprint("search", __name__)
PER_PAGE = 20
MAX_PAGE = 500
#: Read at most this much of what was sent (the search itself reads MAX_CHARS of it and says so).
MAX_SENT_CHARS = 100_000


def _values() -> dict[str, Any]:
    """The search's parameters: the URL's, and for a POST the form's or the JSON body's over them."""
    values: dict[str, Any] = request.args.to_dict()
    if request.method == "POST":
        body = request.get_json(silent=True) if request.is_json else None
        values.update(body if isinstance(body, dict) else request.form.to_dict())
    values.pop("csrf_token", None)
    return values


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _request(values: dict[str, Any]) -> SearchRequest:
    filters = {name: str(values.get(name, ""))[:200] for name in FACETS if values.get(name)}
    page = min(max(_int(values.get("page"), 1), 1), MAX_PAGE)
    per_page = min(max(_int(values.get("per_page"), PER_PAGE), 1), 100)
    statuses = ("published", "draft", "archived") if can_see_unpublished(current_user.role) else ("published",)
    sort = str(values.get("sort") or "relevance")
    who = audiences.search_scope(db_session(), current_user)
    return SearchRequest(
        text=str(values.get("q") or "")[:MAX_SENT_CHARS],
        filters=filters,
        statuses=statuses,
        include_older=str(values.get("older")) == "1",
        sort=sort if sort in SORTS else "relevance",
        page=page,
        per_page=per_page,
        correct=str(values.get("exact")) != "1",
        audiences=who.audiences,
        owner_id=who.owner_id,
    )


def _run(wanted: SearchRequest) -> SearchResults:
    settings = current_app.config["KB_SETTINGS"]
    results = search.search(search.backend_of(settings), wanted, session=db_session())
    # The event's key goes into the result links (``s=``), so opening a result counts as a click on it; a
    # corrected search counts as what it searched for, so a typo is not a content gap of its own.
    g.search_key = get_search_log().record(
        user_id=current_user.id,
        query=(results.corrected.text if results.corrected else wanted.text)[:1000],
        filters=wanted.filters or None,
        result_count=results.total,
    )
    return results


def search_url(**changes: Any) -> str:
    """This search's URL with some parameters changed (None removes one); paging restarts unless given."""
    args = {k: v for k, v in _values().items() if isinstance(v, str)}
    args.pop("page", None)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    return url_for("search.results", **args)


def search_fields(**changes: Any) -> dict[str, str]:
    """The parameters of this search with some changed, for a form that repeats it by POST (long texts)."""
    args = {k: v for k, v in _values().items() if isinstance(v, str)}
    args.pop("page", None)
    if "q" in args:
        args["q"] = args["q"][: MAX_CHARS + 100]  # what the search reads, not all that was sent, in every form
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = str(value)[: MAX_CHARS + 100]
    return args


@bp.route("/search", methods=["GET", "POST"])
def results() -> Any:
    wanted = _request(_values())
    found = _run(wanted) if wanted.text.strip() else SearchResults(0, [], {})
    pages = max(1, -(-found.total // wanted.per_page))
    return render_template(
        "search.html",
        search=wanted,
        results=found,
        facets=FACETS,
        pages=pages,
        search_url=search_url,
        search_fields=search_fields,
        by_post=request.method == "POST",
        max_chars=MAX_CHARS,
        open_flags=_open_flags(found),
        result_previews=result_previews(db_session(), found.hits),
        search_key=g.get("search_key"),
        indexing=still_indexing(db_session()),
    )


def _open_flags(found: SearchResults) -> dict[int, int]:
    """Open flags per shown asset, from the database."""
    return feedback.open_flag_counts(db_session(), [hit.asset_id for hit in found.hits])


def _page_json(page: PageHit) -> dict[str, Any]:
    """A page hit as the API gives it (``dataclasses.asdict`` deep-copies: a millisecond per search of 60 pages)."""
    return {
        "page": page.page,
        "title": page.title,
        "snippet": page.snippet,
        "version": page.version,
        "current": page.current,
    }


def _correction(found: SearchResults) -> dict[str, str] | None:
    fix = found.corrected or found.suggestion
    return None if fix is None else {"text": fix.text, "original": fix.original, "reason": fix.reason}


@bp.route("/api/v1/search", methods=["GET", "POST"])
def api() -> Any:
    wanted = _request(_values())
    found = _run(wanted) if wanted.text.strip() else SearchResults(0, [], {})
    open_flags = _open_flags(found)
    return jsonify(
        {
            "total": found.total,
            "page": wanted.page,
            "per_page": wanted.per_page,
            "results": [
                {
                    "asset_id": hit.asset_id,
                    "title": hit.title,
                    "kind": hit.kind,
                    "product": hit.product,
                    "version": hit.version,
                    "owner": hit.owner_name,
                    "updated": hit.updated,
                    "rating": hit.rating,
                    "score": hit.score,
                    "freshness": hit.freshness,
                    "status": hit.status,
                    "open_flags": open_flags.get(hit.asset_id, 0),
                    "missing": hit.missing,
                    "hits": [_page_json(page) for page in hit.pages],
                }
                for hit in found.hits
            ],
            "facets": found.facets,
            "corrected": _correction(found) if found.corrected else None,
            "suggestion": found.suggestion.text if found.suggestion else None,
            "shortened": found.shortened,
            "like_this": found.like_this,
        }
    )
