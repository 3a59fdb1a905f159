"""The intranet search page (``/search``) and its JSON twin (``/api/v1/search``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for
from flask_login import current_user

from kb import feedback, usage
from kb.assets import can_see_unpublished
from kb.models import UsageKind
from kb.search.backend import FACETS, SORTS, SearchRequest, SearchResults
from kb.search.query import MAX_CHARS
from kb.search.suggest import other_layout
from kb.search.whoosh_index import WhooshIndex
from kb.web.context import db_session, get_db

bp = Blueprint("search", __name__)
PER_PAGE = 20
MAX_PAGE = 500
#: Fewer results than this and another keyboard layout finding more makes a hint.
FEW_RESULTS = 1


def _backend() -> WhooshIndex:
    return WhooshIndex(current_app.config["KB_SETTINGS"].index_dir)


def _request() -> SearchRequest:
    args = request.args
    filters = {name: args.get(name, "")[:200] for name in FACETS if args.get(name)}
    page = min(max(args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    per_page = min(max(args.get("per_page", PER_PAGE, type=int) or PER_PAGE, 1), 100)
    statuses = ("published", "draft", "archived") if can_see_unpublished(current_user.role) else ("published",)
    return SearchRequest(
        text=args.get("q", "")[: MAX_CHARS * 4],
        filters=filters,
        statuses=statuses,
        include_older=args.get("older") == "1",
        sort=args.get("sort") if args.get("sort") in SORTS else "relevance",
        page=page,
        per_page=per_page,
    )


@dataclass(frozen=True)
class Suggestion:
    text: str
    reason: str  # "layout": typed in the other keyboard layout; "spelling": a close spelling exists


def _run(search: SearchRequest) -> tuple[SearchResults, Suggestion | None]:
    backend = _backend()
    results = backend.search(search)
    suggestion = None
    if results.total < FEW_RESULTS and search.text.strip():
        for reason, alternative in (("layout", other_layout(search.text)), ("spelling", backend.suggest(search.text))):
            if (
                alternative
                and backend.search(SearchRequest(text=alternative, statuses=search.statuses, per_page=1)).total
            ):
                suggestion = Suggestion(alternative, reason)
                break
    if search.text.strip():
        # The event's id goes into the result links (``s=``), so opening a result counts as a click on it.
        g.search_id = usage.record(
            get_db(),
            UsageKind.SEARCH,
            user_id=current_user.id,
            query=search.text[:1000],
            filters=search.filters or None,
            result_count=results.total,
        )
    return results, suggestion


def search_url(**changes: Any) -> str:
    """This search's URL with some parameters changed (None removes one); paging restarts unless given."""
    args = request.args.to_dict()
    args.pop("page", None)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    return url_for("search.results", **args)


@bp.get("/search")
def results() -> Any:
    search = _request()
    found, hint = _run(search) if search.text.strip() else (SearchResults(0, [], {}), None)
    pages = max(1, -(-found.total // search.per_page))
    return render_template(
        "search.html",
        search=search,
        results=found,
        hint=hint,
        facets=FACETS,
        pages=pages,
        search_url=search_url,
        open_flags=_open_flags(found),
        search_id=g.get("search_id"),
    )


def _open_flags(found: SearchResults) -> dict[int, int]:
    """Open flags per shown asset, from the database: the index knows only whether an asset is flagged."""
    return feedback.open_flag_counts(db_session(), [hit.asset_id for hit in found.hits])


@bp.get("/api/v1/search")
def api() -> Any:
    search = _request()
    found, hint = _run(search) if search.text.strip() else (SearchResults(0, [], {}), None)
    open_flags = _open_flags(found)
    return jsonify(
        {
            "total": found.total,
            "page": search.page,
            "per_page": search.per_page,
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
                    "open_flags": open_flags.get(hit.asset_id, 0),
                    "hits": [asdict(page) for page in hit.pages],
                }
                for hit in found.hits
            ],
            "facets": found.facets,
            "suggestion": hint.text if hint else None,
        }
    )
