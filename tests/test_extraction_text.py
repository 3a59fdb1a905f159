"""Text cleaning, the character budget and encoding detection (cp1251 against KOI8-R above all)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.extraction.encoding import charset_label, decode, detect_encoding
from kb.extraction.text import TextBudget, clean_text, clean_title

# Typical Russian business text, in mixed case, ALL CAPS and with English mixed in. (A lone run of capitals such
# as "ИНН КПП" is ambiguous between the two codepages; a real file has more text around it.)
RUSSIAN_SAMPLES = [
    "Коммерческое предложение на поставку серверного оборудования. Срок поставки 14 дней.",
    "ДОГОВОР ПОСТАВКИ № 15/2025",
    "ТЕНДЕРНАЯ ДОКУМЕНТАЦИЯ",
    "СЧЁТ-ФАКТУРА ОТ 01.02.2025",
    "Реквизиты поставщика: ИНН 7701234567, КПП 770101001",
    "Прайс-лист, Product catalog: сервер Dell PowerEdge R750 - 1 250 000 руб.",
    "Номенклатура;Количество;Цена\nБумага А4;10;350,00\nРучка шариковая;100;25,50\n",
    "Уважаемый Иван Петрович! Направляем Вам счёт на оплату.",
    "Итого к оплате",
    "Москва, ул. Ленина, д. 5, офис 12",
    "Скидка для B2G-заказчиков составляет 7%",
    "ёлочные игрушки",
]


@pytest.mark.parametrize("codec", ["cp1251", "koi8_r"])
@pytest.mark.parametrize("sample", RUSSIAN_SAMPLES)
def test_russian_codepages_are_told_apart(sample: str, codec: str) -> None:
    data = sample.replace("№", "N").encode(codec)

    assert detect_encoding(data, complete=True) == codec
    assert decode(data) == sample.replace("№", "N")


def test_utf8_wins_over_codepages_and_a_character_cut_at_the_sample_end_is_fine() -> None:
    data = "Привет".encode()

    assert detect_encoding(data[:-1], complete=False) == "utf-8"
    assert detect_encoding(data[:-1], complete=True) != "utf-8"


@pytest.mark.parametrize(
    ("data", "codec"),
    [
        (b"\xef\xbb\xbf" + "Привет".encode(), "utf-8-sig"),
        (b"\xff\xfe" + "Привет".encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + "Привет".encode("utf-16-be"), "utf-16"),
        (b"\xff\xfe\x00\x00" + "Привет".encode("utf-32-le"), "utf-32"),
    ],
)
def test_byte_order_marks_decide(data: bytes, codec: str) -> None:
    assert detect_encoding(data, complete=True) == codec
    assert decode(data) == "Привет"


def test_western_text_is_not_read_as_russian() -> None:
    data = "Größe und Gewicht: 5 kg, Straße 12".encode("cp1252")

    assert detect_encoding(data, complete=True) not in {"cp1251", "koi8_r"}
    assert "Größe" in decode(data)


@pytest.mark.parametrize(
    ("codec", "label"),
    [("cp1251", "windows-1251"), ("koi8_r", "koi8-r"), ("utf-8-sig", "utf-8"), ("utf-16", "utf-16"),
     ("iso8859_5", "iso-8859-5"), ("cp1252", "windows-1252")],
)  # fmt: skip
def test_charset_labels_are_the_web_names(codec: str, label: str) -> None:
    assert charset_label(codec) == label


def test_clean_text_removes_nuls_controls_and_lone_surrogates() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x85e") == "abcd\ne"
    assert clean_text("до\ud800после\udfffконец") == "допослеконец"
    assert clean_text("пара: \ud83d\ude00") == "пара: 😀"


def test_clean_text_normalises_newlines_and_collapses_blank_runs() -> None:
    assert clean_text("\n\nодин\r\nдва\rтри\x0bчетыре\x0cпять\u2028шесть") == "один\nдва\nтри\nчетыре\nпять\nшесть"
    assert clean_text("абзац   \n \t \n\n\n\nследующий\t\n") == "абзац\n\nследующий"


def test_clean_title_is_one_short_line() -> None:
    assert clean_title("  Заголовок\nслайда\x0bвторая строка ") == "Заголовок слайда вторая строка"
    assert len(clean_title("я" * 1000)) == 300


def test_budget_cuts_at_the_limit_and_stops_reading() -> None:
    budget = TextBudget(20)
    consumed: list[str] = []

    def pieces() -> Iterator[str]:
        for piece in ["0123456789", "abcdefghij", "never", "read"]:
            consumed.append(piece)
            yield piece

    text = budget.collect(pieces())

    assert text == "0123456789\nabcdefgh"
    assert budget.truncated and budget.exhausted
    assert consumed == ["0123456789", "abcdefghij"]


def test_budget_that_is_not_spent_is_not_truncated() -> None:
    budget = TextBudget(100)

    assert budget.collect(["раз", "", "два"]) == "раз\nдва"
    assert not budget.truncated and budget.remaining == 100 - len("раз\n") - len("\n") - len("два\n")
