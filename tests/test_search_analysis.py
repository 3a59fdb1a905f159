"""The mixed Russian/English analyzer: inflections, ё, both scripts, stop words, product codes as typed."""

from __future__ import annotations

import pickle

import pytest

from kb.search.analysis import analyze, is_code, mixed_analyzer


@pytest.mark.parametrize(
    ("forms", "language"),
    [
        (["каталог", "каталога", "каталогу", "каталогом", "каталоге", "каталоги", "каталогов"], "ru"),
        (["насос", "насоса", "насосы", "насосов", "насосами"], "ru"),
        (["компрессор", "компрессоры", "компрессорами", "компрессору"], "ru"),
        (["водоканал", "водоканала", "водоканалу", "водоканалы", "водоканалов"], "ru"),
        (["материал", "материала", "материалами"], "ru"),
        (["сигнал", "сигнала", "сигналов"], "ru"),
        (["экран", "экрана", "экраном"], "ru"),
        (["pump", "pumps", "pumping", "pumped"], "en"),
        (["compressor", "compressors"], "en"),
        (["delivery", "deliveries"], "en"),
    ],
)
def test_inflected_forms_share_one_term(forms: list[str], language: str) -> None:
    terms = {tuple(analyze(form)) for form in forms}
    assert len(terms) == 1, (language, terms)


def test_yo_is_folded_to_ye() -> None:
    assert analyze("Ёмкость ещё") == analyze("Емкость еще")


def test_each_script_gets_its_own_stemmer_in_one_text() -> None:
    terms = analyze("Насосами pumps для водоканала")
    assert terms == [analyze("насос")[0], "pump", analyze("водоканал")[0]]


def test_stop_words_of_both_languages_are_dropped() -> None:
    assert analyze("the and of и в на для") == []
    assert analyze("насос для воды") == ["насос", "вод"]


@pytest.mark.parametrize("code", ["НВ-250/4", "KX-200", "KX-350M", "12.2.003", "ТР ТС 010/2011".split()[-1], "ЗКС-150"])
def test_codes_stay_whole_and_unstemmed(code: str) -> None:
    assert is_code(code)
    assert analyze(code) == [code.lower()]
    assert code.lower() in analyze(f"Модель {code} в наличии", mode="index")


def test_indexing_a_code_also_indexes_its_parts_and_prefixes() -> None:
    terms = analyze("НВ-250/4", mode="index")
    assert terms[0] == "нв-250/4"
    assert {"нв", "нв-250", "250", "4"} <= set(terms)
    # so these queries reach the document
    for typed in ("НВ 250", "нв-250", "НВ-250/4"):
        assert set(analyze(typed)) <= set(terms), typed


def test_letters_mixed_with_digits_are_codes_but_plain_words_are_not() -> None:
    assert is_code("DN50") and is_code("ip54")
    assert not is_code("насос") and not is_code("2026")


def test_numbers_and_odd_input_do_not_break_the_analyzer() -> None:
    assert analyze("12 500 ₽") == ["12", "500"]
    assert analyze("") == []
    assert analyze("\x00 😀 <script>alert(1)</script>") == ["script", "alert", "1", "script"]
    assert analyze("-" * 1000) == []


def test_the_analyzer_pickles_for_the_index_schema() -> None:
    analyzer = pickle.loads(pickle.dumps(mixed_analyzer()))
    assert [t.text for t in analyzer("Каталоги насосов")] == ["каталог", "насос"]


_MIXED_TEXT = "Каталог насосов НВ-250/4 и the pumps KX-200, ёлка; GOST 12.2.003 — и прочее. The end"


def _token_tuples(tokens) -> list[tuple]:  # type: ignore[no-untyped-def]
    names = ("text", "pos", "startchar", "endchar", "stopped", "boost")
    return [tuple(getattr(t, n, None) for n in names) for t in tokens]


@pytest.mark.parametrize(
    "kwargs",
    [
        # what whoosh's Positions format passes when indexing a TEXT field
        {"positions": True, "boosts": True, "mode": "index"},
        {"positions": True, "chars": True, "mode": "index", "removestops": False},
        {"mode": "query"},
    ],
)
def test_the_per_word_analyzer_gives_the_chains_tokens(kwargs: dict) -> None:
    from kb.search import analysis

    chain = mixed_analyzer()
    shortcut = analysis.MixedAnalyzer()
    expected = _token_tuples(chain(_MIXED_TEXT, **{"boosts": False, "chars": False, "positions": False, **kwargs}))
    calls_before = analysis.word_terms.cache_info()
    got = _token_tuples(shortcut(_MIXED_TEXT, **kwargs))
    assert got == expected
    # the per-word path was taken (indexing calls it with boosts=True: it must not fall back to the chain)
    calls_after = analysis.word_terms.cache_info()
    assert calls_after.hits + calls_after.misses > calls_before.hits + calls_before.misses


def test_indexes_built_before_the_analyzer_moved_still_open() -> None:
    """Whoosh pickles the schema with its analyzer: older indexes name kb.search.whoosh_index.MixedAnalyzer."""
    from kb.search import analysis, whoosh_index

    assert whoosh_index.MixedAnalyzer is analysis.MixedAnalyzer
    pickled = pickle.dumps(analysis.MixedAnalyzer(), protocol=0)
    old = pickled.replace(b"kb.search.analysis\nMixedAnalyzer", b"kb.search.whoosh_index\nMixedAnalyzer")
    assert old != pickled
    assert isinstance(pickle.loads(old), analysis.MixedAnalyzer)
