"""kb's snippet fragments against whoosh's own highlighter: the same fragments, found without a loop per token."""

from __future__ import annotations

import random

import pytest
from whoosh import highlight

from kb.search.analysis import analyze, mixed_analyzer
from kb.search.whoosh_index import _context_fragments

VOCABULARY = (
    "насос насосы насосами клапан клапана станция подача напор давление цена поставка и в на "
    "pump pumps pumping valve station pressure price delivery total cost of ownership the and a "
    "НВ-250/4 KX-200 GOST 12.2.003 ёлка Ёмкость 250 м³/ч — , . ; : ( ) «кавычки»"
).split()


def _whooshs(text: str, words: frozenset[str], fragmenter: highlight.ContextFragmenter) -> list[tuple]:
    tokens = mixed_analyzer()(text, positions=True, chars=True, mode="index", removestops=False)
    tokens = highlight.Highlighter()._merge_matched_tokens(highlight.set_matched_filter(tokens, words))
    return [_fragment(f) for f in fragmenter.fragment_tokens(text, tokens)]


def _fragment(fragment: highlight.Fragment) -> tuple:
    return (
        fragment.startchar,
        fragment.endchar,
        [(t.text, t.startchar, t.endchar) for t in fragment.matches],
    )


@pytest.mark.parametrize("seed", range(200))
def test_fragments_are_whooshs(seed: int) -> None:
    rng = random.Random(seed)
    text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 400)))
    query = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 3)))
    words = frozenset(analyze(query, mode="index"))
    fragmenter = highlight.ContextFragmenter(
        maxchars=rng.choice([60, 220, 400]), surround=rng.choice([10, 70]), charlimit=rng.choice([None, 500, 2**15])
    )
    ours = [_fragment(f) for f in _context_fragments(text, words, fragmenter)]
    assert ours == _whooshs(text, words, fragmenter)


def test_no_match_no_fragment() -> None:
    fragmenter = highlight.ContextFragmenter(maxchars=220, surround=70)
    assert _context_fragments("Каталог насосов", frozenset({"pump"}), fragmenter) == []
    assert _context_fragments("", frozenset({"pump"}), fragmenter) == []
