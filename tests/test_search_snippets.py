"""Snippet fragments: every match marked once, whole words, within the fragmenter's bounds, fast on dense pages."""

from __future__ import annotations

import random

import pytest
from whoosh import highlight

from kb.search.analysis import TOKEN_PATTERN, analyze, index_terms
from kb.search.snippets import Highlighter, context_fragments

VOCABULARY = (
    "насос насосы насосами клапан клапана станция подача напор давление цена поставка и в на "
    "pump pumps pumping valve station pressure price delivery total cost of ownership the and a "
    "НВ-250/4 НВ-250 250 KX-200 GOST 12.2.003 ёлка Ёмкость м³/ч — , . ; : ( ) «кавычки» насос-дозатор"
).split()


def _truth(text: str, words: frozenset[str], limit: int) -> list[tuple[int, int]]:
    """Where the text's tokens (as the analyzer splits it) were indexed under one of ``words``."""
    import re

    return [
        m.span()
        for m in re.finditer(TOKEN_PATTERN, text)
        if m.end() <= limit and not words.isdisjoint(index_terms(m.group()))
    ]


@pytest.mark.parametrize("seed", range(300))
def test_every_match_is_in_one_fragment_of_whole_words(seed: int) -> None:
    import re

    rng = random.Random(seed)
    text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 400)))
    words = frozenset(analyze(" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 3))), mode="index"))
    maxchars, surround = rng.choice([60, 220, 400]), rng.choice([10, 70])
    charlimit = rng.choice([None, 500, 2**15])
    fragments = context_fragments(text, words, highlight.ContextFragmenter(maxchars, surround, charlimit))

    marked = [(t.startchar, t.endchar) for f in fragments for t in f.matches]
    assert marked == _truth(text, words, charlimit or len(text))  # each once, in order
    starts = {m.start() for m in re.finditer(TOKEN_PATTERN, text)}
    ends = {m.end() for m in re.finditer(TOKEN_PATTERN, text)}
    for f in fragments:
        first, last = f.matches[0].startchar, f.matches[-1].endchar
        assert f.startchar in starts and f.endchar in ends  # no word cut in two
        assert first - surround <= f.startchar <= first
        assert last <= f.endchar <= last + surround
        assert last - f.startchar <= maxchars or len(f.matches) == 1
        assert all(not words.isdisjoint(index_terms(text[t.startchar : t.endchar])) for t in f.matches)


def test_no_match_no_fragment() -> None:
    fragmenter = highlight.ContextFragmenter(maxchars=220, surround=70)
    assert context_fragments("Каталог насосов", frozenset({"pump"}), fragmenter) == []
    assert context_fragments("", frozenset({"pump"}), fragmenter) == []
    # a code is indexed under its parts too: the whole code is marked, never a piece of it
    (fragment,) = context_fragments("Дозатор насос-дозатор НВ-250/4.", frozenset({"насос", "250"}), fragmenter)
    assert [(t.startchar, t.endchar) for t in fragment.matches] == [(8, 21), (22, 30)]


def test_the_snippet_marks_the_best_passages_and_escapes_the_text() -> None:
    highlighter = Highlighter(
        fragmenter=highlight.ContextFragmenter(maxchars=80, surround=20),
        formatter=highlight.HtmlFormatter(tagname="mark", between=" … "),
    )
    filler = " ".join(["станция"] * 30)
    text = f"насос {filler} насос <script>alert(1)</script> клапан насос {filler} клапан"
    snippet = highlighter.snippet(text, frozenset(analyze("насос клапан")), top=2)
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet
    assert snippet.count("<mark") >= 4  # the passage with both words and the most matches comes in
    assert ">клапан</mark>" in snippet and ">насос</mark>" in snippet


def test_the_quick_match_finder_agrees_with_reading_every_token_on_real_documents() -> None:
    # ``matches`` looks only where a term's beginning stands; on every page of the real-document set, for
    # terms the page holds (stems, codes' keys and pieces), it must find what looking up every token finds.
    import re
    from pathlib import Path

    from kb.search.snippets import all_matches, matches_at_term_starts

    rng = random.Random(5)
    docs = sorted((Path(__file__).parent / "realdocs").glob("*/docs/*.md"))
    assert len(docs) > 100
    compared = 0
    for doc in docs:
        for text in doc.read_text(encoding="utf-8").split("\f"):
            terms = sorted({t for m in re.finditer(TOKEN_PATTERN, text) for t in index_terms(m.group())})
            if not terms:
                continue
            for _ in range(3):
                words = frozenset(rng.sample(terms, min(len(terms), rng.randint(1, 4))))
                quick = matches_at_term_starts(text, words, len(text))
                assert quick == all_matches(text, words, len(text)), (doc.name, words)
                compared += 1
    assert compared > 1000


def test_the_best_passages_are_those_whooshs_scoring_would_keep_on_real_documents() -> None:
    # ``Highlighter.snippet`` scores passages from their matches and builds only the best; on every page of the
    # real-document set it must give what building every passage and letting whoosh pick gives, to the byte.
    import re
    from pathlib import Path

    rng = random.Random(11)
    fragmenter = highlight.ContextFragmenter(maxchars=220, surround=70)
    formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
    highlighter = Highlighter(fragmenter=fragmenter, formatter=formatter)
    docs = sorted((Path(__file__).parent / "realdocs").glob("*/docs/*.md"))
    compared = 0
    for doc in docs:
        for text in doc.read_text(encoding="utf-8").split("\f"):
            tokens = [m.group() for m in re.finditer(TOKEN_PATTERN, text)]
            if not tokens:
                continue
            for top in (1, 2, 3):
                # frequent words of the page and a rare one: dense passages, and passages of two terms
                picks = rng.sample(tokens, min(len(tokens), rng.randint(1, 3)))
                words = frozenset(t for word in picks for t in index_terms(word))
                every = highlight.top_fragments(
                    context_fragments(text, words, fragmenter), top, highlight.BasicFragmentScorer(), highlight.FIRST
                )
                assert highlighter.snippet(text, words, top) == formatter.format(every), (doc.name, words)
                compared += 1
    assert compared > 1000
