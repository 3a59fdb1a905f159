"""The text analyzer for mixed Russian and English content, used alike when indexing and when searching.

Words are Unicode word tokens, lower-cased, with ``ё`` folded to ``е``; stop words of both languages are
dropped; each word is stemmed by the Snowball stemmer of its script (Cyrillic: Russian, Latin: English).
Product codes and article numbers (``НВ-250/4``, ``KX-200``, ``12.2.003``) are kept whole and unstemmed, so
they are found as typed; when indexing, a code also yields its key (``#hb2504``, see ``codes``), its leading
parts (``нв``, ``нв-250`` and its key) and its pieces (``250``, ``4``), so ``НВ 250``, ``нв250`` and ``HB-250``
find ``НВ-250/4`` too.

This module is imported by name when an index is opened (Whoosh pickles the schema with the analyzer), so
its classes must stay importable under this path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import Stemmer
from whoosh.analysis import CompositeAnalyzer, Filter, LowercaseFilter, RegexTokenizer, Token
from whoosh.lang.stopwords import stoplists

from kb.search import codes
from kb.search.word_cache import word_cache

#: A word, or a code: word characters joined by - / . (and no spaces).
TOKEN_PATTERN = r"\w+(?:[-/.]\w+)*"
_SEPARATORS = re.compile(r"[-/.]")
_CYRILLIC = re.compile(r"^[а-яё]+$")
_LATIN = re.compile(r"^[a-z]+$")
_MIN_STEM_LENGTH = 3

STOP_WORDS = frozenset(w.replace("ё", "е") for w in stoplists["ru"]) | frozenset(stoplists["en"])

_russian = Stemmer.Stemmer("russian")
_english = Stemmer.Stemmer("english")


@word_cache()
def stem(word: str) -> str:
    """The stem of one lower-case word by its script; other words (digits, mixed scripts) stay as they are."""
    if len(word) < _MIN_STEM_LENGTH:
        return word
    if _CYRILLIC.match(word):
        stemmed = _russian.stemWord(word)
        # Snowball reads a noun in -ал/-ан as a past-tense verb ("водоканал" -> "водокана", "экран" -> "экра")
        # but not its other cases ("водоканалу" -> "водоканал"). Sales content is mostly nouns: keep the л/н.
        if stemmed[-1:] in ("а", "я") and word[len(stemmed) : len(stemmed) + 1] in ("л", "н"):
            stemmed = word[: len(stemmed) + 1]
        return stemmed
    if _LATIN.match(word):
        return _english.stemWord(word)
    return word


def is_code(text: str) -> bool:
    """A token that names a product, article or standard: joined by separators, or letters mixed with digits."""
    if _SEPARATORS.search(text):
        return True
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


class YoFilter(Filter):
    """Folds ``ё`` to ``е``: Russian writes either, and people type ``е``."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if "ё" in token.text:
                token.text = token.text.replace("ё", "е")
            yield token


class CodeFilter(Filter):
    """Keeps codes whole; when indexing, also yields their leading parts and pieces at the same position."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            text = token.text
            if not is_code(text):
                token.code = False  # the tokenizer reuses one Token object: clear what the last code set
                yield token
                continue
            token.code = True
            yield token
            if token.mode != "index":
                continue
            leading = [text[: match.start()] for match in _SEPARATORS.finditer(text)]
            extra = [codes.key(text)]
            extra += [value for part in leading if part for value in (part, codes.key(part)) if is_code(part)]
            extra += [part for part in leading if part and not is_code(part)]
            extra += [piece for piece in _SEPARATORS.split(text) if piece]
            seen = {text}
            for value in extra:
                if value and value not in seen:
                    seen.add(value)
                    part = token.copy()
                    part.text = value
                    part.code = value.startswith(codes.KEY_MARK) or is_code(value)
                    yield part


class MixedStopFilter(Filter):
    """Drops Russian and English stop words (never codes)."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if not getattr(token, "code", False) and token.text in STOP_WORDS:
                if token.removestops:
                    continue
                token.stopped = True
            else:
                token.stopped = False
            yield token


class MixedStemFilter(Filter):
    """Stems each word with the stemmer of its script; codes are left exactly as typed."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if not getattr(token, "code", False):
                token.text = stem(token.text)
            yield token


def mixed_analyzer():  # type: ignore[no-untyped-def]  # Whoosh composes analyzers with |
    """The analyzer for body text, titles, descriptions and tags."""
    return (
        RegexTokenizer(expression=TOKEN_PATTERN)
        | LowercaseFilter()
        | YoFilter()
        | CodeFilter()
        | MixedStopFilter()
        | MixedStemFilter()
    )


def analyze(text: str, mode: str = "query") -> list[str]:
    """The terms ``text`` becomes (for tests and for building queries)."""
    return [t.text for t in mixed_analyzer()(text, mode=mode, removestops=True)]


def spelling_analyzer():  # type: ignore[no-untyped-def]
    """Whole words, lower-cased, ё folded, unstemmed: the vocabulary "did you mean" picks from."""
    return RegexTokenizer(expression=r"[^\W\d_]{3,}") | LowercaseFilter() | YoFilter()


# --- the same analyzer, run once per distinct word ---------------------------------------------------------

TOKEN_RE = re.compile(TOKEN_PATTERN)
_PER_TOKEN_FILTERS = (LowercaseFilter, YoFilter, CodeFilter, MixedStopFilter, MixedStemFilter)
_CHAIN = mixed_analyzer()


def analyzes_per_token(analyzer: Any) -> bool:
    """Whether ``analyzer`` is kb's chain: the word pattern, then filters that each look at one token alone."""
    items = getattr(analyzer, "items", None)
    if not items or not isinstance(items[0], RegexTokenizer) or items[0].gaps:
        return False
    return items[0].expression.pattern == TOKEN_PATTERN and all(type(f) in _PER_TOKEN_FILTERS for f in items[1:])


@word_cache(weight=2)
def word_terms(word: str, mode: str, removestops: bool) -> tuple[tuple[str, bool], ...]:
    """(term, stopped) for each token kb's chain makes of one word, as it meets the word inside a text."""
    return tuple(
        (t.text, t.stopped) for t in CompositeAnalyzer.__call__(_CHAIN, word, mode=mode, removestops=removestops)
    )


class MixedAnalyzer(CompositeAnalyzer):
    """kb's mixed Russian/English analyzer (``kb.search.analysis.mixed_analyzer``), run once per distinct word.

    Every filter of the chain looks at one token alone, so what a word becomes never depends on the words
    around it: a text's tokens are its words' tokens in order, and each word's are computed once per process
    and kept. Same tokens, positions and offsets as the chain gives; indexing and re-tokenizing pages for
    snippets go several times faster. Calls the shortcut does not cover go through the chain itself. Indexes
    pickle their schema with this class, so it must stay importable under this name.
    """

    def __init__(self) -> None:
        super().__init__(*mixed_analyzer().items)

    def __call__(  # type: ignore[no-untyped-def]  # whoosh's analyzer signature
        self,
        value,
        no_morph=False,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        boosts=False,  # whoosh's Positions format asks for boosts; every token's boost is 1.0 either way
        **kwargs,
    ):
        if keeporiginal or not tokenize or kwargs or not isinstance(value, str) or not analyzes_per_token(self):
            return super().__call__(
                value,
                no_morph=no_morph,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=tokenize,
                mode=mode,
                boosts=boosts,
                **kwargs,
            )
        return _per_word_tokens(value, positions, chars, removestops, start_pos, start_char, mode)


def _per_word_tokens(
    value: str, positions: bool, chars: bool, removestops: bool, start_pos: int, start_char: int, mode: str
) -> Iterator[Token]:
    # Like whoosh's tokenizer, one Token object is reused for every token.
    token = Token(positions, chars, removestops=removestops, mode=mode)
    answers = word_terms.answers  # the cache's own dictionary: a known word costs one lookup, not a call
    for pos, match in enumerate(TOKEN_RE.finditer(value)):
        key = (match.group(), mode, removestops)
        terms = answers.get(key)
        if terms is None:
            terms = word_terms(*key)
            answers = word_terms.answers
        for text, stopped in terms:
            token.text = text
            token.boost = 1.0
            token.stopped = stopped
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


@word_cache()
def index_terms(word: str) -> frozenset[str]:
    """The terms a word of a page was indexed under."""
    return frozenset(term for term, _stopped in word_terms(word, "index", False))
