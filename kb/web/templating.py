"""What every template can use: the role-based navigation, labels, date formatting, endpoint checks."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _

from kb.accounts import PASSWORD_MIN_LENGTH
from kb.models import Role

# (endpoint, label, least role). Items whose endpoint does not exist yet are not shown.
_NAV = (
    ("search.results", "Search", Role.SALES),
    ("publishing.new_asset", "Publish", Role.MARKETING),
    ("freshness.queue", "Freshness queue", Role.MARKETING),
    ("reports.staleness", "Staleness report", Role.SALES),
    ("admin.users", "Users", Role.ADMIN),
)


def nav_items() -> list[tuple[str, str, Role]]:
    labels = {
        "Search": _("Search"),
        "Publish": _("Publish"),
        "Freshness queue": _("Freshness queue"),
        "Staleness report": _("Staleness report"),
        "Users": _("Users"),
    }
    return [(endpoint, labels[label], role) for endpoint, label, role in _NAV]


def role_label(role: str) -> str:
    return {Role.SALES: _("sales"), Role.MARKETING: _("marketing"), Role.ADMIN: _("admin")}.get(role, role)


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        nav_items=nav_items,
        role_label=role_label,
        has_endpoint=has_endpoint,
        format_date=format_date,
        format_datetime=format_datetime,
        password_min_length=PASSWORD_MIN_LENGTH,
    )
