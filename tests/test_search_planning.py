"""Query planning and correction, without an index: what a typed query becomes, the same for every backend."""

from __future__ import annotations

import pytest

from kb.search import codes
from kb.search.analysis import analyze
from kb.search.correction import correct, other_layout
from kb.search.planner import LIKE_THIS_KEEP, min_match, plan


class Vocabulary:
    """A few known words and their misspellings."""

    words = {"теплообменник", "теплообменники", "насосы", "каталог", "price", "compressors", "чек", "лист"}
    close = {"нассосы": "насосы", "compresors": "compressors", "теплообменики": "теплообменники"}

    def known(self, word: str) -> bool:
        return word in self.words

    def closest(self, word: str) -> str | None:
        return self.close.get(word)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ntgkjj,vtyybr", "теплообменник"),  # the comma key is "б": never a capital Б
        ("NTGKJJ<VTYYBR", "ТЕПЛООБМЕННИК"),  # Shift+comma is "Б"
        ("rfnfkju", "каталог"),
        ("зкшсу", "price"),
        ("xtr-kbcn", "чек-лист"),
    ],
)
def test_the_other_layout_maps_keys_not_letters(typed: str, meant: str) -> None:
    assert other_layout(typed) == meant


def test_other_layout_leaves_mixed_scripts_and_digits_alone() -> None:
    assert other_layout("насос pump") is None
    assert other_layout("12345") is None


def test_each_unknown_word_is_corrected_and_known_ones_and_phrases_stay() -> None:
    fixed = correct('каталог нассосы "нассосы в сборе" -compresors ntgkjj,vtyybrb', Vocabulary())
    assert fixed is not None and fixed.reason == "layout"
    assert fixed.text == 'каталог насосы "нассосы в сборе" -compresors теплообменники'
    assert correct("каталог насосы", Vocabulary()) is None
    assert correct("x" * 5000, Vocabulary()) is None  # not a word: no spelling search over it
    assert correct("НВ-250 kind:catalog", Vocabulary()) is None


@pytest.mark.parametrize("typed", ["нв250", "НВ-250", "HB 250", "hb-250", "НВ 250"])
def test_every_spelling_of_a_code_asks_for_the_same_key(typed: str) -> None:
    (concept,) = plan(typed).concepts
    assert codes.key("НВ-250") in concept.terms, concept


def test_a_code_as_typed_weighs_more_than_its_variants() -> None:
    (concept,) = plan("KX-200").concepts
    weights = {c.terms: c.weight for c in concept.clauses}
    assert weights[("kx-200",)] > weights[(codes.key("kx-200"),)]


def test_cyrillic_look_alikes_inside_codes_read_as_latin() -> None:
    assert codes.key("КХ-200") == codes.key("KX200") == "#kx200"
    assert codes.key("ГОСТ 12.2.003") == codes.key("гост12.2.003")
    assert codes.split_letters_digits("ГОСТ12.2.003") == ["ГОСТ", "12.2.003"]


def test_spaced_codes_are_one_concept_but_a_stop_word_before_a_number_is_not() -> None:
    assert [c.label for c in plan("гост 12.2.003 насосы").concepts] == ["гост 12.2.003", "насосы"]
    assert [c.label for c in plan("для 50 человек").concepts] == ["50", "человек"]


@pytest.mark.parametrize(("concepts", "needed"), [(1, 1), (2, 1), (3, 1), (4, 2), (5, 3), (12, 6)])
def test_minimum_should_match(concepts: int, needed: int) -> None:
    assert min_match(concepts) == needed


def test_explicit_syntax_stays_strict() -> None:
    planned = plan('насосы +гарантия "total cost of ownership" -дорого')
    required = {c.label: c.required for c in planned.concepts}
    assert required == {"насосы": False, "гарантия": True, '"total cost of ownership"': True}
    assert [c.label for c in planned.excluded] == ["дорого"]


def test_a_pasted_letter_keeps_the_words_that_say_most_about_it() -> None:
    letter = " ".join(f"слово{n}" for n in range(60)) + " теплообменник теплообменник теплообменник"
    planned = plan(letter)
    frequencies = {t: (1 if "теплообменник" in t else 5) for c in planned.concepts for t in c.terms}
    kept = planned.keep_rarest(lambda terms: {t: frequencies.get(t, 0) for t in terms})
    assert kept.like_this and len(kept.concepts) == LIKE_THIS_KEEP
    assert kept.concepts[-1].terms == frozenset(analyze("теплообменник"))  # repeated and rare: kept, in place


def test_strict_parts_and_exclusions_are_bounded() -> None:
    from kb.search.planner import MAX_STRICT

    planned = plan(" ".join(f'+слово{n} -мимо{n} "фраза {n}" префикс{n}*' for n in range(100)))
    assert sum(c.required for c in planned.concepts) <= 2 * MAX_STRICT  # +words and "phrases"
    assert len(planned.excluded) <= MAX_STRICT and len(planned.concepts) <= 3 * MAX_STRICT


def test_a_word_repeated_hundreds_of_times_is_looked_up_once() -> None:
    class Counting(Vocabulary):
        calls = 0

        def known(self, word: str) -> bool:
            Counting.calls += 1
            return super().known(word)

    fixed = correct(" ".join(["нассосы"] * 500 + [f"слово{n}" for n in range(50)]), Counting())
    assert fixed is not None and fixed.text.startswith("насосы насосы")
    assert Counting.calls <= 20


def test_a_trailing_comma_does_not_hide_a_known_or_misspelt_word() -> None:
    assert correct("price, каталог", Vocabulary()) is None
    fixed = correct("нассосы, каталог", Vocabulary())
    assert fixed is not None and fixed.text == "насосы, каталог"


def test_neighbouring_words_make_pairs_as_typed() -> None:
    pairs = plan("ёмкие HDD диски для старых данных").pairs
    # a stop word between two words keeps its place: "диски для старых" is a pair two apart
    assert [(c.terms, c.offsets) for c in pairs] == [
        (("емк", "hdd"), (0, 1)),
        (("hdd", "диск"), (0, 1)),
        (("диск", "стар"), (0, 2)),
        (("стар", "дан"), (0, 1)),
    ]
    assert plan("насос").pairs == ()
    assert plan("насос насосы").pairs == ()  # one word in two forms is one concept, not a pair
    assert plan('"total cost" ownership').pairs == ()  # a phrase already asks for its words together
    assert plan("цены для дилеров в регионе").pairs[0].offsets == (0, 2)
    assert not plan("для в на").pairs


def test_a_pasted_text_has_no_pairs() -> None:
    text = " ".join(f"слово{n} термин{n}" for n in range(20))
    kept = plan(text).keep_rarest(lambda terms: dict.fromkeys(terms, 1), pages=100)
    assert kept.like_this and kept.pairs == ()
