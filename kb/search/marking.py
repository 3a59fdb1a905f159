"""Marking the searched words in a whole text: the asset page opened from a search shows where they stand.

The same plan as the search (word forms, codes written another way, synonyms) and the same matching as the
snippets, so a page marks what search found it by. A pasted long text ("documents like this") marks nothing:
every other word of the page would be marked.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kb.search import planner, snippets
from kb.search.query import clean

#: At most this many marks per text: a page past them is plain.
MAX_MARKS = 500


def searched_terms(text: str, session: Session | None = None) -> frozenset[str]:
    """The index terms a search for ``text`` looks for (with the synonym groups when ``session`` is given);
    empty for a long pasted text, and without the prefixes (``нас*``), excluded words and the parts of codes."""
    query = clean(text)
    if not query:
        return frozenset()
    synonyms = None
    if session is not None:
        from kb import synonyms as synonym_store

        synonyms = synonym_store.for_search(session)
    plan = planner.plan(query, synonyms)
    if planner.is_long(plan):
        return frozenset()
    terms: set[str] = set()
    for concept in plan.concepts:
        clauses = [c for c in concept.clauses if not c.prefix]
        # A word or a code is marked where it stands whole; the parts of a code ("нв", "250") only when typed as
        # a phrase and nothing else, or every "нв" and every "250" of the page would be marked.
        whole = [c for c in clauses if len(c.terms) == 1]
        terms.update(t for clause in whole or clauses for t in clause.terms)
    return frozenset(terms)


def marked_spans(text: str, terms: frozenset[str], limit: int = MAX_MARKS) -> list[tuple[int, int]]:
    """(start, end) of each word of ``text`` that one of ``terms`` matches, in order, at most ``limit``."""
    if not terms or not text:
        return []
    return [(start, end) for start, end, _word in snippets.matches(text, terms, len(text))[:limit]]
