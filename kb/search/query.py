"""The query language for people: words, "phrases", prefix*, +required, -exclusions and facet filters (kind:catalog).

Anything typed parses: quotes may be unbalanced, brackets and other operators are plain punctuation, and the
work per query is bounded (at most ``MAX_CHARS`` characters and ``MAX_PARTS`` parts are used). Leading
wildcards, ranges and fuzzy operators are not offered.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

#: Facets results can be filtered by (``kind:catalog`` in the query, or a parameter).
FACETS = ("kind", "product", "segment", "region", "language", "freshness")

#: The longest text searched: a pasted paragraph or two; longer text is cut here, and the page says so.
MAX_CHARS = 4000
MAX_PARTS = 600
MIN_PREFIX = 2
_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_FILTER = re.compile(r"^(\w+):(.+)$")


@dataclass
class ParsedQuery:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.words or self.phrases or self.prefixes or self.required)


def clean(text: str) -> str:
    """The query without control characters (NUL included), bounded in length."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in (text or "")[: MAX_CHARS * 4])
    return " ".join(text.split())[:MAX_CHARS]


def parse(text: str) -> ParsedQuery:
    parsed = ParsedQuery()
    for count, match in enumerate(_PART.finditer(clean(text))):
        if count >= MAX_PARTS:
            break
        negated, phrase, word = match.groups()
        if phrase is not None:
            phrase = phrase.strip()
            if phrase:
                (parsed.excluded if negated else parsed.phrases).append(phrase)
            continue
        word = word.strip("()[]{}<>!?,;").rstrip(".:")
        filter_match = _FILTER.match(word)
        if filter_match and filter_match.group(1).lower() in FACETS:
            parsed.filters[filter_match.group(1).lower()] = filter_match.group(2)
        elif word.startswith("-") and len(word) > 1:
            parsed.excluded.append(word[1:])
        elif word.startswith("+") and len(word) > 1:
            parsed.required.append(word[1:])
        elif word.endswith("*"):
            stem = word.rstrip("*").lower().replace("ё", "е")
            if len(stem) >= MIN_PREFIX and not stem.startswith("*"):
                parsed.prefixes.append(stem)
            elif stem:
                parsed.words.append(stem)
        elif word:
            parsed.words.append(word)
    return parsed
