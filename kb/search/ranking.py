"""Ranking, shared by every backend: how coverage of the query weighs, stale content, facets, sorting, paging.

A backend finds the candidates (each asset's best page and its score); this module orders them. A page with
every word of the query ranks above one that lacks some (``coverage_factor``); overdue and flagged assets
rank a little lower; facets count assets, the freshness facet from the database's signals.
"""

from __future__ import annotations

import numpy as np

from kb.search.backend import INDEX_FACETS, Candidates
from kb.search.signals import FRESH, Signals

#: Overdue and flagged content stays findable, a little lower.
STALE_FACTOR = {"overdue": 0.85, "flagged": 0.8}
#: A page lacking some of the query's concepts scores this power of the share it has.
COVERAGE_POWER = 2.0
LIKE_THIS_COVERAGE_POWER = 1.0
#: A page where two neighbouring words of the query stand together, as typed, gains this share of their scores.
PAIR_WEIGHT = 0.5
#: Pairs of words this common (pages holding a word, at least ``PAIR_MIN_PAGES``) earn nothing: such words
#: say little about a page, and their positions are the costliest to read.
PAIR_MAX_SHARE, PAIR_MIN_PAGES = 0.05, 1000


def coverage_factor(share: np.ndarray | float, like_this: bool = False) -> np.ndarray | float:
    """How much of a page's score it keeps for the share of the query's concepts it matches (1 when all).

    A "like this" search over a long text expects no page to have every word: the share counts less there."""
    return np.power(share, LIKE_THIS_COVERAGE_POWER if like_this else COVERAGE_POWER)


def pair_counts(pages_with_word: int, pages: int) -> bool:
    """Whether a word on ``pages_with_word`` of ``pages`` pages is rare enough for its pairs to count."""
    return pages_with_word <= max(PAIR_MIN_PAGES, PAIR_MAX_SHARE * pages)


def freshness_of(candidates: Candidates, signals: Signals) -> np.ndarray:
    return signals.freshness_array(candidates.asset_ids)


def filter_freshness(
    candidates: Candidates, freshness: np.ndarray, wanted: str | None
) -> tuple[Candidates, np.ndarray]:
    if not wanted:
        return candidates, freshness
    keep = freshness == wanted
    return candidates.take(keep), freshness[keep]


def facets(candidates: Candidates, freshness: np.ndarray) -> dict[str, dict[str, int]]:
    """Matching assets per value of each facet, most first."""
    result: dict[str, dict[str, int]] = {}
    for name in INDEX_FACETS:
        codes = candidates.facet_codes[name]
        values = candidates.facet_values[name]
        counts: dict[str, int] = {}
        tally = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.intp)
        for code in np.flatnonzero(tally):
            for value in values[code]:
                counts[value] = counts.get(value, 0) + int(tally[code])
        result[name] = _most_first(counts)
    labels, tally = np.unique(freshness.astype(str), return_counts=True) if freshness.size else ([], [])
    result["freshness"] = _most_first({str(k): int(v) for k, v in zip(labels, tally, strict=True)})
    return result


def _most_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def order(candidates: Candidates, freshness: np.ndarray, signals: Signals, sort: str) -> np.ndarray:
    """Positions of the candidates in the order shown: by relevance (stale a little lower), newest or rating."""
    ids = candidates.asset_ids
    if sort == "newest":
        return np.lexsort((ids, -candidates.updated))
    if sort == "rating":
        stars = np.array([signals.rating_of(a) for a in ids.tolist()], dtype=np.float64)
        return np.lexsort((ids, -candidates.scores, -stars))
    return np.lexsort((ids, -final_scores(candidates, freshness)))


def final_scores(candidates: Candidates, freshness: np.ndarray) -> np.ndarray:
    """Relevance with overdue and flagged assets a little lower (``STALE_FACTOR``)."""
    factor = np.ones(freshness.size)
    for status, value in STALE_FACTOR.items():
        factor[freshness == status] = value
    return candidates.scores * factor


__all__ = [
    "FRESH",
    "PAIR_WEIGHT",
    "STALE_FACTOR",
    "coverage_factor",
    "pair_counts",
    "facets",
    "filter_freshness",
    "freshness_of",
    "order",
]
