"""``/api/v1/reports``: the staleness report as JSON and as CSV (the same figures as the page and the CLI)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from flask_login import current_user

from kb import reports
from kb.api import bp
from kb.errors import N_, ValidationError
from kb.models import ASSET_KINDS
from kb.web.context import db_session
from kb.web.downloads import csv_delimiter, csv_response


def report_filters(args: Any) -> reports.ReportFilters:
    """Filters from a query string; a value that cannot match is a 400 with the field named."""
    owner = args.get("owner") or None
    if owner is not None and (not owner.isdigit() or len(owner) > 12):
        raise ValidationError(N_("owner must be a user id."), field="owner")
    kind = args.get("kind") or None
    if kind and kind not in ASSET_KINDS:
        raise ValidationError(N_("Choose a kind: %(kinds)s."), field="kind", kinds=", ".join(ASSET_KINDS))
    status = args.get("freshness") or None
    if status and status not in reports.STATUSES:
        raise ValidationError(N_("Unknown status %(status)s."), field="freshness", status=status[:20])
    return reports.ReportFilters(
        owner_id=int(owner) if owner else None,
        kind=kind,
        product=(args.get("product") or "")[:120] or None,
        segment=(args.get("segment") or "")[:8] or None,
        freshness=status,
    )


def _report() -> reports.StalenessReport:
    return reports.staleness(db_session(), date.today(), report_filters(request.args), viewer=current_user)


@bp.get("/reports/staleness")
def staleness_json() -> Any:
    return jsonify(reports.to_json(_report(), reports.fresh_trend(db_session(), date.today(), viewer=current_user)))


@bp.get("/reports/staleness.csv")
def staleness_csv() -> Any:
    """The list for programs: codes in the header and the values, ',' unless ``?delimiter=;`` asks otherwise (the
    page's download, ``/reports/staleness.csv``, is the one in the reader's words)."""
    delimiter = csv_delimiter(request.args, ",")
    report = _report()
    # A byte-order mark so Excel reads UTF-8 (Cyrillic) correctly; LibreOffice ignores it.
    body = "\ufeff" + reports.to_csv(report, delimiter=delimiter)
    filename = f"kb-staleness-{report.today.isoformat()}.csv"
    return csv_response(body, filename)
