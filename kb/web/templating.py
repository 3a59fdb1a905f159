"""What every template can use: the role-based navigation, labels, date formatting, endpoint checks."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, npgettext
from flask_babel import gettext as _

from kb import extraction
from kb.accounts import PASSWORD_MIN_LENGTH
from kb.dates import DATE_PATTERN, DATETIME_PATTERN
from kb.errors import N_
from kb.models import Role
from kb.previews import messages as preview_messages

# (endpoint, label, least role). Items whose endpoint does not exist yet are not shown.
_NAV = (
    ("search.results", "Search", Role.SALES),
    ("assets.index", "Library", Role.SALES),
    ("assets.new", "Publish", Role.MARKETING),
    ("freshness.queue", "Freshness queue", Role.MARKETING),
    ("reports.staleness", "Staleness report", Role.SALES),
    ("reports.content", "Content analytics", Role.MARKETING),
    ("synonyms.index", "Synonyms", Role.MARKETING),
    ("admin.users", "Users", Role.ADMIN),
    ("vocabularies.index", "Vocabularies", Role.ADMIN),
    ("audiences.index", "Audiences", Role.ADMIN),
    ("admin.jobs", "Jobs", Role.ADMIN),
    ("audit.index", "Audit log", Role.ADMIN),
)


def nav_items() -> list[tuple[str, str, Role]]:
    labels = {
        "Search": _("Search"),
        "Library": _("Library"),
        "Publish": _("Publish"),
        "Freshness queue": _("Freshness queue"),
        "Staleness report": _("Staleness report"),
        "Content analytics": _("Content analytics"),
        "Synonyms": _("Synonyms"),
        "Users": _("Users"),
        "Vocabularies": _("Vocabularies"),
        "Audiences": _("Audiences"),
        "Jobs": _("Jobs"),
        "Audit log": _("Audit log"),
    }
    return [(endpoint, labels[label], role) for endpoint, label, role in _NAV]


# Labels are marked here and translated one at a time: a page of a hundred rows asked for each row's label,
# and translating the whole table each time was a third of the rendering.
_ROLE_LABELS = {Role.SALES: N_("sales"), Role.MARKETING: N_("marketing"), Role.ADMIN: N_("admin")}
_KIND_LABELS = {
    "catalog": N_("Catalog"),
    "presentation": N_("Presentation"),
    "tender_template": N_("Tender template"),
    "datasheet": N_("Datasheet"),
    "case_study": N_("Case study"),
}
_STATUS_LABELS = {"draft": N_("draft"), "published": N_("published"), "archived": N_("archived")}
_CONTENT_LANGUAGE_LABELS = {"ru": N_("Russian"), "en": N_("English"), "mixed": N_("Russian and English")}
_EXTRACTION_LABELS = {
    "pending": N_("text extraction in progress"),
    "done": N_("text extracted"),
    "empty": N_("no text found (a scan?)"),
    "failed": N_("text extraction failed"),
}


def _label(labels: dict[str, str], key: str) -> str:
    label = labels.get(key)
    return _(label) if label is not None else key


def role_label(role: str) -> str:
    return _label(_ROLE_LABELS, role)


def kind_label(kind: str) -> str:
    return _label(_KIND_LABELS, kind)


def status_label(status: str) -> str:
    return _label(_STATUS_LABELS, status)


def content_language_label(code: str) -> str:
    return _label(_CONTENT_LANGUAGE_LABELS, code)


def extraction_label(status: str) -> str:
    return _label(_EXTRACTION_LABELS, status)


def date_text(value: date | datetime | str | None) -> str:
    """A date as every page writes it (``DATE_PATTERN``); a moment is first put in the reader's time zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return format_datetime(value, DATE_PATTERN)
    return format_date(value, DATE_PATTERN)


def datetime_text(value: datetime | None) -> str:
    """A moment as every page writes it (``DATETIME_PATTERN``), in the reader's time zone."""
    return format_datetime(value, DATETIME_PATTERN) if value is not None else ""


def _message_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching ``template`` once formatted, capturing each ``%(name)s`` placeholder."""
    return re.compile(re.sub(r"%\\\(([a-z_]+)\\\)s", r"(?P<\1>.+?)", re.escape(template)), re.DOTALL)


_EXTRACTION_MESSAGES = [
    (template, _message_pattern(template)) for template in (*extraction.MESSAGES, *preview_messages.MESSAGES)
]


def extraction_message(text: str | None) -> str:
    """A reason or note extraction stored in English, in the reader's language when it is one kb gives."""
    if not text:
        return ""
    for template, pattern in _EXTRACTION_MESSAGES:
        match = pattern.fullmatch(text)
        if match is not None:
            return _(template, **match.groupdict())
    return text


def extraction_note(status: str) -> str:
    """What sales need to know of a version's text, in their words; nothing when all is well."""
    return {
        "pending": _("This version was just published: search will find its text in a moment."),
        "empty": _("Search cannot read this file's text (a scanned document?): download it to see it."),
        "failed": _("Search cannot read this file: download it to see it."),
    }.get(status, "")


_FRESHNESS_LABELS = {
    "fresh": N_("fresh"),
    "review_due": N_("review due"),
    "overdue": N_("overdue"),
    "flagged": N_("flagged"),
}


def freshness_label(status: str) -> str:
    return _label(_FRESHNESS_LABELS, status)


#: The word after a count on a tile, in each plural form (context "tile": 1 актуальный, 3 актуальных).
_COUNTED = {
    "published": lambda n: npgettext("tile", "published", "published", n),
    "published_assets": lambda n: npgettext("tile", "published asset", "published assets", n),
    "drafts": lambda n: npgettext("tile", "draft", "drafts", n),
    "archived": lambda n: npgettext("tile", "archived", "archived", n),
    "fresh": lambda n: npgettext("tile", "fresh", "fresh", n),
    "review_due": lambda n: npgettext("tile", "review due", "review due", n),
    "overdue": lambda n: npgettext("tile", "overdue", "overdue", n),
    "flagged": lambda n: npgettext("tile", "flagged", "flagged", n),
}


def counted(what: str, count: int) -> str:
    """The word that follows ``count`` of ``what`` (a freshness status, "published", "drafts", ...), agreeing
    with the number as each language wants."""
    return _COUNTED[what](count) if what in _COUNTED else what


def facet_label(name: str) -> str:
    return {
        "kind": _("Kind"),
        "product": _("Product"),
        "segment": _("Segment"),
        "region": _("Region"),
        "language": _("Language"),
        "freshness": _("Freshness"),
    }.get(name, name)


def file_size(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def unread_notifications() -> int:
    """The signed-in person's unread notifications, for the header."""
    from flask_login import current_user

    from kb import notifications
    from kb.web.context import db_session

    if not current_user.is_authenticated:
        return 0
    return notifications.unread_count(db_session(), current_user.id)


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def init_app(app: Flask) -> None:
    from kb.feedback import REASONS
    from kb.web.feedback_labels import flag_reason_label, notification_text, queue_reason_text
    from kb.web.page_text import marked, marked_html, sheet_table

    app.jinja_env.globals.update(
        flag_reason_label=flag_reason_label,
        flag_reason_codes=REASONS,
        queue_reason_text=queue_reason_text,
        notification_text=notification_text,
        unread_notifications=unread_notifications,
        nav_items=nav_items,
        role_label=role_label,
        kind_label=kind_label,
        status_label=status_label,
        content_language_label=content_language_label,
        extraction_label=extraction_label,
        extraction_message=extraction_message,
        extraction_note=extraction_note,
        file_size=file_size,
        freshness_label=freshness_label,
        counted=counted,
        facet_label=facet_label,
        has_endpoint=has_endpoint,
        format_date=format_date,
        format_datetime=format_datetime,
        date_text=date_text,
        datetime_text=datetime_text,
        password_min_length=PASSWORD_MIN_LENGTH,
        marked=marked,
        marked_html=marked_html,
        sheet_table=sheet_table,
    )
