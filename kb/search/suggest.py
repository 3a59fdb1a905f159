"""Hints for a query that found little: the same keys typed in the other keyboard layout (rfnfkju -> каталог)."""

from __future__ import annotations

_LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_CYRILLIC = "йцукенгшщзхъфывапролджэячсмитьбюё"
_TO_CYRILLIC = str.maketrans(_LATIN + _LATIN.upper(), _CYRILLIC + _CYRILLIC.upper())
_TO_LATIN = str.maketrans(_CYRILLIC + _CYRILLIC.upper(), _LATIN + _LATIN.upper())


def other_layout(text: str) -> str | None:
    """``text`` as if typed with the other layout, when it is written in one script only; else None."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    if all(c.lower() in _LATIN for c in letters):
        return text.translate(_TO_CYRILLIC)
    if all(c.lower() in _CYRILLIC for c in letters):
        return text.translate(_TO_LATIN)
    return None
