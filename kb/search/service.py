"""A search from start to end, the same for the web page, the API and the command line, whatever the backend.

Plans the query (synonyms included), asks the backend for candidates, reads freshness and ratings from the
database, filters, counts facets, orders and pages, asks the backend for what to show, and corrects the
query when it found little: a query whose results all lack some word, and whose corrected form (the other
keyboard layout, or close spellings) finds pages with every word, is answered with the corrected results;
the person sees "Showing results for ... · Search instead for ...".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from kb.search import correction, planner, ranking, signals
from kb.search.backend import Correction, Scope, SearchBackend, SearchRequest, SearchResults
from kb.search.planner import Synonyms
from kb.search.query import MAX_CHARS, clean


def search(
    backend: SearchBackend,
    request: SearchRequest,
    *,
    session: Session | None = None,
    synonyms: Synonyms | None = None,
    today: date | None = None,
    known: signals.Signals | None = None,
) -> SearchResults:
    """Results for a request; with a database ``session``, freshness and ratings come from it (tests without a
    database may pass ``known`` signals instead)."""
    text = clean(request.text)
    shortened = len(" ".join(request.text.split())) > MAX_CHARS
    if session is not None and synonyms is None:
        from kb import synonyms as synonym_store  # the store of groups; search needs only their text

        synonyms = synonym_store.for_search(session)
    day = today or date.today()
    if session is not None:
        facts = signals.load(session, day, all_ratings=request.sort == "rating")
    else:
        facts = known or signals.Signals()
    results = _run(backend, request, text, synonyms, facts, session)
    # A long text is searched by its rarest words, not corrected word by word (nor expected to match them all).
    if request.correct and results.full_matches == 0 and text and not results.like_this:
        fixed = correction.correct(text, backend)
        if fixed is not None:
            other = _run(backend, request, fixed.text, synonyms, facts, session)
            fix = Correction(text=fixed.text, original=text, reason=fixed.reason)
            if other.full_matches > 0 or (results.total == 0 and other.total > 0):
                return replace(other, corrected=fix, shortened=shortened)
            if other.total > 0:
                results = replace(results, suggestion=fix)
    return replace(results, shortened=shortened)


def _run(
    backend: SearchBackend,
    request: SearchRequest,
    text: str,
    synonyms: Synonyms | None,
    facts: signals.Signals,
    session: Session | None,
) -> SearchResults:
    plan = planner.plan(text, synonyms)
    if planner.is_long(plan):
        plan = plan.keep_rarest(backend.frequencies)
    if plan.empty:
        return SearchResults(total=0, hits=[], facets={}, like_this=plan.like_this)
    filters = {**request.filters, **plan.filters}
    scope = Scope(
        statuses=request.statuses,
        include_older=request.include_older,
        filters={k: v for k, v in filters.items() if k != "freshness"},
        audiences=request.audiences,
        owner_id=request.owner_id,
    )
    found = backend.candidates(plan, scope)
    if not len(found) and plan.min_match > 1:
        # No page has enough of the words: rather than an empty page, the pages with any, fewest missing first.
        plan = replace(plan, relaxed=True)
        found = backend.candidates(plan, scope)
    fresh = ranking.freshness_of(found, facts)
    found, fresh = ranking.filter_freshness(found, fresh, filters.get("freshness"))
    facets = ranking.facets(found, fresh)
    order = ranking.order(found, fresh, facts, request.sort)
    start = (request.page - 1) * request.per_page
    shown = order[start : start + request.per_page]
    chosen = found.take(shown)
    finals = ranking.final_scores(chosen, fresh[shown])
    stars = facts.ratings
    if session is not None and request.sort != "rating":
        stars = signals.ratings(session, chosen.asset_ids.tolist())
    hits = [
        replace(
            hit,
            freshness=str(freshness),
            rating=round(stars.get(hit.asset_id, 0.0), 2),
            score=round(float(final), 4),
        )
        for hit, freshness, final in zip(backend.hits(plan, scope, chosen), fresh[shown], finals, strict=True)
    ]
    return SearchResults(
        total=len(found),
        hits=hits,
        facets=facets,
        like_this=plan.like_this,
        full_matches=int(np.count_nonzero(found.coverage >= 1.0)),
    )
