"""The staleness report: how fresh the published library is, whose assets are overdue, and the list behind it.

``staleness`` reads every published asset with its owner, current version and open flags in a fixed number
of queries and computes the tiles (counts per freshness status, assets without text, the fresh share), the
breakdowns by owner, kind, product and segment (worst first) and the full list. ``to_csv``, ``to_xlsx``,
``to_markdown`` and ``to_json`` serve the CLI, the API and the downloads; they know nothing of Flask. The JSON and
the default CSV speak in codes (``kind=catalog``, ``freshness=flagged``); a download for people gets its headers
and values in the reader's language through ``Labels``, which the web layer fills from its translations.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Date, DateTime, Select, and_, case, func, literal, select, true, type_coerce
from sqlalchemy.orm import Session

from kb.audiences import Viewer, visible_condition
from kb.models import Asset, AssetSegment, AssetStatus, AssetVersion, ExtractionStatus, FlagStatus, StaleFlag, User
from kb.search.signals import FRESHNESS_STATES, REVIEW_DUE_DAYS, freshness

STATUSES = FRESHNESS_STATES
NO_TEXT = (ExtractionStatus.EMPTY, ExtractionStatus.FAILED)


@dataclass(frozen=True)
class ReportRow:
    asset_id: int
    title: str
    kind: str
    product: str
    segments: tuple[str, ...]
    owner_id: int
    owner: str
    version: int | None
    last_version_on: date
    next_review_on: date
    freshness: str
    days_overdue: int
    open_flags: int
    has_text: bool


@dataclass
class Breakdown:
    """One owner, kind, product or segment: its assets per freshness status."""

    key: str
    label: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    total: int = 0
    oldest_overdue_days: int = 0
    open_flags: int = 0

    @property
    def stale(self) -> int:
        return self.counts["overdue"] + self.counts["flagged"]


@dataclass(frozen=True)
class ReportFilters:
    owner_id: int | None = None
    kind: str | None = None
    product: str | None = None
    segment: str | None = None
    freshness: str | None = None


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int | None
    count: int


@dataclass(frozen=True)
class StalenessReport:
    today: date
    #: The list, worst first: every asset that passes the filters, or the window asked for (``offset``, ``limit``).
    rows: list[ReportRow]
    tiles: dict[str, int]
    fresh_share: float | None
    by_owner: list[Breakdown]
    by_kind: list[Breakdown]
    by_product: list[Breakdown]
    by_segment: list[Breakdown]
    #: Assets by days since their last version, and by days overdue (the first bucket: not overdue).
    age: list[Bucket] = field(default_factory=list)
    overdue: list[Bucket] = field(default_factory=list)
    offset: int = 0


AGE_BUCKETS = ((0, 90), (91, 180), (181, 365), (366, 730), (731, None))
OVERDUE_BUCKETS = ((0, 0), (1, 30), (31, 90), (91, 180), (181, None))


class _Published:
    """The published assets that pass the filters, with their open flags and freshness as SQL expressions.

    Everything the report counts is counted by the database: at 10,000 assets, reading every asset into Python
    on each request took seconds, and the page shows a hundred rows of it.
    """

    def __init__(self, today: date, filters: ReportFilters, viewer: Viewer | None = None) -> None:
        self.today = today
        self.filters = filters
        self.viewer = viewer
        self.open_flags = (
            select(StaleFlag.asset_id, func.count().label("n"))
            .where(StaleFlag.status == FlagStatus.OPEN)
            .group_by(StaleFlag.asset_id)
            .subquery("open_flags")
        )
        self.flags = func.coalesce(self.open_flags.c.n, 0)
        self.due = today + timedelta(days=REVIEW_DUE_DAYS)
        # The same rule as kb.search.signals.freshness, row by row.
        self.freshness = case(
            (self.flags > 0, "flagged"),
            (Asset.next_review_on < today, "overdue"),
            (Asset.next_review_on <= self.due, "review_due"),
            else_="fresh",
        )
        self.last_version_at = func.coalesce(AssetVersion.published_at, Asset.created_at)

    def select(self, *columns: Any, versions: bool = False) -> Select[Any]:
        """``columns`` of the assets; ``versions``: joined with their current version."""
        stmt = (
            select(*columns)
            .select_from(Asset)
            .outerjoin(self.open_flags, self.open_flags.c.asset_id == Asset.id)
            .where(Asset.status == AssetStatus.PUBLISHED)
        )
        if self.viewer is not None:
            stmt = stmt.where(visible_condition(self.viewer))
        if versions:
            stmt = stmt.outerjoin(AssetVersion, AssetVersion.id == Asset.current_version_id)
        f = self.filters
        if f.owner_id is not None:
            stmt = stmt.where(Asset.owner_id == f.owner_id)
        if f.kind:
            stmt = stmt.where(Asset.kind == f.kind)
        if f.product:
            stmt = stmt.where(Asset.product == f.product)
        if f.segment:
            stmt = stmt.where(Asset.id.in_(select(AssetSegment.asset_id).where(AssetSegment.segment == f.segment)))
        if f.freshness:
            stmt = stmt.where(self.freshness == f.freshness)
        return stmt

    def worst_first(self) -> list[Any]:
        """Flagged, overdue, review due, fresh; then most days overdue, most open flags, title."""
        rank = case(
            (self.flags > 0, 3), (Asset.next_review_on < self.today, 2), (Asset.next_review_on <= self.due, 1), else_=0
        )
        overdue_since = case((Asset.next_review_on < self.today, Asset.next_review_on), else_=literal(self.today, Date))
        return [rank.desc(), overdue_since, self.flags.desc(), Asset.title, Asset.id]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _counts(session: Session, q: _Published) -> tuple[dict[str, int], list[Bucket], list[Bucket]]:
    """The tiles and both histograms, in one query: each asset's status, buckets and text are worked out once and
    the assets counted per combination (a few dozen)."""
    today = q.today

    def aged(low: int, high: int | None) -> Any:  # days since the last version within [low, high]
        condition = q.last_version_at < _midnight(today - timedelta(days=low - 1))
        if high is not None:
            condition = and_(condition, q.last_version_at >= _midnight(today - timedelta(days=high)))
        return condition

    def late(low: int, high: int | None) -> Any:  # days overdue within [low, high]
        if high == 0:
            return Asset.next_review_on >= today
        condition = Asset.next_review_on <= today - timedelta(days=low)
        if high is not None:
            condition = and_(condition, Asset.next_review_on >= today - timedelta(days=high))
        return condition

    age = case(*((aged(low, high), n) for n, (low, high) in enumerate(AGE_BUCKETS)), else_=-1)
    overdue = case(*((late(low, high), n) for n, (low, high) in enumerate(OVERDUE_BUCKETS)), else_=-1)
    no_text = case((AssetVersion.extraction_status.in_(NO_TEXT), 1), else_=0)
    keys = (q.freshness, age, overdue, no_text)
    tiles = {"published": 0, **dict.fromkeys(STATUSES, 0), "without_text": 0}
    age_counts = [0] * len(AGE_BUCKETS)
    overdue_counts = [0] * len(OVERDUE_BUCKETS)
    for status, age_bucket, overdue_bucket, without_text, count in session.execute(
        q.select(*keys, func.count(), versions=True).group_by(*keys)
    ):
        tiles["published"] += count
        tiles[status] += count
        tiles["without_text"] += count if without_text else 0
        if age_bucket >= 0:
            age_counts[age_bucket] += count
        if overdue_bucket >= 0:
            overdue_counts[overdue_bucket] += count
    return (
        tiles,
        [Bucket(low, high, n) for (low, high), n in zip(AGE_BUCKETS, age_counts, strict=True)],
        [Bucket(low, high, n) for (low, high), n in zip(OVERDUE_BUCKETS, overdue_counts, strict=True)],
    )


def _worst_first(groups: dict[str, Breakdown]) -> list[Breakdown]:
    return sorted(groups.values(), key=lambda g: (-g.stale, -g.oldest_overdue_days, -g.counts["review_due"], g.label))


def _add(
    groups: dict[str, Breakdown], key: Any, label: str, status: str, count: int, earliest: date, flags: int, today: date
) -> None:
    group = groups.get(str(key))
    if group is None:
        group = groups[str(key)] = Breakdown(key=str(key), label=label)
    group.counts[status] += count
    group.total += count
    group.open_flags += flags
    group.oldest_overdue_days = max(group.oldest_overdue_days, (today - earliest).days)


def _breakdowns(session: Session, q: _Published) -> tuple[list[Breakdown], ...]:
    """By owner, kind, product and segment, worst first: the first three from one grouped query."""
    figures = (q.freshness, func.count(), func.min(Asset.next_review_on), func.sum(q.flags))
    by_owner: dict[str, Breakdown] = {}
    by_kind: dict[str, Breakdown] = {}
    by_product: dict[str, Breakdown] = {}
    keys = (Asset.owner_id, Asset.kind, Asset.product)
    grouped = session.execute(q.select(*keys, *figures).group_by(*keys, q.freshness)).all()
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_({g[0] for g in grouped}))).all())
    for owner_id, kind, product, *rest in grouped:
        status, count, earliest, flags = rest[0], int(rest[1]), rest[2], int(rest[3] or 0)
        _add(by_owner, owner_id, names[owner_id], status, count, earliest, flags, q.today)
        _add(by_kind, kind, kind, status, count, earliest, flags, q.today)
        _add(by_product, product, product or "—", status, count, earliest, flags, q.today)
    by_segment: dict[str, Breakdown] = {}
    for segment, status, count, earliest, flags in session.execute(
        q.select(AssetSegment.segment, *figures)
        .join(AssetSegment, AssetSegment.asset_id == Asset.id)
        .group_by(AssetSegment.segment, q.freshness)
    ):
        _add(by_segment, segment, segment, status, int(count), earliest, int(flags or 0), q.today)
    return _worst_first(by_owner), _worst_first(by_kind), _worst_first(by_product), _worst_first(by_segment)


def _rows(session: Session, q: _Published, offset: int, limit: int | None) -> list[ReportRow]:
    stmt = (
        q.select(
            Asset.id,
            Asset.title,
            Asset.kind,
            Asset.product,
            Asset.owner_id,
            Asset.next_review_on,
            Asset.created_at,
            User.display_name,
            AssetVersion.number,
            AssetVersion.published_at,
            AssetVersion.extraction_status,
            q.flags.label("open_flags"),
            q.freshness.label("freshness"),
            versions=True,
        )
        .join(User, User.id == Asset.owner_id)
        .order_by(*q.worst_first())
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    assets = session.execute(stmt).all()
    segments: dict[int, list[str]] = {}
    wanted = select(AssetSegment.asset_id, AssetSegment.segment)
    if limit is not None:
        wanted = wanted.where(AssetSegment.asset_id.in_([a.id for a in assets]))
    for asset_id, segment in session.execute(wanted):
        segments.setdefault(asset_id, []).append(segment)
    today = q.today
    return [
        ReportRow(
            asset_id=asset.id,
            title=asset.title,
            kind=asset.kind,
            product=asset.product,
            segments=tuple(sorted(segments.get(asset.id, []))),
            owner_id=asset.owner_id,
            owner=asset.display_name,
            version=asset.number,
            last_version_on=(asset.published_at or asset.created_at).date(),
            next_review_on=asset.next_review_on,
            freshness=asset.freshness,
            days_overdue=max(0, (today - asset.next_review_on).days),
            open_flags=int(asset.open_flags),
            has_text=asset.extraction_status not in NO_TEXT,
        )
        for asset in assets
    ]


def staleness(
    session: Session,
    today: date,
    filters: ReportFilters | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
    viewer: Viewer | None = None,
) -> StalenessReport:
    """The report over the published assets that pass ``filters`` (and that ``viewer`` may see, when given:
    ``kb.audiences``); ``rows`` from ``offset``, at most ``limit``.

    A fixed number of queries whatever the size of the library; the figures are computed by the database."""
    q = _Published(today, filters or ReportFilters(), viewer)
    tiles, age, overdue = _counts(session, q)
    by_owner, by_kind, by_product, by_segment = _breakdowns(session, q)
    return StalenessReport(
        today=today,
        rows=_rows(session, q, offset, limit),
        tiles=tiles,
        fresh_share=round(tiles["fresh"] / tiles["published"], 4) if tiles["published"] else None,
        by_owner=by_owner,
        by_kind=by_kind,
        by_product=by_product,
        by_segment=by_segment,
        age=age,
        overdue=overdue,
        offset=offset,
    )


# --- formats ------------------------------------------------------------------------------------------------

COLUMNS = (
    "asset_id",
    "title",
    "kind",
    "product",
    "segments",
    "owner",
    "version",
    "last_version_on",
    "next_review_on",
    "freshness",
    "days_overdue",
    "open_flags",
    "has_text",
)


@dataclass(frozen=True)
class Labels:
    """How a download reads: the column headers, the words for kinds, statuses and yes/no, the sheet's name and
    its date format. The default is the codes themselves, as programs want them; the web layer fills one in the
    reader's language for the page's downloads."""

    headers: Mapping[str, str] = field(default_factory=lambda: {column: column for column in COLUMNS})
    kinds: Mapping[str, str] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)
    yes: str = "yes"
    no: str = "no"
    sheet: str = "staleness"
    date_format: str = "yyyy-mm-dd"


CODES = Labels()


def _values(row: ReportRow, labels: Labels) -> list[Any]:
    """A row for a spreadsheet: numbers as numbers, dates as dates, codes in the labels' words."""
    return [
        row.asset_id,
        row.title,
        labels.kinds.get(row.kind, row.kind),
        row.product,
        ", ".join(row.segments),
        row.owner,
        row.version,
        row.last_version_on,
        row.next_review_on,
        labels.statuses.get(row.freshness, row.freshness),
        row.days_overdue,
        row.open_flags,
        labels.yes if row.has_text else labels.no,
    ]  # in the order of COLUMNS


def _safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (titles and names are typed by people)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()  # Excel reads ISO dates as dates whatever its locale
    return value


def _cells(row: ReportRow) -> list[Any]:
    """A row in codes, dates as ISO text: what the JSON carries."""
    return [_plain(value) for value in _values(row, CODES)]


def to_csv(report: StalenessReport, labels: Labels = CODES, delimiter: str = ",") -> str:
    """The list as CSV with a header row; the caller encodes it (UTF-8 with a BOM opens right in Excel).

    With the default labels the header and the values are codes (``has_text`` is ``yes``/``no``).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([_safe(labels.headers.get(column, column)) for column in COLUMNS])
    for row in report.rows:
        writer.writerow([_safe(_plain(cell)) for cell in _values(row, labels)])
    return buffer.getvalue()


def to_json(report: StalenessReport, trend: list[TrendPoint] | None = None) -> dict[str, Any]:
    def breakdown(items: list[Breakdown]) -> list[dict[str, Any]]:
        return [
            {
                "key": b.key,
                "label": b.label,
                "total": b.total,
                **b.counts,
                "oldest_overdue_days": b.oldest_overdue_days,
                "open_flags": b.open_flags,
            }
            for b in items
        ]

    return {
        "today": report.today.isoformat(),
        "tiles": report.tiles,
        "fresh_share": report.fresh_share,
        "by_owner": breakdown(report.by_owner),
        "by_kind": breakdown(report.by_kind),
        "by_product": breakdown(report.by_product),
        "by_segment": breakdown(report.by_segment),
        "trend": [
            {"week_ending": p.week_ending.isoformat(), "published": p.published, "fresh": p.fresh, "share": p.share}
            for p in trend or []
        ],
        "assets": [dict(zip(COLUMNS, _cells(row), strict=True)) for row in report.rows],
    }


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: StalenessReport) -> str:
    """A weekly-mail version: the tiles, the owners worst first, and the overdue or flagged assets."""
    t = report.tiles
    share = f"{report.fresh_share:.0%}" if report.fresh_share is not None else "—"
    lines = [
        f"# Staleness report, {report.today.isoformat()}",
        "",
        f"Published {t['published']} · fresh {t['fresh']} ({share}) · review due {t['review_due']} · "
        f"overdue {t['overdue']} · flagged {t['flagged']} · without text {t['without_text']}",
        "",
        "## By owner",
        "",
        "| owner | assets | fresh | review due | overdue | flagged | oldest overdue, days | open flags |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in report.by_owner:
        lines.append(
            f"| {_md(b.label)} | {b.total} | {b.counts['fresh']} | {b.counts['review_due']} | {b.counts['overdue']} "
            f"| {b.counts['flagged']} | {b.oldest_overdue_days} | {b.open_flags} |"
        )
    stale = [r for r in report.rows if r.freshness in ("overdue", "flagged")]
    lines += ["", "## Overdue or flagged", ""]
    if not stale:
        lines.append("Nothing is overdue or flagged.")
    else:
        lines += ["| asset | owner | status | days overdue | open flags |", "|---|---|---|---|---|"]
        lines += [
            f"| {_md(r.title)} | {_md(r.owner)} | {r.freshness} | {r.days_overdue} | {r.open_flags} |" for r in stale
        ]
    return "\n".join(lines) + "\n"


MAX_COLUMN_WIDTH = 60


def _width(value: Any, date_format: str) -> int:
    if isinstance(value, date):
        return len(date_format)
    return len(str(value)) if value is not None else 0


def to_xlsx(report: StalenessReport, labels: Labels = CODES, asset_url: Callable[[int], str] | None = None) -> bytes:
    """The list as an Excel workbook, ready to work with: a bold header row that stays in view, a filter on every
    column, widths that fit the content (up to ``MAX_COLUMN_WIDTH``), numbers and dates as such, and each title a
    link to ``asset_url(asset_id)`` when given. Text is always text: a title "=1+1" is not run as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    header = [labels.headers.get(column, column) for column in COLUMNS]
    table = [_values(row, labels) for row in report.rows]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(labels.sheet[:31])  # Excel's limit for a sheet's name
    for index, column in enumerate(zip(header, *table, strict=True), start=1):
        fitted = max(_width(value, labels.date_format) for value in column) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(fitted, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table) + 1}"

    def cell(value: Any, **style: Any) -> WriteOnlyCell:
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            made.data_type = "s"  # openpyxl would take "=..." for a formula
        for name, setting in style.items():
            setattr(made, name, setting)
        return made

    bold = Font(bold=True)
    sheet.append([cell(text, font=bold) for text in header])
    title_at = COLUMNS.index("title")
    for row, values in zip(report.rows, table, strict=True):
        cells: list[Any] = []
        for index, value in enumerate(values):
            if isinstance(value, date):
                cells.append(cell(value, number_format=labels.date_format))
            elif index == title_at and asset_url is not None:
                cells.append(cell(value, hyperlink=asset_url(row.asset_id), style="Hyperlink"))
            elif isinstance(value, str) and value.startswith("="):
                cells.append(cell(value))
            else:
                cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the trend ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    week_ending: date
    published: int
    fresh: int

    @property
    def share(self) -> float | None:
        return round(self.fresh / self.published, 4) if self.published else None


def fresh_trend(session: Session, today: date, weeks: int = 12, viewer: Viewer | None = None) -> list[TrendPoint]:
    """The fresh share at the end of each of the last ``weeks`` weeks (oldest first), rebuilt from history; with
    a ``viewer``, over the assets they may see.

    An asset counts from its first version; its review date on a day is the one set by the last review
    (confirmation or new version) before that day, else its first version's date plus its interval; its open
    flags are those raised before and not closed by then. Assets archived today are left out of the past too
    (the status history is not kept).
    """
    from kb.models import Review

    # The first version's time as the stored naive UTC value: its date is all that counts, and making 10,000
    # aware datetimes cost more than the rest of the trend.
    first_version = type_coerce(func.coalesce(func.min(AssetVersion.published_at), Asset.created_at), DateTime())
    assets = session.execute(
        select(Asset.id, Asset.review_interval_days, first_version)
        .join(AssetVersion, AssetVersion.asset_id == Asset.id)
        .where(Asset.status == AssetStatus.PUBLISHED, true() if viewer is None else visible_condition(viewer))
        .group_by(Asset.id, Asset.created_at, Asset.review_interval_days)
    ).all()
    reviews: dict[int, list[tuple[date, date]]] = {}
    for asset_id, reviewed_at, next_review in session.execute(
        select(Review.asset_id, Review.reviewed_at, Review.next_review_on).order_by(Review.reviewed_at)
    ):
        reviews.setdefault(asset_id, []).append((reviewed_at.date(), next_review))
    flags: dict[int, list[tuple[date, date | None]]] = {}
    for asset_id, created, closed in session.execute(
        select(StaleFlag.asset_id, StaleFlag.created_at, StaleFlag.closed_at)
    ):
        flags.setdefault(asset_id, []).append((created.date(), closed.date() if closed else None))
    days = [today - timedelta(days=7 * back) for back in range(weeks - 1, -1, -1)]
    published = [0] * weeks
    fresh = [0] * weeks
    # Most assets were never reviewed or flagged: fresh from their first version until two weeks before the
    # review it set. They are counted for every week at once, as arrays; the others one by one.
    starts: list[int] = []
    reviews_on: list[int] = []
    for asset_id, interval, first_at in assets:
        start = first_at.date()
        if asset_id not in reviews and asset_id not in flags:
            starts.append(start.toordinal())
            reviews_on.append(start.toordinal() + interval)
            continue
        for i, day in enumerate(days):
            if start > day:
                continue
            published[i] += 1
            review_on = start + timedelta(days=interval)
            for reviewed_on, next_review in reviews.get(asset_id, []):
                if reviewed_on <= day:
                    review_on = next_review
            open_flags = sum(
                1 for raised, closed in flags.get(asset_id, []) if raised <= day and (closed is None or closed > day)
            )
            fresh[i] += freshness(review_on, open_flags, day) == "fresh"
    start_days, review_days = np.array(starts, dtype=np.int64), np.array(reviews_on, dtype=np.int64)
    for i, day in enumerate(days):
        live = start_days <= day.toordinal()
        published[i] += int(live.sum())
        fresh[i] += int((live & (review_days - day.toordinal() > REVIEW_DUE_DAYS)).sum())
    return [TrendPoint(day, published[i], fresh[i]) for i, day in enumerate(days)]
