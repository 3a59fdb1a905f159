"""Synonyms marketing keeps: groups of words and abbreviations that mean the same to a salesperson.

A group is a few entries (``ТКП``, ``технико-коммерческое предложение``); search lets any entry find the
others (``kb.search.planner.Synonyms``), at query time, so a change needs no re-index. Kept in the
database; exported and imported as CSV, one group per row, entries in columns (``kb synonyms``, the API).
A starter list for B2B/B2G sales ships with kb (``STARTER``) and is loaded by ``kb synonyms starter``.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.db import Database
from kb.errors import N_, Forbidden, NotFound, ValidationError

__all__ = ["N_", "ValidationError"]  # the page raises these too
from kb.models import Role, SynonymGroup, User
from kb.search.analysis import analyze
from kb.search.planner import Synonyms

MAX_ENTRIES = 20
MAX_ENTRY_CHARS = 100
MAX_GROUPS = 5_000
MAX_IMPORT_BYTES = 2_000_000

#: Equivalents every B2B/B2G sales team in Russia types; marketing edits them on the synonyms page.
STARTER: tuple[tuple[str, ...], ...] = (
    ("ТКП", "технико-коммерческое предложение", "коммерческое предложение", "КП"),
    ("ТЗ", "техническое задание"),
    ("НМЦК", "начальная максимальная цена контракта", "начальная цена контракта"),
    ("44-ФЗ", "44 ФЗ", "44ФЗ", "закон о контрактной системе"),
    ("223-ФЗ", "223 ФЗ", "223ФЗ", "закон о закупках отдельными видами юридических лиц"),
    ("СИМ", "SIM", "сим-карта"),
    ("specs", "specifications", "spec sheet", "datasheet"),
    ("вайфай", "Wi-Fi", "wifi", "WLAN"),
    ("монтаж", "установка", "инсталляция"),
    ("прайс", "прайс-лист", "price list", "цены"),
    # "ПО" and "ТО" are Russian stop words ("по", "то"): search cannot tell them from prepositions.
    ("программное обеспечение", "software", "софт"),
    ("НДС", "налог на добавленную стоимость", "VAT"),
    ("КПД", "коэффициент полезного действия", "efficiency"),
    ("ЭЦП", "электронная подпись", "КЭП"),
    ("техническое обслуживание", "сервисное обслуживание", "maintenance"),
    ("ЗИП", "запасные части", "запчасти", "spare parts"),
    ("NDA", "соглашение о неразглашении", "non-disclosure agreement"),
    ("SLA", "соглашение об уровне обслуживания", "service level agreement"),
    ("RFP", "request for proposal", "запрос предложений"),
    ("RFQ", "request for quotation", "запрос котировок"),
    ("гарантия", "warranty"),
    ("руководство", "инструкция", "manual"),
)


@dataclass(frozen=True)
class Group:
    id: int
    entries: list[str]
    note: str


def clean_entries(entries: Iterable[str]) -> list[str]:
    """The entries without blanks and repeats, each checked: a group needs two that search can use."""
    result: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for raw in entries:
        entry = " ".join(str(raw or "").split())
        if not entry:
            continue
        if len(entry) > MAX_ENTRY_CHARS:
            raise ValidationError(N_("An entry is longer than %(n)d characters."), field="terms", n=MAX_ENTRY_CHARS)
        terms = tuple(analyze(entry))
        if not terms:
            raise ValidationError(
                N_("“%(entry)s” has no word search can use (only stop words or punctuation)."), field="terms",
                entry=entry,
            )  # fmt: skip
        if terms in seen:
            continue
        seen.add(terms)
        result.append(entry)
    if len(result) < 2:
        raise ValidationError(N_("A group needs at least two different entries, one per line."), field="terms")
    if len(result) > MAX_ENTRIES:
        raise ValidationError(N_("A group holds at most %(n)d entries."), field="terms", n=MAX_ENTRIES)
    return result


def _check_actor(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id)
    if actor is None or not actor.active or not Role(actor.role).includes(Role.MARKETING):
        raise Forbidden(N_("Keeping synonyms needs the marketing role."))
    return actor


def groups(session: Session) -> list[Group]:
    rows = session.scalars(select(SynonymGroup).order_by(SynonymGroup.id))
    return [Group(row.id, row.entries, row.note) for row in rows]


_compiled: dict[tuple[object, ...], Synonyms] = {}
_compiled_lock = threading.Lock()


def for_search(session: Session) -> Synonyms:
    """The groups as search applies them. One small query per search tells whether they changed since this
    process last analyzed them (any server process may have changed them); only then are they read again."""
    count, last_id, last_change = session.execute(
        select(func.count(), func.max(SynonymGroup.id), func.max(SynonymGroup.updated_at))
    ).one()
    key = (str(session.get_bind().url), count, last_id, last_change)
    with _compiled_lock:
        found = _compiled.get(key)
    if found is None:
        rows = session.scalars(select(SynonymGroup.terms)).all()
        found = Synonyms([line for line in terms.splitlines() if line.strip()] for terms in rows)
        with _compiled_lock:
            _compiled.clear()  # one version per database is enough
            _compiled[key] = found
    return found


def add(db: Database, actor_id: int, entries: Iterable[str], note: str = "") -> int:
    cleaned = clean_entries(entries)
    with db.transaction() as session:
        actor = _check_actor(session, actor_id)
        if session.query(SynonymGroup).count() >= MAX_GROUPS:
            raise ValidationError(N_("There are %(n)d groups already; remove some first."), n=MAX_GROUPS)
        group = SynonymGroup(terms="\n".join(cleaned), note=(note or "").strip()[:500], updated_by_id=actor.id)
        session.add(group)
        session.flush()
        return group.id


def update(db: Database, actor_id: int, group_id: int, entries: Iterable[str], note: str = "") -> None:
    cleaned = clean_entries(entries)
    with db.transaction() as session:
        actor = _check_actor(session, actor_id)
        group = session.get(SynonymGroup, group_id)
        if group is None:
            raise NotFound(N_("No such synonym group."))
        group.terms = "\n".join(cleaned)
        group.note = (note or "").strip()[:500]
        group.updated_by_id = actor.id


def delete(db: Database, actor_id: int, group_id: int) -> None:
    with db.transaction() as session:
        _check_actor(session, actor_id)
        group = session.get(SynonymGroup, group_id)
        if group is None:
            raise NotFound(N_("No such synonym group."))
        session.delete(group)


EXPORT_NAME = "synonyms.csv"


def export_csv(session: Session, delimiter: str = ",") -> str:
    """Every group as a CSV row of its entries, UTF-8 with a BOM for spreadsheets; ``delimiter`` is ``,`` or ``;``
    (what Russian Excel splits by). An entry holding either is quoted, so ``parse_csv`` tells them apart."""
    rows = (delimiter.join(_quoted(_cell(entry)) for entry in group.entries) for group in groups(session))
    return "\ufeff" + "".join(row + "\n" for row in rows)


def _quoted(entry: str) -> str:
    if any(char in entry for char in ',;"'):
        return '"' + entry.replace('"', '""') + '"'
    return entry


_FORMULA_START = ("=", "+", "-", "@")


def _cell(entry: str) -> str:
    """An entry a spreadsheet will not run as a formula; ``parse_csv`` takes the quote off again."""
    return "'" + entry if entry.startswith(_FORMULA_START) else entry


def _delimiter(text: str) -> str:
    """``;`` or ``,``, whichever separates more fields outside quotes; ``;`` on a tie, as an entry is more likely
    to hold a comma ("коммерческое предложение, КП") than a semicolon."""
    outside = text.split('"')[::2]
    semicolons, commas = (sum(part.count(char) for part in outside) for char in ";,")
    return ";" if semicolons and semicolons >= commas else ","


def parse_csv(data: bytes) -> list[list[str]]:
    """Groups from CSV bytes (UTF-8, with or without BOM; comma or semicolon); every row checked first."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(N_("The file is larger than 2 MB."), field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(N_("The file is not UTF-8 text: save it as CSV UTF-8."), field="file") from None
    if "\x00" in text:
        raise ValidationError(N_("The file is not a CSV text file."), field="file")
    delimiter = _delimiter(text)
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if not any(cell.strip() for cell in row):
            continue
        row = [cell[1:] if cell.startswith("'") and cell[1:2] in _FORMULA_START else cell for cell in row]
        try:
            rows.append(clean_entries(row))
        except ValidationError as error:
            raise ValidationError(
                N_("Row %(row)d: %(problem)s"), field="file", row=number, problem=str(error)
            ) from None
    if not rows:
        raise ValidationError(N_("The file has no synonym groups."), field="file")
    if len(rows) > MAX_GROUPS:
        raise ValidationError(N_("The file has more than %(n)d groups."), field="file", n=MAX_GROUPS)
    return rows


def import_groups(db: Database, actor_id: int, rows: list[list[str]], *, replace: bool = False) -> int:
    """Adds the groups (``replace``: instead of the current ones), all or none; returns how many were added."""
    cleaned = [clean_entries(row) for row in rows]
    with db.transaction() as session:
        actor = _check_actor(session, actor_id)
        if replace:
            for group in session.scalars(select(SynonymGroup)):
                session.delete(group)
        existing = {tuple(g.entries) for g in session.scalars(select(SynonymGroup))} if not replace else set()
        if len(existing) + len(cleaned) > MAX_GROUPS:
            raise ValidationError(N_("There are %(n)d groups already; remove some first."), n=MAX_GROUPS)
        added = 0
        for entries in cleaned:
            if tuple(entries) in existing:
                continue
            session.add(SynonymGroup(terms="\n".join(entries), note="", updated_by_id=actor.id))
            added += 1
        return added


def load_starter(db: Database, actor_id: int) -> int:
    return import_groups(db, actor_id, [list(group) for group in STARTER])
