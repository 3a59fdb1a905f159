"""Extraction: each accepted format read with its pages, slides or sheets; damaged files fail with a reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

import fixtures_files as F
import kb.extraction.run
from kb.extraction import ACCEPTED, MAX_TEXT_CHARS, Extraction, FileType, Page, detect, extract
from kb.extraction.types import BY_NAME, DOCX, PDF, TXT, XLSX
from kb.extraction.xlsx import MAX_ROWS
from kb.models import ExtractionStatus


def detected(path: Path, filename: str | None = None) -> FileType:
    return detect(F.head(path), path, filename or path.name)


def read(path: Path, filename: str | None = None) -> Extraction:
    return extract(path, detected(path, filename))


def full_text(result: Extraction) -> str:
    return "\n".join(page.text for page in result.pages)


# --- PDF ------------------------------------------------------------------------------------------------------


def test_pdf_pages_keep_their_numbers_and_cyrillic_text(tmp_path: Path) -> None:
    path = F.make_pdf(tmp_path / "offer.pdf", [F.RU_OFFER, "", F.RU_TERMS])

    result = read(path)

    assert detected(path) == PDF
    assert result.status == ExtractionStatus.DONE
    assert result.page_count == 3
    assert [page.number for page in result.pages] == [1, 3]  # the blank page 2 has no text to keep
    assert "Коммерческое предложение" in result.pages[0].text and "Delivery in 14" in result.pages[0].text
    assert "Условия оплаты" in result.pages[1].text
    assert result.error is None and not result.truncated


def test_password_protected_pdf_is_accepted_with_its_problem_and_fails(tmp_path: Path) -> None:
    path = F.make_pdf(tmp_path / "secret.pdf", [F.RU_OFFER], password="secret")

    file_type = detected(path)

    assert file_type.name == "pdf" and file_type.problem == "The PDF is password-protected."
    result = extract(path, file_type)
    assert result.status == ExtractionStatus.FAILED and result.error == "The PDF is password-protected."
    # Also when called with the plain type, as for a file that never went through detect().
    assert extract(path, PDF).error == "The PDF is password-protected."


def test_aes_encrypted_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    path = F.make_pdf(tmp_path / "locked-for-editing.pdf", [F.RU_OFFER], password="")

    result = read(path)

    assert detected(path).problem is None
    assert result.status == ExtractionStatus.DONE
    assert "Атлас-2" in full_text(result)


def test_scanned_pdf_without_text_is_empty_with_its_page_count(tmp_path: Path) -> None:
    result = read(F.make_scanned_pdf(tmp_path / "scan.pdf", page_count=3))

    assert result.status == ExtractionStatus.EMPTY
    assert result.page_count == 3 and result.pages == [] and result.error is None


# --- Word -----------------------------------------------------------------------------------------------------


def test_docx_paragraphs_table_rows_and_headers_once_across_sections(tmp_path: Path) -> None:
    path = F.make_docx(
        tmp_path / "offer.docx",
        [F.RU_OFFER, F.RU_TERMS],
        table=[["Товар", "Цена", "Срок"], ["Сервер «Атлас-2»", "1 250 000", "14 дней"]],
        header="ООО «Ромашка» — Commercial offer",
        footer="Конфиденциально",
        sections=3,
    )

    result = read(path)

    assert result.status == ExtractionStatus.DONE
    assert [page.number for page in result.pages] == [1]
    lines = result.pages[0].text.split("\n")
    assert lines[0] == "ООО «Ромашка» — Commercial offer"
    assert lines[-1] == "Конфиденциально"
    assert lines.count("Конфиденциально") == 1 and lines.count("ООО «Ромашка» — Commercial offer") == 1
    assert F.RU_OFFER in lines and F.RU_TERMS in lines
    assert "Товар\tЦена\tСрок" in lines and "Сервер «Атлас-2»\t1 250 000\t14 дней" in lines


def test_docx_content_controls_and_text_boxes_are_read_once(tmp_path: Path) -> None:
    path = F.make_docx_with_controls(
        tmp_path / "tender.docx", "Тендерная заявка", "ООО «Заказчик»", "Важно: срок 5 дней"
    )

    text = full_text(read(path))

    assert text.split("\n") == ["Тендерная заявка", "ООО «Заказчик»", "Важно: срок 5 дней"]


def test_docx_with_an_explicit_page_break_is_one_page(tmp_path: Path) -> None:
    result = read(F.make_docx_with_page_break(tmp_path / "two.docx", "Первая страница", "Вторая страница"))

    assert [page.number for page in result.pages] == [1]
    assert result.pages[0].text == "Первая страница\nВторая страница"


# --- PowerPoint -----------------------------------------------------------------------------------------------


def test_pptx_slides_titles_groups_tables_and_notes(tmp_path: Path) -> None:
    path = F.make_pptx(
        tmp_path / "deck.pptx",
        [
            ("Предложение для B2B", F.RU_OFFER, "Сказать про скидку 10%"),
            ("Second slide: terms", F.RU_TERMS, ""),
            ("Итоги", "Спасибо! Thank you!", "Вопросы"),
        ],
        group_texts=["Группа: склад", "Nested: logistics", "Группа: доставка"],
        table=[["Тариф", "Цена"], ["Базовый", "100 руб."]],
    )

    result = read(path)

    assert result.status == ExtractionStatus.DONE and result.page_count == 3
    assert [(page.number, page.title) for page in result.pages] == [
        (1, "Предложение для B2B"),
        (2, "Second slide: terms"),
        (3, "Итоги"),
    ]
    first = result.pages[0].text.split("\n")
    assert first[0] == "Предложение для B2B" and first.count("Предложение для B2B") == 1
    assert F.RU_OFFER in first
    assert {"Группа: склад", "Nested: logistics", "Группа: доставка"} <= set(first)
    assert "Тариф\tЦена" in first and "Базовый\t100 руб." in first
    assert first[-1] == "Сказать про скидку 10%"
    assert result.pages[2].text.split("\n") == ["Итоги", "Спасибо! Thank you!", "Вопросы"]


# --- Excel ----------------------------------------------------------------------------------------------------


def test_xlsx_sheets_are_pages_titled_with_their_names(tmp_path: Path) -> None:
    path = F.make_xlsx(
        tmp_path / "prices.xlsx",
        {
            "Прайс": [["Товар", "Цена", "Действует с"], ["Сервер", 1250000.0, date(2025, 1, 31)], ["Диск", 99.5]],
            "Пусто": [],
            "Notes": [["Price list", None, "мир"]],
        },
    )

    result = read(path)

    assert result.status == ExtractionStatus.DONE and result.page_count == 3
    assert [(page.number, page.title) for page in result.pages] == [(1, "Прайс"), (3, "Notes")]
    assert result.pages[0].text == "Товар\tЦена\tДействует с\nСервер\t1250000\t2025-01-31\nДиск\t99.5"
    assert result.pages[1].text == "Price list\t\tмир"


def test_xlsx_declaring_the_largest_dimension_stays_bounded_and_fast(tmp_path: Path) -> None:
    path = F.make_xlsx_with_huge_dimension(tmp_path / "huge.xlsx", [["Товар", "Цена"], ["Сервер", 100]])

    started = time.monotonic()
    result = read(path)

    assert time.monotonic() - started < 5
    assert result.status == ExtractionStatus.DONE
    assert result.pages[0].text == "Товар\tЦена\nСервер\t100"
    assert result.truncated  # the row stored at 1,048,576 lies past the row limit


def test_xlsx_features_openpyxl_drops_do_not_leak_warnings(tmp_path: Path) -> None:
    path = F.make_xlsx(tmp_path / "formatted.xlsx", {"Лист": [["Товар", 1]]})
    extension = (
        b'<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
        b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b"<x14:conditionalFormattings/></ext></extLst>"
    )
    F.rewrite_zip_member(
        path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</worksheet>", extension + b"</worksheet>")
    )

    result = read(path)  # pytest turns any warning into an error

    assert result.pages[0].text == "Товар\t1"


# --- OpenDocument ---------------------------------------------------------------------------------------------


def test_odt_paragraphs_table_header_and_footer(tmp_path: Path) -> None:
    path = F.make_odt(
        tmp_path / "offer.odt",
        [F.RU_OFFER, F.RU_TERMS],
        table=[["Товар", "Цена"], ["Сервер", "1 250 000"]],
        header="Шапка: ООО «Ромашка»",
        footer="Page footer — подвал",
    )

    result = read(path)

    assert result.status == ExtractionStatus.DONE
    assert result.pages[0].text.split("\n") == [
        "Шапка: ООО «Ромашка»",
        F.RU_OFFER,
        F.RU_TERMS,
        "Товар\tЦена",
        "Сервер\t1 250 000",
        "Page footer — подвал",
    ]


def test_odp_slides_with_titles_and_notes(tmp_path: Path) -> None:
    path = F.make_odp(
        tmp_path / "deck.odp",
        [("Слайд один", F.RU_OFFER, "Заметки докладчика"), ("Slide two", "Вторая строка\nSecond line", "")],
    )

    result = read(path)

    assert result.page_count == 2
    assert [(page.number, page.title) for page in result.pages] == [(1, "Слайд один"), (2, "Slide two")]
    assert result.pages[0].text.split("\n") == ["Слайд один", F.RU_OFFER, "Заметки докладчика"]
    assert result.pages[1].text.split("\n") == ["Slide two", "Вторая строка", "Second line"]


def test_ods_sheets_with_names_and_rows(tmp_path: Path) -> None:
    path = F.make_ods(
        tmp_path / "prices.ods", {"Прайс": [["Товар", "Цена"], ["Сервер", "1 250 000"]], "Итог": [["OK"]]}
    )

    result = read(path)

    assert result.page_count == 2
    assert [(page.number, page.title, page.text) for page in result.pages] == [
        (1, "Прайс", "Товар\tЦена\nСервер\t1 250 000"),
        (2, "Итог", "OK"),
    ]
    assert not result.truncated


def test_ods_trailing_empty_rows_and_columns_repeated_to_the_sheet_edge_are_cheap(tmp_path: Path) -> None:
    path = F.make_ods(tmp_path / "saved-by-libreoffice.ods", {"Лист1": [["а", "б"], ["1", "2"]]}, empty_tail=True)

    started = time.monotonic()
    result = read(path)

    assert time.monotonic() - started < 2
    assert result.pages[0].text == "а\tб\n1\t2" and not result.truncated


def test_ods_row_repeated_a_million_times_stops_at_the_row_limit(tmp_path: Path) -> None:
    path = F.make_ods(tmp_path / "repeat.ods", {"Лист1": [["Заголовок"], ["строка"]]}, repeat_last_row=1_000_000)

    result = read(path)

    assert result.pages[0].text.count("\n") + 1 == MAX_ROWS
    assert result.truncated


# --- Markup and text ------------------------------------------------------------------------------------------


def test_markdown_is_rendered_to_its_visible_text(tmp_path: Path) -> None:
    source = (
        "# Прайс-лист\n\nТекст **жирным** и [ссылка](https://example.com), `код`.\n\n"
        "| Товар | Цена |\n|---|---|\n| Сервер | 100 |\n\n<script>alert('x')</script>\n\n- пункт one\n"
    )
    result = read(F.write_text(tmp_path / "readme.md", source, "utf-8"))

    assert detected(tmp_path / "readme.md").name == "markdown"
    assert result.pages[0].text.split("\n") == [
        "Прайс-лист",
        "",
        "Текст жирным и ссылка, код.",
        "",
        "Товар\tЦена",
        "Сервер\t100",
        "",
        "пункт one",
    ]


def test_html_visible_text_only_with_entities_decoded(tmp_path: Path) -> None:
    source = """<!DOCTYPE html [<!ENTITY boom "BOOM BOOM">]>
<html><head><title>Каталог &mdash; 2025</title><style>body { color: red }</style>
<script>var secret = "hidden";</script></head>
<body><h1>Каталог</h1><p>Цена&nbsp;&laquo;договорная&raquo; &amp; delivery</p><!-- внутренний комментарий -->
<template><p>шаблон</p></template><p>&boom;</p>
<table><tr><th>Товар</th><th>Цена</th></tr><tr><td>Сервер</td><td>100</td></tr></table></body></html>"""
    result = read(F.write_text(tmp_path / "catalog.html", source, "utf-8"))

    page = result.pages[0]
    assert page.title == "Каталог — 2025"
    assert "Цена\xa0«договорная» & delivery" in page.text
    assert "Товар\tЦена\nСервер\t100" in page.text
    for hidden in ("color: red", "secret", "hidden", "комментарий", "шаблон", "BOOM"):
        assert hidden not in page.text


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    source = '<html><head><meta charset="windows-1251"></head><body><p>Ёлка и ёжик</p></body></html>'
    result = read(F.write_text(tmp_path / "page.htm", source, "cp1251"))

    assert result.pages[0].text == "Ёлка и ёжик"


@pytest.mark.parametrize(
    ("encoding", "charset"),
    [
        ("cp1251", "windows-1251"),
        ("koi8_r", "koi8-r"),
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("utf-16", "utf-16"),
        ("utf-16-le", None),
        ("utf-16-be", None),
    ],
)
def test_russian_text_files_decode_in_every_common_encoding(tmp_path: Path, encoding: str, charset: str | None) -> None:
    path = tmp_path / "letter.txt"
    if charset is None:  # UTF-16 with an explicit BOM of this byte order
        bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
        path.write_bytes(bom + F.RU_LETTER.encode(encoding))
        charset = "utf-16"
    else:
        F.write_text(path, F.RU_LETTER, encoding)

    file_type = detected(path)
    result = extract(path, file_type)

    assert file_type.name == "txt" and file_type.media_type == f"text/plain; charset={charset}"
    assert result.pages[0].text == F.RU_LETTER


@pytest.mark.parametrize(
    ("content", "encoding", "expected"),
    [
        ("Товар;Цена;Кол-во\nСервер;1 250 000,00;2\n", "cp1251", ["Товар\tЦена\tКол-во", "Сервер\t1 250 000,00\t2"]),
        ('name,note\n"Сервер, 2U","say ""hi"""\n', "utf-8", ["name\tnote", 'Сервер, 2U\tsay "hi"']),
        ("Товар\tЦена\nДиск\t99\n", "koi8_r", ["Товар\tЦена", "Диск\t99"]),
    ],
)
def test_csv_rows_become_tab_separated_lines(tmp_path: Path, content: str, encoding: str, expected: list[str]) -> None:
    path = F.write_text(tmp_path / "prices.csv", content, encoding)

    result = read(path)

    assert detected(path).name == "csv"
    assert result.pages[0].text.split("\n") == expected


def test_nul_bytes_windows_newlines_and_blank_runs_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("Первая\x00 строка\r\n\r\n\r\n\r\n\rВторая   \r\nTail\x07".encode())

    result = read(path)

    assert result.pages[0].text == "Первая строка\n\nВторая\nTail"


def test_text_over_the_cap_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(("Строка текста для проверки лимита. " * 30 + "\n") * 5000, encoding="utf-8")

    result = read(path)

    total = sum(len(page.text) for page in result.pages)
    assert result.status == ExtractionStatus.DONE and result.truncated
    assert MAX_TEXT_CHARS - 100 < total <= MAX_TEXT_CHARS


def test_the_cap_spans_pages_and_stops_reading_later_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb.extraction.run, "MAX_TEXT_CHARS", 1000)
    rows = [[f"Товар {n}", n] for n in range(200)]
    path = F.make_xlsx(tmp_path / "big.xlsx", {"Один": rows, "Два": rows, "Три": rows})

    result = read(path)

    assert result.truncated and result.page_count == 3
    assert [page.title for page in result.pages] == ["Один"]
    assert len(result.pages[0].text) <= 1000


# --- Damaged files --------------------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[Path], Path]] = {
    "pdf": lambda p: F.make_pdf(p, [F.RU_OFFER, F.RU_TERMS]),
    "docx": lambda p: F.make_docx(p, [F.RU_OFFER], table=[["a", "б"]]),
    "pptx": lambda p: F.make_pptx(p, [("Заголовок", F.RU_OFFER, "Заметки")]),
    "xlsx": lambda p: F.make_xlsx(p, {"Лист": [["Товар", 1]]}),
    "odt": lambda p: F.make_odt(p, [F.RU_OFFER]),
    "odp": lambda p: F.make_odp(p, [("Заголовок", F.RU_OFFER, "")]),
    "ods": lambda p: F.make_ods(p, {"Лист": [["Товар"]]}),
}


@pytest.mark.parametrize("damage", [F.corrupt_copy, F.truncated_copy], ids=["garbled", "truncated"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_damaged_file_of_every_binary_format_fails_with_a_reason(
    tmp_path: Path, name: str, damage: Callable[[Path, Path], Path]
) -> None:
    extension = BY_NAME[name].extension
    good = BUILDERS[name](tmp_path / f"good{extension}")
    bad = damage(good, tmp_path / f"bad{extension}")

    file_type = detected(bad)
    result = extract(bad, file_type)

    assert file_type.name == name  # the signature matches, so it is kept, and extraction says what is wrong
    assert result.status == ExtractionStatus.FAILED
    assert result.error and result.error.startswith("The file is corrupt: ")
    assert str(tmp_path) not in result.error


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_extract_never_raises_for_content_of_the_wrong_type(tmp_path: Path, name: str) -> None:
    png = F.make_png(tmp_path / "picture.png")

    result = extract(png, BY_NAME[name])

    assert result.status == ExtractionStatus.FAILED and result.error


def test_utf8_text_with_a_damaged_sequence_is_still_read_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "glued.txt"
    path.write_bytes(F.RU_LETTER.encode() + b"\xd0" + " и ещё текст".encode())

    result = read(path)

    assert result.status == ExtractionStatus.DONE
    assert result.pages[0].text == F.RU_LETTER + "\ufffd и ещё текст"


# --- The result type ------------------------------------------------------------------------------------------


def test_extraction_round_trips_through_json_form() -> None:
    original = Extraction(
        status=ExtractionStatus.DONE, pages=[Page(2, "Лист", "текст")], page_count=3, error=None, truncated=True
    )

    assert Extraction.from_dict(original.to_dict()) == original
    assert original.to_dict()["status"] == "done"


def test_titles_are_single_lines_of_at_most_300_characters() -> None:
    result = Extraction.of_pages([Page(1, "Очень\nдлинный " + "заголовок " * 60, "текст")], 1)

    assert "\n" not in result.pages[0].title and len(result.pages[0].title) == 300


def test_status_values_are_those_of_the_model() -> None:
    assert {Extraction.failed("x").status, Extraction.of_pages([], 1).status} <= set(ExtractionStatus)
    assert Extraction.of_pages([Page(1, "", " \n ")], 1).status == ExtractionStatus.EMPTY


def test_every_accepted_type_has_an_extractor_and_a_unit(tmp_path: Path) -> None:
    assert [t.name for t in ACCEPTED] == [
        "pdf", "docx", "pptx", "xlsx", "odt", "odp", "ods", "markdown", "html", "txt", "csv", "png", "jpeg", "tiff",
    ]  # fmt: skip
    assert {t.unit for t in ACCEPTED} <= {"page", "slide", "sheet"}
    assert all(t.extension.startswith(".") and t.label and t.problem is None for t in ACCEPTED)
    assert {DOCX.name, XLSX.name, TXT.name} <= set(kb.extraction.run._EXTRACTORS)
    assert set(kb.extraction.run._EXTRACTORS) == {t.name for t in ACCEPTED}
