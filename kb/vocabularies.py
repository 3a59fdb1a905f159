"""Vocabularies: the lists of products and regions admins keep, so one product is one facet, however typed.

An asset's product and its region are each empty or one term of their vocabulary. A value typed on the forms
or sent to the API is matched by its key (``term_key``: case, runs of spaces and ё against е do not count) and
stored as the term is spelt; an unknown value becomes a new term while the vocabulary is open, and is refused,
with the closest terms, while it is closed. Admins add, rename, merge and delete terms: renaming and merging
rewrite the assets that use the term and queue them for re-indexing (search facets), in the same transaction.
Segments are not a vocabulary: they are the fixed codes of ``kb.models.SEGMENTS``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from kb.db import Database
from kb.errors import N_, Conflict, NotFound, ValidationError
from kb.models import Asset, Vocabulary, VocabularyTerm, utcnow
from kb.search.indexing import enqueue_index

#: The vocabularies, each named after the asset field it lists values for.
NAMES = ("product", "region")
MAX_VALUE = 120
MAX_SUGGESTIONS = 3

_NOT_IN_CLOSED = {
    "product": N_("“%(value)s” is not in the list of products; choose one from the list or ask an admin to add it."),
    "region": N_("“%(value)s” is not in the list of regions; choose one from the list or ask an admin to add it."),
}
_NOT_IN_CLOSED_SUGGEST = {
    "product": N_("“%(value)s” is not in the list of products. Did you mean %(suggestions)s?"),
    "region": N_("“%(value)s” is not in the list of regions. Did you mean %(suggestions)s?"),
}


@dataclass(frozen=True)
class Term:
    id: int
    value: str
    #: How many assets (of any status) carry it.
    assets: int


@dataclass(frozen=True)
class Change:
    """What an admin's rename or merge did: the term's spelling now, and how many assets were rewritten."""

    value: str
    assets: int


@dataclass(frozen=True)
class VocabularyList:
    name: str
    closed: bool
    terms: list[Term]

    @property
    def values(self) -> list[str]:
        return [term.value for term in self.terms]


def clean_value(value: str | None) -> str:
    """A value as it is stored: no control NULs, no spaces at the ends, runs of spaces as one."""
    return " ".join((value or "").replace("\x00", "").split())


def term_key(value: str) -> str:
    """What two spellings of one term share: lower case (casefold), single spaces, ``е`` for ``ё``."""
    folded = unicodedata.normalize("NFC", value).casefold().replace("ё", "е")
    return " ".join(folded.split())[:MAX_VALUE]  # casefold may lengthen ("ß" → "ss"); the column holds 120


def _check_name(name: str) -> str:
    if name not in NAMES:
        raise NotFound(N_("No such vocabulary."))
    return name


def _column(name: str) -> InstrumentedAttribute[str]:
    return Asset.product if name == "product" else Asset.region


# --- reading -----------------------------------------------------------------------------------------------


def terms(session: Session, name: str, *, with_counts: bool = True) -> list[Term]:
    """The vocabulary's terms in alphabetical order (ignoring case), with how many assets use each."""
    _check_name(name)
    counts: dict[str, int] = {}
    if with_counts:
        column = _column(name)
        counts = {value: n for value, n in session.execute(select(column, func.count()).group_by(column))}
    rows = session.execute(
        select(VocabularyTerm.id, VocabularyTerm.value).where(VocabularyTerm.vocabulary == name)
    ).all()
    found = [Term(id=term_id, value=value, assets=counts.get(value, 0)) for term_id, value in rows]
    return sorted(found, key=lambda term: (term_key(term.value), term.value))


def is_closed(session: Session, name: str) -> bool:
    row = session.get(Vocabulary, _check_name(name))
    return bool(row and row.closed)


def lists(session: Session, *, with_counts: bool = False) -> dict[str, VocabularyList]:
    """Every vocabulary with its terms, by name (for the forms' type-ahead and the admin page)."""
    return {
        name: VocabularyList(name, is_closed(session, name), terms(session, name, with_counts=with_counts))
        for name in NAMES
    }


def find(session: Session, name: str, value: str) -> VocabularyTerm | None:
    """The term ``value`` is a spelling of, or None."""
    key = term_key(clean_value(value))
    return session.scalars(
        select(VocabularyTerm).where(VocabularyTerm.vocabulary == _check_name(name), VocabularyTerm.key == key)
    ).first()


def suggestions(session: Session, name: str, value: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """The terms closest to ``value``: those containing it or contained in it, then those a few typos away."""
    key = term_key(clean_value(value))
    if not key:
        return []
    ranked = []
    for term in terms(session, name, with_counts=False):
        other = term_key(term.value)
        if key in other or other in key:
            ranked.append((0, abs(len(other) - len(key)), other, term.value))
            continue
        distance = _edit_distance(key, other, bound=max(2, len(key) // 3))
        if distance is not None:
            ranked.append((1, distance, other, term.value))
    return [value for *_rank, value in sorted(ranked)[:limit]]


def _edit_distance(a: str, b: str, bound: int) -> int | None:
    """Levenshtein distance of ``a`` and ``b`` when it is at most ``bound``, else None."""
    if abs(len(a) - len(b)) > bound:
        return None
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > bound:
            return None
        previous = current
    return previous[-1] if previous[-1] <= bound else None


# --- resolving a value typed when publishing ---------------------------------------------------------------


def resolve(session: Session, name: str, value: str) -> str:
    """The value to store for ``value`` typed in field ``name``, inside the caller's transaction: empty stays
    empty, a known term is spelt as the term, a new value becomes a term of an open vocabulary and is refused
    (``ValidationError`` on the field, with the closest terms) by a closed one."""
    cleaned = clean_value(value)
    if not cleaned:
        return ""
    if len(cleaned) > MAX_VALUE:
        raise ValidationError(N_("At most %(n)s characters."), field=name, n=MAX_VALUE)
    key = term_key(cleaned)
    found = _term_by_key(session, name, key)
    if found is not None:
        return found.value
    vocabulary = session.get(Vocabulary, _check_name(name), with_for_update=_share_lock(session))
    if vocabulary is not None and vocabulary.closed:
        close = suggestions(session, name, cleaned)
        if close:
            raise ValidationError(
                _NOT_IN_CLOSED_SUGGEST[name], field=name, value=cleaned, suggestions=", ".join(f"“{s}”" for s in close)
            )
        raise ValidationError(_NOT_IN_CLOSED[name], field=name, value=cleaned)
    try:
        with session.begin_nested():  # another process may add the same term at the same moment
            session.add(VocabularyTerm(vocabulary=name, value=cleaned, key=key))
    except IntegrityError:
        found = _term_by_key(session, name, key)
        if found is None:
            raise
        return found.value
    return cleaned


def _share_lock(session: Session) -> dict[str, bool] | None:
    """A shared row lock on PostgreSQL, so a rename or merge committing meanwhile is waited for (SQLite's
    write transactions are serialised already)."""
    return None if session.get_bind().dialect.name == "sqlite" else {"read": True}


def _term_by_key(session: Session, name: str, key: str) -> VocabularyTerm | None:
    stmt = select(VocabularyTerm).where(VocabularyTerm.vocabulary == name, VocabularyTerm.key == key)
    lock = _share_lock(session)
    return session.scalars(stmt.with_for_update(**lock) if lock else stmt).first()


# --- what admins do ----------------------------------------------------------------------------------------


def _new_value(value: str) -> str:
    cleaned = clean_value(value)
    if not cleaned:
        raise ValidationError(N_("Type the value."), field="value")
    if len(cleaned) > MAX_VALUE:
        raise ValidationError(N_("At most %(n)s characters."), field="value", n=MAX_VALUE)
    return cleaned


def _term(session: Session, name: str, term_id: int) -> VocabularyTerm:
    term = session.get(VocabularyTerm, term_id) if isinstance(term_id, int) and 0 < term_id < 2**63 else None
    if term is None or term.vocabulary != _check_name(name):
        raise NotFound(N_("No such term: the list may have changed meanwhile. Reload the page."))
    return term


def _rewrite(session: Session, name: str, old: str, new: str) -> int:
    """Gives every asset spelt ``old`` the value ``new`` and queues it for re-indexing; how many."""
    column = _column(name)
    changed = session.scalars(
        update(Asset).where(column == old).values({name: new, "updated_at": utcnow()}).returning(Asset.id)
    ).all()
    for asset_id in changed:
        enqueue_index(session, asset_id)
    return len(changed)


def add(db: Database, name: str, value: str) -> Term:
    """A new term; refused when the list has it already, in whatever spelling."""
    cleaned = _new_value(value)
    with db.transaction() as session:
        _check_name(name)
        existing = _term_by_key(session, name, term_key(cleaned))
        if existing is not None:
            raise Conflict(N_("The list has it already, as “%(value)s”."), field="value", value=existing.value)
        term = VocabularyTerm(vocabulary=name, value=cleaned, key=term_key(cleaned))
        session.add(term)
        session.flush()
        return Term(term.id, term.value, 0)


def rename(db: Database, name: str, term_id: int, value: str) -> Change:
    """Spells a term anew and rewrites the assets that carry it. A spelling of another term is refused: that
    is a merge."""
    cleaned = _new_value(value)
    with db.transaction() as session:
        term = _term(session, name, term_id)
        key = term_key(cleaned)
        other = _term_by_key(session, name, key)
        if other is not None and other.id != term.id:
            raise Conflict(
                N_("“%(value)s” is in the list already: merge “%(term)s” into it instead."),
                field="value",
                value=other.value,
                term=term.value,
            )
        old = term.value
        term.value, term.key = cleaned, key
        session.flush()
        return Change(cleaned, _rewrite(session, name, old, cleaned) if cleaned != old else 0)


def merge(db: Database, name: str, source_id: int, target_id: int) -> Change:
    """Moves the assets of term ``source_id`` to term ``target_id`` and deletes the source."""
    with db.transaction() as session:
        source = _term(session, name, source_id)
        target = _term(session, name, target_id)
        if source.id == target.id:
            raise ValidationError(N_("Choose another term to merge into."), field="target_id")
        moved = _rewrite(session, name, source.value, target.value)
        session.delete(source)
        return Change(target.value, moved)


def delete(db: Database, name: str, term_id: int) -> str:
    """Removes a term no asset uses and returns its value; a used one is a conflict (merge it instead)."""
    with db.transaction() as session:
        term = _term(session, name, term_id)
        used = session.scalar(select(func.count()).select_from(Asset).where(_column(name) == term.value)) or 0
        if used:
            raise Conflict(
                N_("Assets carry “%(value)s”: merge it into another term instead, and they will carry that one."),
                value=term.value,
            )
        session.delete(term)
        return term.value


def set_closed(db: Database, name: str, closed: bool) -> None:
    """Closed: publishing accepts only the list's terms. Open: a new value typed when publishing joins the list."""
    with db.transaction() as session:
        vocabulary = session.get(Vocabulary, _check_name(name))
        if vocabulary is None:
            session.add(Vocabulary(name=name, closed=closed))
        else:
            vocabulary.closed = closed
