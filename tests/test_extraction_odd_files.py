"""Files from a company's whole library that kb refused or misread though they are readable (issue #12).

Each test builds a file the way the program that writes such files does (see ``fixtures_files``).
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from pathlib import Path

import pytest

import fixtures_files as F
import kb.extraction.run
import kb.extraction.text
from kb.extraction import Extraction, FileType, Page, RejectedFile, detect, extract
from kb.extraction.encoding import decode, detect_encoding
from kb.extraction.types import BY_NAME, DOCX, PDF, PPTM, PPTX, looks_like_text
from kb.models import ExtractionStatus


def detected(path: Path, filename: str | None = None) -> FileType:
    return detect(F.head(path), path, filename or path.name)


def read(path: Path, filename: str | None = None) -> Extraction:
    return extract(path, detected(path, filename))


# --- Text: UTF-16 without a byte-order mark, NULs, short Western text -------------------------------------------

EXPORT_ROWS = [
    ["Артикул", "Наименование", "Цена"],
    ["НВ-250/4", "Насос консольный, pump", "120 000"],
    ["НВ-300/2", "Насос «Атлас» — дренажный", "98 500"],
]


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_utf16_export_without_a_byte_order_mark_is_read(tmp_path: Path, suffix: str) -> None:
    path = F.make_bcp_unicode_export(tmp_path / f"export{suffix}", EXPORT_ROWS)

    file_type = detected(path)
    result = extract(path, file_type)

    assert file_type.media_type.endswith("; charset=utf-16-le")
    assert result.status == ExtractionStatus.DONE
    assert result.pages[0].text.split("\n") == ["\t".join(row) for row in EXPORT_ROWS]


def test_utf16_big_endian_without_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-16-be")

    assert detected(path).media_type == "text/plain; charset=utf-16-be"
    assert read(path).pages[0].text == F.RU_LETTER


def test_a_nul_padded_log_is_read_without_its_nuls(tmp_path: Path) -> None:
    lines = ["2025-03-01 10:00 Заказ 1542 принят", "2025-03-01 10:05 Счёт выставлен, invoice sent"]
    path = F.make_nul_padded_log(tmp_path / "orders.log", lines)

    result = read(path)

    assert detected(path).name == "txt"
    assert result.pages[0].text == "\n".join(lines)


def test_a_text_with_a_few_nuls_is_read_without_them(tmp_path: Path) -> None:
    # A C program wrote each string with its terminating NUL: one NUL in ten bytes, more than the 5% of
    # binary-looking bytes that text may have, but NULs alone do not make a file binary.
    path = F.write_text(tmp_path / "menu.txt", "Café\x00 Menu\x00 Prix\x00", "cp1252")

    result = read(path)

    assert detected(path).media_type == "text/plain; charset=windows-1252"
    assert result.pages[0].text == "Café Menu Prix"


def test_binary_with_many_nuls_stays_refused(tmp_path: Path) -> None:
    notes = F.write_text(tmp_path / "notes.txt", F.RU_LETTER, "utf-8")
    archive = tmp_path / "notes.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(notes, arcname="notes.txt")

    with pytest.raises(RejectedFile, match="not a type kb accepts"):
        detected(archive)
    assert not looks_like_text(F.ELF_BYTES)
    assert not looks_like_text(b"\x00" * 64)


@pytest.mark.parametrize(
    "text",
    ["Café résumé", "Crème brûlée à la carte", "Größe: 5 kg", "Año nuevo, señor", "CAFÉ", "Prix: 12 €, déjà payé"],
)
def test_short_western_text_in_windows_1252_is_not_read_as_cyrillic(tmp_path: Path, text: str) -> None:
    path = F.write_text(tmp_path / "note.txt", text, "cp1252")

    assert detect_encoding(text.encode("cp1252"), complete=True) == "cp1252"
    assert detected(path).media_type == "text/plain; charset=windows-1252"
    assert read(path).pages[0].text == text


@pytest.mark.parametrize("codec", ["cp1251", "koi8_r"])
@pytest.mark.parametrize("text", ["Ещё раз", "Итого к оплате", "ДОГОВОР N 15", "Счёт для B2G-заказчика"])
def test_short_russian_text_keeps_its_codepage(text: str, codec: str) -> None:
    data = text.encode(codec)

    assert detect_encoding(data, complete=True) == codec
    assert decode(data) == text


# --- Macro-enabled Office files: their text is read, their macros never run ----------------------------------

MACRO_ENABLED = {
    "docx": (lambda p: F.make_docx(p, ["Расчёт скидки", "Макрос считает цену"]), ".docm", "Word (DOCM)"),
    "pptx": (
        lambda p: F.make_pptx(p, [("Тарифы", "Цены на 2025 год", "Заметки докладчика")]),
        ".pptm",
        "PowerPoint (PPTM)",
    ),
    "xlsx": (lambda p: F.make_xlsx(p, {"Калькулятор": [["Цена", 120000]]}), ".xlsm", "Excel (XLSM)"),
}


@pytest.mark.parametrize("kind", sorted(MACRO_ENABLED))
def test_macro_enabled_office_files_are_read(tmp_path: Path, kind: str) -> None:
    make, extension, label = MACRO_ENABLED[kind]
    path = F.make_macro_enabled(make(tmp_path / f"file.{kind}"), kind)

    file_type = detected(path, f"Калькулятор{extension}")
    result = extract(path, file_type)

    assert (file_type.name, file_type.extension, file_type.label) == (kind, extension, label)
    assert "macroEnabled" in file_type.media_type and file_type.problem is None
    assert result.status == ExtractionStatus.DONE, result.error
    text = "\n".join(page.text for page in result.pages)
    assert ("Макрос считает цену" if kind == "docx" else "Цены на 2025 год" if kind == "pptx" else "120000") in text


def test_the_content_decides_between_the_plain_and_the_macro_enabled_form(tmp_path: Path) -> None:
    # Office itself refuses a .pptx holding macros and a .pptm without: the name is then corrected, not refused.
    macros = F.make_macro_enabled(F.make_pptx(tmp_path / "macros.pptx", [("Тарифы", "Цены", "")]), "pptx")
    plain = F.make_pptx(tmp_path / "plain.pptx", [("Тарифы", "Цены", "")])

    assert detected(macros, "deck.pptx") == PPTM
    assert detected(plain, "deck.pptm") == PPTX


@pytest.mark.parametrize(
    ("kind", "content_type", "extension"),
    [
        ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml", ".ppsx"),
        ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml", ".potx"),
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml", ".dotx"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml", ".xltx"),
    ],
)
def test_slide_shows_and_templates_are_read(tmp_path: Path, kind: str, content_type: str, extension: str) -> None:
    make, _, _ = MACRO_ENABLED[kind]
    path = make(tmp_path / f"file.{kind}")
    F.rewrite_zip_member(
        path,
        "[Content_Types].xml",
        lambda xml: re.sub(
            rb"application/[\w.-]+(?:sheet|document|presentation)\.main\+xml", content_type.encode(), xml
        ),
    )

    file_type = detected(path)
    result = extract(path, file_type)

    assert file_type.extension == extension
    assert result.status == ExtractionStatus.DONE, result.error


# --- Word documents whose text is in imported parts (altChunk) -------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
CHAT = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Чат</title><style>p {margin: 0}</style></head>'
    "<body><h1>Чат с клиентом ООО «Водоканал»</h1>"
    "<p><b>Анна (10:02):</b> Добрый день! Цена насоса НВ-250/4 — 120 000 руб.</p>"
    '<p style="color: #555"><b>Client (10:05):</b> Thanks, what is the delivery time?</p>'
    "<p><b>Анна (10:06):</b> Срок поставки 14 дней.</p></body></html>"
)


@pytest.mark.parametrize("version", ["0.3", "0.2"])
def test_a_chat_exported_by_html_docx_js_is_read_from_its_imported_part(tmp_path: Path, version: str) -> None:
    # 0.2 names the main part's type only by extension: kb refused it ("the file is not Word (DOCX)").
    path = F.make_html_docx_js(tmp_path / "chat.docx", CHAT, version=version)

    assert detected(path, "chat").name == "docx"
    result = read(path)

    assert result.status == ExtractionStatus.DONE, result.error
    assert result.pages[0].text.split("\n\n") == [
        "Чат с клиентом ООО «Водоканал»",
        "Анна (10:02): Добрый день! Цена насоса НВ-250/4 — 120 000 руб.",
        "Client (10:05): Thanks, what is the delivery time?",
        "Анна (10:06): Срок поставки 14 дней.",
    ]
    assert "color" not in result.pages[0].text and "Чат\n" not in result.pages[0].text  # no style, no <title>


def test_every_imported_part_is_read_in_its_place(tmp_path: Path) -> None:
    wordml = (
        f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>Часть из Word</w:t></w:r></w:p>'
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Модель</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>НВ-250/4</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>"
    )
    chunks = [
        ("word/part1.html", "text/html", "<html><body><p>Часть из HTML</p></body></html>".encode()),
        ("word/part2.txt", "text/plain", "Часть из текста в cp1251".encode("cp1251")),
        ("word/part3.xml", DOCX_MAIN, wordml.encode()),
        ("word/part4.rtf", "application/rtf", rb"{\rtf1\ansi RTF is left out}"),
    ]
    path = F.make_docx_with_chunks(tmp_path / "merged.docx", "Начало", chunks, "Конец")

    result = read(path)

    assert result.pages[0].text.split("\n") == [
        "Начало",
        "Часть из HTML",
        "Часть из текста в cp1251",
        "Часть из Word",
        "Модель\tНВ-250/4",
        "Конец",
    ]


def test_an_imported_part_that_is_missing_is_skipped(tmp_path: Path) -> None:
    path = F.make_html_docx_js(tmp_path / "chat.docx", CHAT)
    F.rewrite_zip_member(path, "word/document.xml", lambda xml: xml.replace(b'r:id="htmlChunk"', b'r:id="rId404"'))

    result = read(path)

    assert result.status == ExtractionStatus.EMPTY and result.error is None


# --- ZIP structures office applications never write ----------------------------------------------------------


def _docx(tmp_path: Path) -> Path:
    return F.make_docx(tmp_path / "offer.docx", [F.RU_OFFER])


def _refused_everywhere(path: Path, expected: str) -> None:
    """Refused on upload (``detect``) and failed by ``extract``, which checks again for files that skipped it."""
    with pytest.raises(RejectedFile) as caught:
        detected(path)
    result = extract(path, DOCX)

    assert expected in str(caught.value)
    assert result.status == ExtractionStatus.FAILED and expected in (result.error or "")


def test_a_zip64_member_is_refused(tmp_path: Path) -> None:
    path = F.add_zip_member(_docx(tmp_path), zipfile.ZipInfo("word/media/image1.png"), F.PNG_BYTES, force_zip64=True)

    _refused_everywhere(path, "The file uses ZIP64 records")


def test_a_zip64_end_record_is_refused(tmp_path: Path) -> None:
    path = F.make_zip64_end_record(_docx(tmp_path))
    with zipfile.ZipFile(path) as archive:  # still a valid ZIP, to zipfile and to every other reader
        assert "word/document.xml" in archive.namelist()

    _refused_everywhere(path, "The file uses ZIP64 records")


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    path = F.add_zip_member(_docx(tmp_path), F.symlink_info("word/media/image1.png"), b"/etc/passwd")

    _refused_everywhere(path, "symbolic link (word/media/image1.png)")


def test_a_zip_archive_inside_is_refused(tmp_path: Path) -> None:
    payload = F.zip_bytes({"setup.exe": F.ELF_BYTES})
    path = F.add_zip_member(_docx(tmp_path), zipfile.ZipInfo("word/media/image2.jpeg"), payload)

    _refused_everywhere(path, "another ZIP archive (word/media/image2.jpeg)")


def test_a_zip_archive_in_embeddings_that_is_not_an_office_document_is_refused(tmp_path: Path) -> None:
    payload = F.zip_bytes({"setup.exe": F.ELF_BYTES})
    path = F.add_zip_member(_docx(tmp_path), zipfile.ZipInfo("word/embeddings/archive.zip"), payload)

    _refused_everywhere(path, "another ZIP archive (word/embeddings/archive.zip)")


def test_an_embedded_workbook_is_fine(tmp_path: Path) -> None:
    # A chart's data: PowerPoint keeps it as a workbook of its own in ppt/embeddings/.
    workbook = F.make_xlsx(tmp_path / "chart.xlsx", {"Sheet1": [["Квартал", "Продажи"], ["I", 120]]}).read_bytes()
    path = F.make_pptx(tmp_path / "deck.pptx", [("Продажи", "График продаж по кварталам", "")])
    F.add_zip_member(path, zipfile.ZipInfo("ppt/embeddings/Microsoft_Excel_Worksheet.xlsx"), workbook)

    assert detected(path) == PPTX
    assert read(path).status == ExtractionStatus.DONE


# --- A PDF too long to read in the time extraction has -------------------------------------------------------


class _Clock:
    """A clock a second on at each reading: extraction's time checks become countable."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_past_the_time_budget_the_pages_read_so_far_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = F.make_long_pdf(tmp_path / "catalogue.pdf", 12)
    monkeypatch.setattr(kb.extraction.text, "monotonic", _Clock())

    result = extract(path, PDF, time_budget_s=4.5)

    # Page 1 begins at once, page n after n - 1 seconds: pages 1-5 begin within 4.5 s, page 6 would not.
    assert result.status == ExtractionStatus.DONE and result.page_count == 12
    assert result.pages_read == 5 and [page.number for page in result.pages] == [1, 2, 3, 4, 5]
    assert "страница5" in result.pages[-1].text
    assert result.note == (
        "Only pages 1–5 of 12 were read: reading more took too long. Search finds the text of these pages."
    )
    assert result.error is None and not result.truncated


def test_the_first_page_is_read_however_small_the_budget(tmp_path: Path) -> None:
    path = F.make_long_pdf(tmp_path / "catalogue.pdf", 5)

    result = extract(path, PDF, time_budget_s=0)

    assert result.pages_read == 1 and [page.number for page in result.pages] == [1]


def test_slides_and_sheets_stop_the_same_way(tmp_path: Path) -> None:
    deck = F.make_pptx(tmp_path / "deck.pptx", [(f"Слайд {n}", "текст", "") for n in range(1, 4)])
    book = F.make_xlsx(tmp_path / "book.xlsx", {f"Лист{n}": [["ячейка"]] for n in range(1, 4)})

    assert extract(deck, PPTX, time_budget_s=0).note == (
        "Only slides 1–1 of 3 were read: reading more took too long. Search finds the text of these slides."
    )
    assert (extract(book, BY_NAME["xlsx"], time_budget_s=0).note or "").startswith("Only sheets 1–1 of 3 were read")


def test_a_file_read_in_time_has_no_note(tmp_path: Path) -> None:
    path = F.make_long_pdf(tmp_path / "catalogue.pdf", 3)

    result = extract(path, PDF, time_budget_s=60)

    assert result.pages_read is None and result.note is None and len(result.pages) == 3


def test_text_cut_at_the_cap_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb.extraction.run, "MAX_TEXT_CHARS", 100)

    result = read(F.write_text(tmp_path / "long.txt", F.RU_LETTER * 3, "utf-8"))

    assert (
        result.truncated and result.note == "The text was cut at 100 characters: search finds the text before the cut."
    )


def test_the_note_survives_the_sandbox_json() -> None:
    original = Extraction.of_pages([Page(1, "", "текст")], 619, pages_read=45, note="Only pages 1–45 of 619 were read")

    assert Extraction.from_dict(original.to_dict()) == original
