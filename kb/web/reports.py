"""The staleness report page, with its CSV and XLSX downloads: the same figures as the CLI and the API, the
downloads in the reader's words (headers, kinds, statuses) where the API keeps the codes."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kb import analytics, reports
from kb.api.reports import report_filters
from kb.audiences import visible_condition
from kb.models import ASSET_KINDS, SEGMENTS, Asset, AssetStatus, Role, User
from kb.web.access import requires
from kb.web.context import db_session, get_db, get_search_log
from kb.web.downloads import csv_delimiter, csv_response, excel_delimiter
from kb.web.templating import freshness_label, kind_label

bp = Blueprint("reports", __name__, url_prefix="/reports")
PER_PAGE = 100
FILTERS = ("owner", "kind", "product", "segment", "freshness")
#: The content analytics page lists this many of the assets nobody opened (the longest published first).
UNOPENED_SHOWN = 100


def _report(**window: int) -> reports.StalenessReport:
    return reports.staleness(db_session(), date.today(), report_filters(request.args), viewer=current_user, **window)


@bp.get("/staleness")
def staleness() -> Any:
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    report = _report(offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    session = db_session()
    seen = (Asset.status == AssetStatus.PUBLISHED, visible_condition(current_user))
    products = sorted(p for p in session.scalars(select(Asset.product).where(*seen).distinct()) if p)
    owners = session.execute(
        select(User.id, User.display_name)
        .where(User.id.in_(select(Asset.owner_id).where(*seen)))
        .order_by(User.display_name)
    ).all()
    # Only the filters travel into the links: another name (``endpoint``, ``delimiter``) would reach url_for.
    args = {k: v for k in FILTERS if (v := request.args.get(k))}
    return render_template(
        "reports/staleness.html",
        report=report,
        rows=report.rows,
        page=page,
        pages=max(1, -(-report.tiles["published"] // PER_PAGE)),
        args=args,
        age=report.age,
        overdue=report.overdue,
        kinds=ASSET_KINDS,
        segments=SEGMENTS,
        products=products,
        owners=owners,
        statuses=reports.STATUSES,
        trend=reports.fresh_trend(session, date.today(), viewer=current_user),
        csv_delimiter=excel_delimiter(),
    )


@bp.get("/content")
@requires(Role.MARKETING)
def content() -> Any:
    """Content analytics: top queries, content gaps, best rated per segment and kind, assets nobody opens."""
    # This process's latest searches are written first; other processes' come within KB_USAGE_BATCH_SECONDS.
    get_search_log().flush()
    session = db_session()
    today = date.today()
    days = request.args.get("days", 90, type=int)
    days = days if days in (7, 30, 90, 365) else 90
    return render_template(
        "reports/content.html",
        days=days,
        searches=analytics.search_analytics(session, today, days=days, viewer=current_user),
        rated=analytics.top_rated(session, viewer=current_user),
        unopened=analytics.unopened(session, today, limit=UNOPENED_SHOWN, viewer=current_user),
        unopened_total=analytics.count_unopened(session, today, viewer=current_user),
        errors={},
    )


@bp.post("/content/gaps")
@requires(Role.MARKETING)
def mark_gap() -> Any:
    from flask import flash, redirect, url_for
    from flask_babel import gettext as _
    from flask_login import current_user

    from kb.assets import parse_asset_ref

    asset_id = parse_asset_ref(request.form.get("asset_id"), "asset_id")
    analytics.mark_gap(
        get_db(),
        current_user.id,
        request.form.get("query", ""),
        request.form.get("status", ""),
        asset_id,
        request.form.get("note", ""),
    )
    flash(_("Saved."), "success")
    return redirect(url_for("reports.content", days=request.form.get("days") or None, _anchor="gaps"))


#: The date format of the XLSX download's date cells, per language (the other: ISO, which no reader misreads).
DATE_FORMATS = {"ru": "dd.mm.yyyy"}


def export_labels() -> reports.Labels:
    """The downloads' headers and words in the reader's language."""
    headers = {
        "asset_id": _("Number"),
        "title": _("Asset"),
        "kind": _("Kind"),
        "product": _("Product"),
        "segments": _("Segments"),
        "owner": _("Owner"),
        "version": _("Version"),
        "last_version_on": _("Last version"),
        "next_review_on": _("Next review"),
        "freshness": _("Freshness"),
        "days_overdue": _("Days overdue"),
        "open_flags": _("Open flags"),
        "has_text": _("Searchable text"),
    }
    locale = get_locale()
    return reports.Labels(
        headers=headers,
        kinds={kind: kind_label(kind) for kind in ASSET_KINDS},
        statuses={status: freshness_label(status) for status in reports.STATUSES},
        yes=_("yes"),
        no=_("no"),
        sheet=_("Staleness report"),
        date_format=DATE_FORMATS.get(locale.language if locale else "", "yyyy-mm-dd"),
    )


@bp.get("/staleness.csv")
def staleness_csv() -> Any:
    """The list for a spreadsheet: the reader's words, UTF-8 with a byte-order mark, and the delimiter their
    Excel splits by on a double click (``?delimiter=`` chooses)."""
    delimiter = csv_delimiter(request.args, excel_delimiter())
    report = _report()
    body = "\ufeff" + reports.to_csv(report, export_labels(), delimiter)
    return csv_response(body, f"kb-staleness-{report.today.isoformat()}.csv")


def _asset_url(asset_id: int) -> str:
    """The asset's page as the reader reached kb (a link that works from the saved file too)."""
    return url_for("assets.show", asset_id=asset_id, _external=True)


@bp.get("/staleness.xlsx")
def staleness_xlsx() -> Any:
    report = _report()
    return Response(
        reports.to_xlsx(report, export_labels(), asset_url=_asset_url),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="kb-staleness-{report.today.isoformat()}.xlsx"'},
    )
