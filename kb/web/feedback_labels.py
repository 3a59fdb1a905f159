"""Words for feedback in the reader's language: flag reasons, the freshness queue's reasons, notifications."""

from __future__ import annotations

from flask_babel import get_translations, ngettext
from flask_babel import gettext as _

from kb import notifications
from kb.feedback import REASON_LABELS
from kb.freshness import Reason
from kb.web.templating import date_text


def flag_reason_label(code: str) -> str:
    return _(REASON_LABELS[code]) if code in REASON_LABELS else code


def queue_reason_text(reason: Reason) -> str:
    """One reason of a queue item, e.g. "3 open flags (prices outdated ×2, wrong specifications)"."""
    p = reason.params
    if reason.code == "flagged":
        parts = [
            flag_reason_label(code).lower() + (f" ×{n}" if n > 1 else "")
            for code, n in dict(p.get("by_reason", {})).items()  # type: ignore[call-overload]
        ]
        count = int(p["count"])  # type: ignore[call-overload]
        return ngettext("%(num)d open flag", "%(num)d open flags", count) + (f" ({', '.join(parts)})" if parts else "")
    if reason.code == "overdue":
        return ngettext("overdue %(num)d day", "overdue %(num)d days", int(p["days"]))  # type: ignore[call-overload]
    if reason.code == "review_due":
        days = int(p["days"])  # type: ignore[call-overload]
        return (
            _("review due today")
            if days == 0
            else ngettext("review due in %(num)d day", "review due in %(num)d days", days)
        )
    if reason.code == "low_rating":
        return _("low rating: %(average)s from %(count)s ratings", average=p["average"], count=p["count"])
    if reason.code == "old_but_used":
        return _("not updated for %(days)s days but used %(uses)s times in 30 days", days=p["days"], uses=p["uses"])
    if reason.code == "usage":
        uses = int(p["uses"])  # type: ignore[call-overload]
        return ngettext("%(num)d view or download in 30 days", "%(num)d views and downloads in 30 days", uses)
    return reason.code


def notification_text(view: notifications.NotificationView) -> str:
    return notifications.message(view, _, get_translations().ngettext, date_text)
