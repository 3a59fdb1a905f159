"""Type detection: content decides, names that lie are refused, zip bombs are refused before anything is parsed."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import fixtures_files as F
from kb.errors import ValidationError
from kb.extraction import ACCEPTED, FileType, RejectedFile, detect, extract
from kb.extraction import zipguard as zipguard_module
from kb.extraction.cfb import directory_names
from kb.extraction.types import DOCX, PPTX, XLSX, looks_like_text
from kb.models import ExtractionStatus

ACCEPTED_LIST = (
    "PDF, Word (DOCX), PowerPoint (PPTX), Excel (XLSX), OpenDocument text (ODT), OpenDocument presentation (ODP), "
    "OpenDocument spreadsheet (ODS), Markdown, HTML, Text, CSV, PNG, JPEG, TIFF"
)


def detected(path: Path, filename: str | None = None) -> FileType:
    return detect(F.head(path), path, path.name if filename is None else filename)


def rejected(path: Path, filename: str | None = None) -> RejectedFile:
    with pytest.raises(RejectedFile) as caught:
        detected(path, filename)
    return caught.value


# --- Content decides --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["offer", "offer.bin", "offer.doc", "OFFER.DOCX", "C:\\fakepath\\offer.docx"])
def test_binary_formats_are_known_by_content_whatever_the_name(tmp_path: Path, filename: str) -> None:
    path = F.make_docx(tmp_path / "upload", ["Текст"])

    assert detected(path, filename) == DOCX


def test_each_office_format_is_told_apart_by_its_package(tmp_path: Path) -> None:
    assert detected(F.make_pptx(tmp_path / "a", [("Т", "Б", "")]), "a").name == "pptx"
    assert detected(F.make_xlsx(tmp_path / "b", {"Лист": [["1"]]}), "b").name == "xlsx"
    assert detected(F.make_odt(tmp_path / "c", ["Текст"]), "c").name == "odt"
    assert detected(F.make_odp(tmp_path / "d", [("Т", "Б", "")]), "d").name == "odp"
    assert detected(F.make_ods(tmp_path / "e", {"Лист": [["1"]]}), "e").name == "ods"


@pytest.mark.parametrize(
    ("filename", "name"),
    [("a.md", "markdown"), ("a.markdown", "markdown"), ("a.html", "html"), ("a.htm", "html"), ("a.csv", "csv"),
     ("a.tsv", "csv"), ("a.txt", "txt"), ("a", "txt"), ("a.log", "txt"), ("a.json", "txt")],
)  # fmt: skip
def test_the_extension_chooses_among_text_formats_and_defaults_to_text(
    tmp_path: Path, filename: str, name: str
) -> None:
    path = F.write_text(tmp_path / "upload", "Привет, мир: hello, world", "utf-8")

    assert detected(path, filename).name == name


# --- Refused ------------------------------------------------------------------------------------------------------


def test_rejection_is_a_400_on_the_file_field_listing_the_accepted_types(tmp_path: Path) -> None:
    error = rejected(F.make_gif(tmp_path / "photo.gif"))

    assert isinstance(error, ValidationError)
    assert error.status == 400 and error.field == "file"
    assert error.message == "This file is not a type kb accepts. Accepted: %(accepted)s."
    assert str(error) == f"This file is not a type kb accepts. Accepted: {ACCEPTED_LIST}."
    assert error.params["accepted"] == ", ".join(t.label for t in ACCEPTED)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: F.make_gif(d / "photo.gif"),
        lambda d: _write(d / "tool", F.ELF_BYTES),
        lambda d: _write(d / "noise.dat", os.urandom(4096)),
        lambda d: _write(d / "letter.rtf", rb"{\rtf1\ansi Hello}"),
        lambda d: _zip(d / "archive.zip", {"readme.txt": b"hello"}),
    ],
    ids=["gif", "elf", "random", "rtf", "plain-zip"],
)
def test_unsupported_types_are_refused(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    error = rejected(make(tmp_path))

    assert ACCEPTED_LIST in str(error)


@pytest.mark.parametrize("filename", ["memo.doc", "memo.docx", "memo"])
def test_legacy_office_files_are_refused_with_advice(tmp_path: Path, filename: str) -> None:
    error = rejected(F.make_legacy_doc(tmp_path / "memo"), filename)

    assert str(error).startswith("Old binary Office files (.doc, .xls, .ppt) are not accepted")
    assert ACCEPTED_LIST in str(error)


@pytest.mark.parametrize(
    ("make", "filename", "expected"),
    [
        (lambda d: F.make_pdf(d / "f", ["PDF"]), "offer.docx", "Word (DOCX)"),
        (lambda d: F.make_docx(d / "f", ["DOCX"]), "offer.pdf", "PDF"),
        (lambda d: F.make_xlsx(d / "f", {"S": [["1"]]}), "deck.pptx", "PowerPoint (PPTX)"),
        (lambda d: F.make_docx(d / "f", ["DOCX"]), "notes.txt", "Text"),
        (lambda d: _write(d / "f", F.ELF_BYTES), "notes.txt", "Text"),
        (lambda d: F.make_png(d / "f"), "scan.pdf", "PDF"),
        (lambda d: F.write_text(d / "f", "просто текст", "utf-8"), "report.pdf", "PDF"),
    ],
    ids=["pdf-as-docx", "docx-as-pdf", "xlsx-as-pptx", "docx-as-txt", "binary-as-txt", "png-as-pdf", "text-as-pdf"],
)
def test_a_name_that_contradicts_the_content_is_refused(
    tmp_path: Path, make: Callable[[Path], Path], filename: str, expected: str
) -> None:
    error = rejected(make(tmp_path), filename)

    extension = "." + filename.rsplit(".", 1)[1]
    assert str(error).startswith(f"The file name ends in {extension}, but the file is not {expected}.")
    assert ACCEPTED_LIST in str(error)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert str(rejected(_write(tmp_path / "empty.txt", b""))).startswith("The file is empty.")


def test_a_stray_nul_does_not_make_text_binary() -> None:
    assert looks_like_text("Строка с ошибкой\x00 в середине".encode())
    assert not looks_like_text(F.ELF_BYTES)
    assert looks_like_text("UTF-16 without a BOM".encode("utf-16-le"))  # its NULs are a pattern, not noise


# --- Accepted but unreadable --------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", [DOCX, XLSX, PPTX])
def test_password_protected_office_files_are_accepted_with_their_problem(tmp_path: Path, file_type: FileType) -> None:
    path = F.make_encrypted_ooxml(tmp_path / "secret")

    found = detected(path, "secret" + file_type.extension)

    assert found.name == file_type.name and found.media_type == file_type.media_type
    assert found.problem == "The document is password-protected."
    assert extract(path, found).error == "The document is password-protected."


def test_password_protected_office_file_without_its_extension_is_refused(tmp_path: Path) -> None:
    error = rejected(F.make_encrypted_ooxml(tmp_path / "secret"), "secret.bin")

    assert "password-protected Office file" in str(error) and ACCEPTED_LIST in str(error)


def test_the_cfb_reader_lists_directory_names(tmp_path: Path) -> None:
    assert directory_names(F.make_encrypted_ooxml(tmp_path / "x")) == [
        "Root Entry",
        "EncryptionInfo",
        "EncryptedPackage",
    ]


def test_a_damaged_compound_file_is_not_accepted(tmp_path: Path) -> None:
    data = F.make_encrypted_ooxml(tmp_path / "x").read_bytes()
    broken = _write(tmp_path / "broken", data[:512])  # the header only: the directory is past the end

    assert "not a type kb accepts" in str(rejected(broken, "broken"))


def test_strict_open_xml_is_accepted_with_its_problem(tmp_path: Path) -> None:
    path = F.make_strict_docx(tmp_path / "strict.docx", ["Строгий формат"])

    found = detected(path)
    result = extract(path, found)

    assert found.name == "docx"
    assert found.problem == "Strict Open XML is not supported; save it as a regular .docx/.xlsx/.pptx."
    assert result.status == ExtractionStatus.FAILED and result.error == found.problem


@pytest.mark.parametrize("filename", ["book.xlsb", "book"])
def test_binary_excel_is_accepted_with_its_problem(tmp_path: Path, filename: str) -> None:
    found = detected(F.make_xlsb(tmp_path / "book"), filename)

    assert found.name == "xlsx" and found.extension == ".xlsb"
    assert found.media_type == "application/vnd.ms-excel.sheet.binary.macroEnabled.12"
    assert found.problem == "Binary Excel workbooks (.xlsb) are not supported; save it as .xlsx."


def test_password_protected_opendocument_is_accepted_with_its_problem(tmp_path: Path) -> None:
    path = F.make_odt(tmp_path / "secret.odt", ["Секрет"])
    encryption = (
        b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">'
        b'<manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>'
        b"</manifest:encryption-data>"
    )
    F.rewrite_zip_member(
        path,
        "META-INF/manifest.xml",
        lambda xml: xml.replace(
            b'manifest:full-path="content.xml" manifest:media-type="text/xml"/>',
            b'manifest:full-path="content.xml" manifest:media-type="text/xml">'
            + encryption
            + b"</manifest:file-entry>",
        ),
    )

    assert detected(path).problem == "The document is password-protected."


# --- Zip bombs ----------------------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_by_detect_and_failed_by_extract(tmp_path: Path) -> None:
    path = F.make_zip_bomb(tmp_path / "bomb.docx", megabytes=20)

    error = rejected(path)
    result = extract(path, DOCX)

    assert str(error) == "The file is compressed more than 200 to 1, which kb does not open, to stay safe."
    assert result.status == ExtractionStatus.FAILED and result.error == str(error)


def test_too_many_entries_are_refused_before_the_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = F.make_zip_with_entries(tmp_path / "many.docx", 10_001)

    def no_zipfile(*args: object, **kwargs: object) -> None:
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(zipguard_module.zipfile, "ZipFile", no_zipfile)
    error = rejected(path)

    assert str(error) == "The file holds more than 10000 parts, more than kb opens."
    assert extract(path, DOCX).error == str(error)


def test_declared_size_over_512_mib_is_refused(tmp_path: Path) -> None:
    path = F.make_zip_declaring(tmp_path / "huge.docx", uncompressed=200 * 1024 * 1024, compressed=2 * 1024 * 1024)

    assert str(rejected(path)) == "The file would expand to more than 512 MiB, more than kb opens."
    assert extract(path, DOCX).status == ExtractionStatus.FAILED


def test_an_encrypted_zip_entry_is_refused(tmp_path: Path) -> None:
    path = F.make_zip_declaring(tmp_path / "locked.docx", uncompressed=13, compressed=15, encrypted=True)

    assert "encrypted part" in str(rejected(path))
    assert "encrypted part" in (extract(path, DOCX).error or "")


def test_highly_compressed_small_parts_are_fine(tmp_path: Path) -> None:
    path = F.make_docx(tmp_path / "ok.docx", ["а" * 200_000])  # compresses far better than 200:1, but under 1 MiB

    assert detected(path) == DOCX


def test_the_checks_run_before_any_part_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = F.make_zip_bomb(tmp_path / "bomb.docx", megabytes=20)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a part of the container was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)

    assert "compressed more than 200 to 1" in str(rejected(path))
    assert "compressed more than 200 to 1" in (extract(path, DOCX).error or "")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_package_with_a_damaged_part_is_kept_by_its_name_and_fails_extraction(tmp_path: Path) -> None:
    path = F.make_docx(tmp_path / "damaged.docx", ["Текст"])
    data = bytearray(path.read_bytes())
    for index in range(60, 200):  # inside the compressed [Content_Types].xml; the directory is intact
        data[index] ^= 0x5A
    path.write_bytes(bytes(data))

    found = detected(path)

    assert found == DOCX
    assert (extract(path, found).error or "").startswith("The file is corrupt: ")
    assert "not a type kb accepts" in str(rejected(path, "damaged"))
