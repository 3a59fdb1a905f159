"""Close spellings from the vocabulary of the published library (the ``words`` field of a Whoosh index).

Tries distance 1 before 2, as ``whoosh.spelling.ReaderCorrector`` does: at the first distance with any word,
the most frequent wins (then the greatest). Distance 1 looks up each word one edit away among each segment's
words (listed once per process and segment); distance 2 walks each segment's terms that share the first
letter with whoosh's Levenshtein automaton.
"""

from __future__ import annotations

import threading
from typing import Any

FIELD = "words"
_CYRILLIC_LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
_LATIN_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class Speller:
    """The vocabulary of one searcher."""

    _words: dict[str, frozenset[str]] = {}  # segment id -> its words (segments never change)
    _lock = threading.Lock()

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.readers = [
            sub.reader()
            for sub, _offset in searcher.leaf_searchers()
            if sub.reader().doc_count_all() and hasattr(sub.reader(), "segment")
        ]
        self.enabled = FIELD in searcher.schema.names()
        live = {reader.segment().segment_id() for reader in self.readers}
        with Speller._lock:
            Speller._words = {k: v for k, v in Speller._words.items() if k in live}

    def known(self, word: str) -> bool:
        return self.enabled and self.reader.frequency(FIELD, word) > 0

    def _segment_words(self, reader: Any) -> frozenset[str]:
        key = reader.segment().segment_id()
        words = Speller._words.get(key)
        if words is None:
            from_bytes = reader.schema[FIELD].from_bytes
            words = frozenset(map(from_bytes, reader.lexicon(FIELD)))
            with Speller._lock:
                Speller._words[key] = words
        return words

    def closest(self, text: str, maxdist: int = 2) -> str | None:
        if not self.enabled:
            return None
        for distance in range(1, maxdist + 1):
            if distance == 1:
                edits = one_edit(text)
                close = set().union(*(edits & self._segment_words(reader) for reader in self.readers))
            else:
                # the first letter kept: it is rarely the one mistyped, and the walk is many times shorter
                close = {w for r in self.readers for w in r.terms_within(FIELD, text, distance, prefix=1)}
            close.discard(text)
            if close:
                frequency = self.reader.frequency
                return max(close, key=lambda w: (0 - (distance + (1.0 / (frequency(FIELD, w) or 1) * 0.5)), w))
        return None


def one_edit(word: str) -> set[str]:
    """Every word one deletion, transposition, replacement or insertion (of a letter of its script) away."""
    letters = _CYRILLIC_LETTERS if any("а" <= c <= "я" for c in word) else _LATIN_LETTERS
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    return edits
