"""The staleness report: how fresh the published library is, whose assets are overdue, and the list behind it.

``staleness`` reads every published asset with its owner, current version and open flags in a fixed number
of queries and computes the tiles (counts per freshness status, assets without text, the fresh share), the
breakdowns by owner, kind, product and segment (worst first) and the full list. ``to_csv``, ``to_markdown`` and
``to_json`` serve the CLI, the API and the downloads; they know nothing of Flask.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import Asset, AssetSegment, AssetStatus, AssetVersion, ExtractionStatus, FlagStatus, StaleFlag, User
from kb.search.signals import freshness

STATUSES = ("fresh", "review_due", "overdue", "flagged")
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
class StalenessReport:
    today: date
    rows: list[ReportRow]
    tiles: dict[str, int]
    fresh_share: float | None
    by_owner: list[Breakdown]
    by_kind: list[Breakdown]
    by_product: list[Breakdown]
    by_segment: list[Breakdown]


def _rows(session: Session, today: date) -> list[ReportRow]:
    # Columns, not whole assets: loading 10,000 Asset objects (and their tags and segments, which the model
    # loads with them) took seconds.
    assets = session.execute(
        select(
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
        )
        .join(User, User.id == Asset.owner_id)
        .outerjoin(AssetVersion, AssetVersion.id == Asset.current_version_id)
        .where(Asset.status == AssetStatus.PUBLISHED)
    ).all()
    flags = dict(
        session.execute(
            select(StaleFlag.asset_id, func.count())
            .where(StaleFlag.status == FlagStatus.OPEN)
            .group_by(StaleFlag.asset_id)
        ).all()
    )
    segments: dict[int, list[str]] = {}
    for asset_id, segment in session.execute(select(AssetSegment.asset_id, AssetSegment.segment)):
        segments.setdefault(asset_id, []).append(segment)
    rows = []
    for asset in assets:
        open_flags = int(flags.get(asset.id, 0))
        rows.append(
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
                freshness=freshness(asset.next_review_on, open_flags, today),
                days_overdue=max(0, (today - asset.next_review_on).days),
                open_flags=open_flags,
                has_text=asset.extraction_status not in NO_TEXT,
            )
        )
    rows.sort(key=lambda r: (STATUSES.index(r.freshness) * -1, -r.days_overdue, -r.open_flags, r.title))
    return rows


def _breakdown(rows: list[ReportRow], keys: Callable[[ReportRow], list[tuple[str, str]]]) -> list[Breakdown]:
    groups: dict[str, Breakdown] = {}
    for row in rows:
        for key, label in keys(row):
            group = groups.get(key)
            if group is None:
                group = groups[key] = Breakdown(key=key, label=label)
            group.counts[row.freshness] += 1
            group.total += 1
            group.open_flags += row.open_flags
            group.oldest_overdue_days = max(group.oldest_overdue_days, row.days_overdue)
    return sorted(groups.values(), key=lambda g: (-g.stale, -g.oldest_overdue_days, -g.counts["review_due"], g.label))


def _matches(row: ReportRow, filters: ReportFilters) -> bool:
    return (
        (filters.owner_id is None or row.owner_id == filters.owner_id)
        and (not filters.kind or row.kind == filters.kind)
        and (not filters.product or row.product == filters.product)
        and (not filters.segment or filters.segment in row.segments)
        and (not filters.freshness or row.freshness == filters.freshness)
    )


def staleness(session: Session, today: date, filters: ReportFilters | None = None) -> StalenessReport:
    """The report over the published assets that pass ``filters``."""
    rows = [row for row in _rows(session, today) if _matches(row, filters or ReportFilters())]
    tiles = {"published": len(rows), **dict.fromkeys(STATUSES, 0), "without_text": 0}
    for row in rows:
        tiles[row.freshness] += 1
        tiles["without_text"] += not row.has_text
    return StalenessReport(
        today=today,
        rows=rows,
        tiles=tiles,
        fresh_share=round(tiles["fresh"] / len(rows), 4) if rows else None,
        by_owner=_breakdown(rows, lambda r: [(str(r.owner_id), r.owner)]),
        by_kind=_breakdown(rows, lambda r: [(r.kind, r.kind)]),
        by_product=_breakdown(rows, lambda r: [(r.product, r.product or "—")]),
        by_segment=_breakdown(rows, lambda r: [(s, s) for s in r.segments]),
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


def _cells(row: ReportRow) -> list[Any]:
    values = asdict(row)
    values["segments"] = ", ".join(row.segments)
    values["last_version_on"] = row.last_version_on.isoformat()
    values["next_review_on"] = row.next_review_on.isoformat()
    values["has_text"] = "yes" if row.has_text else "no"
    values["version"] = row.version if row.version is not None else ""
    return [values[column] for column in COLUMNS]


def _safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (titles are typed by people)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(report: StalenessReport) -> str:
    """The list as CSV with a header row; the caller encodes it (UTF-8 with a BOM opens right in Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow([_safe(cell) for cell in _cells(row)])
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


# --- age of content -----------------------------------------------------------------------------------------

AGE_BUCKETS = ((0, 90), (91, 180), (181, 365), (366, 730), (731, None))
OVERDUE_BUCKETS = ((0, 0), (1, 30), (31, 90), (91, 180), (181, None))


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int | None
    count: int


def _bucket(values: list[int], bounds: tuple[tuple[int, int | None], ...]) -> list[Bucket]:
    return [
        Bucket(low, high, sum(1 for v in values if v >= low and (high is None or v <= high))) for low, high in bounds
    ]


def age_buckets(report: StalenessReport) -> list[Bucket]:
    """Assets by days since their last version."""
    return _bucket([(report.today - r.last_version_on).days for r in report.rows], AGE_BUCKETS)


def overdue_buckets(report: StalenessReport) -> list[Bucket]:
    """Assets by days overdue (the first bucket: not overdue)."""
    return _bucket([r.days_overdue for r in report.rows], OVERDUE_BUCKETS)


def to_xlsx(report: StalenessReport, headers: list[str] | None = None) -> bytes:
    """The list as an Excel workbook: one sheet, a header row, dates as dates, Cyrillic intact."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("staleness")
    sheet.append(headers or list(COLUMNS))
    for row in report.rows:
        cells = _cells(row)
        cells[COLUMNS.index("last_version_on")] = row.last_version_on
        cells[COLUMNS.index("next_review_on")] = row.next_review_on
        sheet.append([_safe(cell) for cell in cells])
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


def fresh_trend(session: Session, today: date, weeks: int = 12) -> list[TrendPoint]:
    """The fresh share at the end of each of the last ``weeks`` weeks (oldest first), rebuilt from history.

    An asset counts from its first version; its review date on a day is the one set by the last review
    (confirmation or new version) before that day, else its first version's date plus its interval; its open
    flags are those raised before and not closed by then. Assets archived today are left out of the past too
    (the status history is not kept).
    """
    from datetime import timedelta

    from kb.models import Review

    assets = session.execute(
        select(Asset.id, Asset.created_at, Asset.review_interval_days, func.min(AssetVersion.published_at))
        .join(AssetVersion, AssetVersion.asset_id == Asset.id)
        .where(Asset.status == AssetStatus.PUBLISHED)
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
    points = []
    for back in range(weeks - 1, -1, -1):
        day = today - timedelta(days=7 * back)
        published = fresh = 0
        for asset_id, created_at, interval, first_version in assets:
            start = (first_version or created_at).date()
            if start > day:
                continue
            published += 1
            review_on = start + timedelta(days=interval)
            for reviewed_on, next_review in reviews.get(asset_id, []):
                if reviewed_on <= day:
                    review_on = next_review
            open_flags = sum(
                1 for raised, closed in flags.get(asset_id, []) if raised <= day and (closed is None or closed > day)
            )
            fresh += freshness(review_on, open_flags, day) == "fresh"
        points.append(TrendPoint(day, published, fresh))
    return points
