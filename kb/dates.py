"""How kb writes dates for people, on pages and in e-mail: one pattern in every language ("5 нояб. 2026",
"5 Nov 2026, 09:30"; CLDR patterns for Babel), no trailing "г." to clash with a sentence's period."""

from __future__ import annotations

DATE_PATTERN = "d MMM y"
DATETIME_PATTERN = "d MMM y, HH:mm"
