"""Files from a company's whole library that kb refused or misread though they are readable (issue #12).

Each test builds a file the way the program that writes such files does (see ``fixtures_files``).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

import fixtures_files as F
from kb.extraction import Extraction, FileType, RejectedFile, detect, extract
from kb.extraction.encoding import decode, detect_encoding
from kb.extraction.types import looks_like_text
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
