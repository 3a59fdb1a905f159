"""Product codes and article numbers written any way: one key for ``НВ-250``, ``нв250``, ``HB 250`` and ``hb-250``.

A code's *key* is its lower-case letters and digits without separators, with the Cyrillic letters that look
like Latin ones (А В Е К М Н О Р С Т У Х) read as those Latin letters: people type codes from memory, from a
customer's letter or a label, on whichever keyboard layout is on. The index holds each code's key beside the
code itself (``analysis.CodeFilter``); the query planner (``planner``) asks for the key of what was typed and
for the spaced forms a code may take in a text (``НВ 250``, ``ГОСТ 12.2.003``).
"""

from __future__ import annotations

import re

#: Marks a key among a field's terms: words never start with it (the tokenizer takes word characters only).
KEY_MARK = "#"
_LOOKALIKES = str.maketrans("авекмнорстухё", "abekmhopctyxe")
_SEPARATORS = re.compile(r"[-/.\s]+")
_LETTERS_DIGITS = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_LETTER_SEPARATOR = re.compile(r"(?<=[^\W\d_])[-/.](?=\w)|(?<=\w)[-/.](?=[^\W\d_])")
_LATIN = re.compile(r"[a-z]")
_TOKEN = re.compile(r"\w+(?:[-/.]\w+)*")  # analysis.TOKEN_PATTERN (imported there from here would be circular)
_CYRILLIC = re.compile(r"[а-яё]")
#: Letters that have a look-alike in the other script, and the word written with them in that script.
_TO_CYRILLIC = str.maketrans("abekmhopctyx", "авекмнорстух")
#: A short run of letters that may be the first half of a spaced code ("HB 250", "ГОСТ 12.2.003", "DN 50").
MAX_CODE_PREFIX = 6


def key(code: str) -> str:
    """The code's key: ``НВ-250/4`` -> ``#hb2504``; ``KX 200`` -> ``#kx200``."""
    return KEY_MARK + _SEPARATORS.sub("", code.lower()).translate(_LOOKALIKES)


def split_letters_digits(code: str) -> list[str]:
    """A code as it may stand spaced in a text: cut where letters meet digits and at separators next to letters.

    ``ГОСТ12.2.003`` -> ``ГОСТ``, ``12.2.003``; ``KX-200`` -> ``KX``, ``200``; ``Аква-Дом`` -> ``Аква``, ``Дом``.
    Separators between digits stay (``12.2.003``, ``250/4``): a number is written that way.
    """
    return _TOKEN.findall(_LETTER_SEPARATOR.sub(" ", _LETTERS_DIGITS.sub(" ", code)))


def script_variants(word: str) -> list[str]:
    """The word in the other script when all its letters have look-alikes there: ``hb`` -> ``нв``, ``нв`` -> ``hb``."""
    lower = word.lower()
    if _CYRILLIC.search(lower) and not _LATIN.search(lower):
        latin = lower.translate(_LOOKALIKES)
        return [latin] if not _CYRILLIC.search(latin) else []
    if _LATIN.search(lower) and not _CYRILLIC.search(lower):
        cyrillic = lower.translate(_TO_CYRILLIC)
        return [cyrillic] if not _LATIN.search(cyrillic) else []
    return []


def is_code_prefix(word: str) -> bool:
    """Letters only and short: may be the letters of a code written with a space before its number."""
    return word.isalpha() and len(word) <= MAX_CODE_PREFIX


def starts_with_digit(word: str) -> bool:
    return word[:1].isdigit()
