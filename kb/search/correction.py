"""Correcting what was typed: the wrong keyboard layout (``rfnfkju`` -> ``каталог``) and misspelt words, per word.

A word the library's vocabulary knows is left alone. An unknown one is replaced by the same keys in the
other layout when that is a known word, else by its closest known spelling. Both layouts both ways: Russian
typed on the Latin layout and English typed on the Russian one. Syntax (quotes, ``-``, ``+``, ``*``,
filters) and codes are kept as typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# The keys of the Russian (ЙЦУКЕН) layout and what the same keys give on the Latin (QWERTY) one, without and
# with Shift: a key's upper case is its Shift character, not str.upper() (Shift+"," is "<", that is "Б").
_LATIN_KEYS = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`" + 'QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>~'
_CYRILLIC_KEYS = "йцукенгшщзхъфывапролджэячсмитьбюё" + "ЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮЁ"
_TO_CYRILLIC = str.maketrans(_LATIN_KEYS, _CYRILLIC_KEYS)
_TO_LATIN = str.maketrans(_CYRILLIC_KEYS, _LATIN_KEYS)
_LATIN_SET = frozenset(_LATIN_KEYS)
_CYRILLIC_SET = frozenset(_CYRILLIC_KEYS)
#: A word worth correcting: letters (and the layout's punctuation keys) only, three or more.
_MIN_LENGTH = 3
#: At most this many distinct words of a query are looked up (a question, not a pasted page).
MAX_WORDS = 16
#: Longer "words" are not words (a pasted hash, a run of one key): not worth a spelling search.
_MAX_LENGTH = 40
#: A word in the other layout that is itself misspelt is corrected only from this length: shorter ones are
#: too often some other word one edit away.
_MIN_SWITCHED_GUESS = 5
_WORD = re.compile(r"\S+")
_EDGE_PUNCTUATION = "!?()«»\"'"
_TRAILING = ",.;:"
_SYNTAX = re.compile(r'^[-+"]|\*$|^\w+:')


class Vocabulary(Protocol):
    def known(self, word: str) -> bool: ...

    def closest(self, word: str) -> str | None: ...


@dataclass(frozen=True)
class Corrected:
    text: str
    reason: str  # "layout" when any word was in the other layout, else "spelling"


def other_layout(text: str) -> str | None:
    """``text`` as if typed with the other layout, when every key it needs is of one layout; else None.

    Characters the same on both layouts (digits, spaces, ``-``) stay as they are."""
    keys = [c for c in text if c.isalpha() or c in _LATIN_SET or c in _CYRILLIC_SET]
    if not any(c.isalpha() for c in keys):
        return None
    if all(c in _LATIN_SET for c in keys):
        return text.translate(_TO_CYRILLIC)
    if all(c in _CYRILLIC_SET or not c.isalpha() for c in keys) and any(c in _CYRILLIC_SET for c in keys):
        return text.translate(_TO_LATIN)
    return None


def _normal(word: str) -> str:
    return word.lower().replace("ё", "е")


def correct_word(word: str, vocabulary: Vocabulary) -> tuple[str, str] | None:
    """(replacement, reason) for one typed word, or None when it is known or nothing better is found."""
    bare = word.strip(_EDGE_PUNCTUATION)
    if bare.rstrip(_TRAILING).isalpha():  # "price," : the comma ends the word (on the other layout it is a key)
        bare = bare.rstrip(_TRAILING)
    if not _MIN_LENGTH <= len(bare) <= _MAX_LENGTH or any(c.isdigit() for c in bare) or _SYNTAX.search(bare):
        return None
    key = _normal(bare)
    if key.isalpha() and vocabulary.known(key):
        return None
    switched = other_layout(bare)
    parts = switched.split("-") if switched else []
    if parts and all(p.isalpha() and vocabulary.known(_normal(p)) for p in parts):  # "xtr-kbcn": "чек-лист"
        return word.replace(bare, switched), "layout"
    if key.isalpha():
        found = vocabulary.closest(key)
        if found and found != key:
            return word.replace(bare, _same_case(bare, found)), "spelling"
    if switched and switched.isalpha() and len(switched) >= _MIN_SWITCHED_GUESS:
        found = vocabulary.closest(_normal(switched))
        if found:
            return word.replace(bare, found), "layout"
    return None


def _same_case(typed: str, found: str) -> str:
    return found.capitalize() if typed[:1].isupper() and typed[1:2].islower() else found


def correct(text: str, vocabulary: Vocabulary) -> Corrected | None:
    """The text with each unknown word corrected, or None when nothing changed."""
    reasons: set[str] = set()
    inside_quotes = False
    memo: dict[str, tuple[str, str] | None] = {}  # each distinct word is looked up once

    def replace(match: re.Match[str]) -> str:
        nonlocal inside_quotes
        word = match.group()
        quoted = inside_quotes or word.startswith('"')
        inside_quotes = (word.count('"') % 2 == 1) != inside_quotes
        if quoted:
            return word  # a phrase is searched exactly as typed
        if word not in memo:
            memo[word] = correct_word(word, vocabulary) if len(memo) < MAX_WORDS else None
        fixed = memo[word]
        if fixed is None:
            return word
        reasons.add(fixed[1])
        return fixed[0]

    changed = _WORD.sub(replace, text)
    if changed == text:
        return None
    return Corrected(changed, "layout" if "layout" in reasons else "spelling")
