"""Cleans extracted text and shares the per-version character and time allowance among the pages of a document."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from time import monotonic

TITLE_MAX_CHARS = 300

_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 control characters other than tab and newline: noise from binary formats and mis-decoded text.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_TRAILING_SPACE = re.compile("[ \t\u00a0]+\n")
_BLANK_RUN = re.compile("\n{3,}")
_WHITESPACE = re.compile(r"\s+")


def _join_surrogate_pair(match: re.Match[str]) -> str:
    high, low = match.group()
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def clean_text(text: str) -> str:
    """Text fit to store and index: no NULs, controls or unpaired surrogates, ``\\n`` newlines, one blank line at most.

    Surrogates that do form a pair (as some PDF decoders leave them) are joined into the character they encode.
    """
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("", _SURROGATE_PAIR.sub(_join_surrogate_pair, text))
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def clean_title(title: str) -> str:
    """A title on one line, at most ``TITLE_MAX_CHARS`` characters."""
    return _WHITESPACE.sub(" ", clean_text(title)).strip()[:TITLE_MAX_CHARS]


def has_text(text: str) -> bool:
    return bool(text) and not text.isspace()


def distinct_texts(texts: Iterable[str]) -> Iterator[str]:
    """Each non-blank text once, in order: documents repeat the same header and footer in every section."""
    seen: set[str] = set()
    for text in texts:
        key = text.strip()
        if key and key not in seen:
            seen.add(key)
            yield text


class TextBudget:
    """The characters one document may still contribute, and until when; extractors stop reading when either
    runs out.

    Text is cleaned before it is counted, so the cap applies to what is stored; a newline between pieces
    counts as one character. ``seconds``, from now, is checked between pages, slides and sheets: past it, the
    extractor keeps what it read and ``pages_read`` says how many it read.
    """

    def __init__(self, limit: int, *, seconds: float | None = None) -> None:
        self.remaining = limit
        self.truncated = False
        self.deadline = None if seconds is None else monotonic() + seconds
        self.pages_read: int | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0

    def stop(self) -> None:
        """Records that the extractor stopped reading because the budget ran out, with parts still unread."""
        self.truncated = True

    def next_page(self, read: int) -> bool:
        """Whether to read another page, slide or sheet after ``read`` of them.

        Not once the characters are spent (the budget is then truncated), nor once the deadline has passed; the
        first page is always read, so a document past its time still has its start indexed.
        """
        if self.exhausted:
            self.stop()
            return False
        if read and self.deadline is not None and monotonic() >= self.deadline:
            self.pages_read = read
            return False
        return True

    def take(self, piece: str) -> str | None:
        """``piece`` cleaned and cut to what is left; ``None`` once nothing more fits."""
        if self.exhausted:
            self.truncated = self.truncated or has_text(piece)
            return None
        cleaned = clean_text(piece)
        if len(cleaned) + 1 > self.remaining:
            cleaned = cleaned[: max(self.remaining - 1, 0)]
            self.truncated = True
            self.remaining = 0
        else:
            self.remaining -= len(cleaned) + 1
        return cleaned

    def collect(self, pieces: Iterable[str]) -> str:
        """The pieces that fit, one per line; stops consuming ``pieces`` when the budget is spent.

        ``pieces`` may be a lazy generator: what is never asked for is never read from the file.
        """
        kept: list[str] = []
        for piece in pieces:
            cleaned = self.take(piece)
            if cleaned is None:
                break
            if cleaned:
                kept.append(cleaned)
            if self.exhausted and self.truncated:
                break  # spent, and something was cut: nothing more to learn from the next piece
        return _BLANK_RUN.sub("\n\n", "\n".join(kept))
