"""Snippets: the passages of a page around the words it was found by, with those words marked.

Whoosh's highlighter scores, orders and formats the fragments; kb cuts them (``context_fragments``) from the
matches of a page, found by one regular expression over the places where the searched terms begin
(``matches``), instead of tokenizing and analysing the whole page.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from whoosh import highlight
from whoosh.analysis import Token

from kb.search import codes
from kb.search.analysis import TOKEN_RE, analyzes_per_token, index_terms, word_terms


class Highlighter(highlight.Highlighter):
    """Whoosh's highlighter (fragment scoring, order and HTML formatting) over kb's fragments of a page.

    Fragments come from ``context_fragments``, which finds the matches of a page without tokenizing it all.
    """

    def snippet(self, text: str, words: frozenset[str], top: int) -> str:
        """``highlight_hit`` for a text and the terms to mark, with this highlighter's fragmenter and formatter."""
        if type(self.scorer) is highlight.BasicFragmentScorer and self.order is highlight.FIRST:
            fragments = best_context_fragments(text, words, self.fragmenter, top)
        else:
            fragments = highlight.top_fragments(
                context_fragments(text, words, self.fragmenter), top, self.scorer, self.order, minscore=1
            )
        return self.formatter.format(fragments)

    def highlight_hit(  # type: ignore[no-untyped-def]
        self, hitobj, fieldname, text=None, top=3, minscore=1, strict_phrase=False
    ):
        results = hitobj.results
        field = results.searcher.schema[fieldname]
        if (
            strict_phrase
            or type(self.fragmenter) is not highlight.ContextFragmenter
            or not analyzes_per_token(field.analyzer)
            or self.can_load_chars(results, fieldname)
        ):
            return super().highlight_hit(hitobj, fieldname, text, top, minscore, strict_phrase)
        if text is None:
            if fieldname not in hitobj:
                raise KeyError(f"Field {fieldname!r} is not stored.")
            text = hitobj[fieldname]
        if results.has_matched_terms():
            bterms = (term for term in results.matched_terms() if term[0] == fieldname)
        else:
            bterms = results.query_terms(expand=True, fieldname=fieldname)
        words = frozenset(field.from_bytes(term[1]) for term in bterms)
        fragments = highlight.top_fragments(
            context_fragments(text, words, self.fragmenter), top, self.scorer, self.order, minscore=minscore
        )
        return self.formatter.format(fragments)


def _matched_token(text: str, pos: int, start: int, end: int) -> Token:
    token = Token(positions=True, chars=True, removestops=False, mode="index")
    token.text, token.pos, token.startchar, token.endchar = text, pos, start, end
    token.boost, token.stopped, token.matched = 1.0, False, True
    return token


def context_fragments(text: str, words: frozenset[str], fragmenter: Any) -> list[Any]:
    """The passages of ``text`` around the words it was found by, as whoosh's ``ContextFragmenter`` cuts them.

    A fragment starts at the first whole word at most ``surround`` characters before a match and takes the
    matches that follow while it stays within ``maxchars``; it ends at the last whole word at most ``surround``
    characters after its last match. Only the matches are visited one by one (``matches``), not every token:
    on a page dense with matches whoosh's token-by-token walk costs ten times more.
    """
    hits, groups = _groups(text, words, fragmenter)
    return [_fragment(text, words, fragmenter, hits, group) for group in groups]


def best_context_fragments(text: str, words: frozenset[str], fragmenter: Any, top: int) -> list[Any]:
    """``top_fragments(context_fragments(...), top, BasicFragmentScorer(), FIRST)``, building only the fragments
    it keeps: each passage is scored from its matches alone (their number times a hundred times the distinct
    terms among them, as ``BasicFragmentScorer`` scores; the later passage first among equals, as ``nlargest``
    orders them), and only the best are cut and marked. A page dense with a frequent word has dozens of
    passages, and two are shown."""
    hits, groups = _groups(text, words, fragmenter)
    terms: dict[str, str] = {}

    def term(word: str) -> str:
        if word not in terms:
            terms[word] = _first_term(word, words)
        return terms[word]

    def score(group: tuple[int, int, int]) -> tuple[float, int]:
        start, at, upto = group
        distinct = {term(word) for _s, _e, word in hits[at:upto]}
        return float(upto - at) * (len(distinct) * 100 or 1), start

    best = [g for g in heapq.nlargest(top, groups, key=score) if score(g)[0] >= 1]
    best.sort(key=lambda group: group[0])
    return [_fragment(text, words, fragmenter, hits, group) for group in best]


def _groups(
    text: str, words: frozenset[str], fragmenter: Any
) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, int]]]:
    """The matches of ``text`` and how they fall into passages: (passage start, first match, match after last)."""
    maxchars, surround, charlimit = fragmenter.maxchars, fragmenter.surround, fragmenter.charlimit
    hits = matches(text, words, charlimit or len(text))
    groups = []
    at = 0
    while at < len(hits):
        start = _fragment_start(text, hits[at][0], surround)
        upto = at + 1
        while upto < len(hits) and hits[upto][1] - start <= maxchars:
            upto += 1
        groups.append((start, at, upto))
        at = upto
    return hits, groups


def _fragment(
    text: str, words: frozenset[str], fragmenter: Any, hits: list[tuple[int, int, str]], group: tuple[int, int, int]
) -> Any:
    start, at, upto = group
    maxchars, surround = fragmenter.maxchars, fragmenter.surround
    last = hits[upto - 1][1]
    end = _fragment_end(text, last, min(last + surround, max(last, start + maxchars)))
    tokens = [
        _matched_token(_first_term(word, words), number, hit_start, hit_end)
        for number, (hit_start, hit_end, word) in enumerate(hits[at:upto], start=at)
    ]
    return highlight.mkfrag(text, tokens, startchar=start, endchar=end)


def matches(text: str, words: frozenset[str], limit: int) -> list[tuple[int, int, str]]:
    """(start, end, token) of every token of ``text`` indexed under one of ``words``, ending by ``limit``:
    ``matches_at_term_starts``, or, should that find nothing, ``all_matches``."""
    return matches_at_term_starts(text, words, limit) or all_matches(text, words, limit)


def matches_at_term_starts(text: str, words: frozenset[str], limit: int) -> list[tuple[int, int, str]]:
    """``matches``, looking only at the tokens where the beginning of one of ``words`` stands.

    A term begins as some word inside its token begins, up to ё/е, case and a look-alike letter in a code's key
    (stems are prefixes; English "dying" is "die"); one regular expression finds those places, so not every
    token of the page is looked up."""
    found: dict[int, tuple[int, int, str]] = {}
    for match in _term_starts(words).finditer(text):
        start = _token_start(text, match.start())
        if start in found:
            continue
        token = TOKEN_RE.match(text, start)
        if token is not None and token.end() <= limit and not words.isdisjoint(index_terms(token.group())):
            found[start] = (start, token.end(), token.group())
    return sorted(found.values())


def all_matches(text: str, words: frozenset[str], limit: int) -> list[tuple[int, int, str]]:
    """``matches`` by looking up each distinct token of the text."""
    hit_words = {word for word in set(TOKEN_RE.findall(text)) if not words.isdisjoint(index_terms(word))}
    return sorted(hit for word in hit_words for hit in _occurrences(text, word, limit))


#: Letters a code's key writes in Latin, and the Cyrillic letters they stand for (``codes.key``).
_KEY_LETTERS = {"a": "а", "b": "в", "e": "её", "k": "к", "m": "м", "h": "н", "o": "о", "p": "р", "c": "с",
                "t": "т", "y": "у", "x": "х"}  # fmt: skip


#: A letter of a term, and what stands for it at the start of a word of the page.
_HEAD_LETTERS = {"е": "[её]", "i": "[iy]"}


@lru_cache(maxsize=4096)
def _term_starts(words: frozenset[str]) -> re.Pattern[str]:
    """A pattern matching wherever a word inside a token begins as one of ``words`` begins."""
    alternatives = set()
    for term in words:
        if term.startswith(codes.KEY_MARK):  # a code's key: its first letter, in either script
            first = term[1:2]
            alternatives.add("[" + re.escape(first + _KEY_LETTERS.get(first, "")) + "]")
            continue
        # Three letters of a longer term (two of a short one: "use" is the stem of "using"); an English stem's "i"
        # may be the word's "y" ("cri" of "cry", "earli" of "early"); "dying", "lying", "tying" stem to "die"...
        size = 3 if len(term) > 3 else 2
        head = "".join(_HEAD_LETTERS.get(ch, re.escape(ch)) for ch in term[:size])
        if term[1:2] == "i":
            head = f"(?:{head}|{re.escape(term[0])}y)"
        alternatives.add(head)
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(alternatives)) + ")", re.IGNORECASE)


def _token_start(text: str, at: int) -> int:
    """Where the token holding the word that begins at ``at`` begins (``НВ-250/4`` for ``250``)."""
    while at > 0 and _joined_before(text, at):
        at -= 1  # onto the separator, or into the word before
        while at > 0 and _is_word_char(text, at - 1):
            at -= 1
    return at


def _is_word_char(text: str, at: int) -> bool:
    """Whether ``text[at]`` is what ``\\w`` matches (a letter, digit or underscore)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


def _occurrences(text: str, word: str, limit: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, word) wherever ``word`` stands as a whole token of ``text`` (as ``TOKEN_PATTERN`` splits it)
    ending at most at ``limit``: found by ``str.find``, not by tokenizing the text again."""
    at = text.find(word)
    while at >= 0 and at + len(word) <= limit:
        end = at + len(word)
        if not _joined_before(text, at) and not _joined_after(text, end):  # a whole token, not part of one
            yield at, end, word
        at = text.find(word, at + 1)


def _fragment_start(text: str, first: int, surround: int) -> int:
    """The start of the first whole word beginning at most ``surround`` characters before ``first``."""
    begin = max(0, first - surround)
    if begin == first:
        return first
    found = TOKEN_RE.search(text, begin, first)
    while found is not None and _joined_before(text, found.start()):  # the tail of a word: the next one
        found = TOKEN_RE.search(text, found.end(), first)
    return found.start() if found is not None else first


_JOINERS = ("-", "/", ".")


def _joined_before(text: str, at: int) -> bool:
    """Whether the token at ``at`` would be the tail of a longer one (as ``TOKEN_PATTERN`` splits text)."""
    return _is_word_char(text, at - 1) or (text[at - 1 : at] in _JOINERS and _is_word_char(text, at - 2))


def _joined_after(text: str, end: int) -> bool:
    """Whether the token ending at ``end`` would go on into a longer one."""
    return _is_word_char(text, end) or (text[end : end + 1] in _JOINERS and _is_word_char(text, end + 1))


def _fragment_end(text: str, last: int, limit: int) -> int:
    """The end of the last whole word ending at most at ``limit``, and no earlier than ``last``."""
    end = last
    limit = min(limit, len(text))
    for found in TOKEN_RE.finditer(text, last, limit):
        # only a word reaching the limit (or one short of it: "НВ-" before "250") may have been cut by it
        if found.end() >= limit - 1 and _joined_after(text, found.end()):
            break
        end = found.end()
    return end


def _first_term(word: str, words: frozenset[str]) -> str:
    """The term of ``word`` the query asked for (it names the match's class in the snippet's markup)."""
    return next(term for term, _stopped in word_terms(word, "index", False) if term in words)
