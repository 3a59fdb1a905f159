"""Builds the real-document search set (``tests/realdocs/{ru,en}``) into real files of each manifest format.

Every manifest entry's ``docs/<id>.md`` (Markdown, pages separated by a line holding only U+000C) becomes
``<out_dir>/<id>.<format>``:

- ``pdf``: a PDF page per page (DejaVu Sans, so Cyrillic works; a long page runs on to further PDF pages);
- ``pptx``: a slide per page, titled by the page's first heading (or first line), the rest as body text;
- ``xlsx``: a sheet per page; Markdown table rows become rows of cells, every other line a one-cell row;
- ``docx`` / ``odt``: headings, paragraphs, list items and tables, with a page break between pages;
- ``html``: a full HTML document rendered from the Markdown (a ``<section>`` per page);
- ``md``: the Markdown as it is (page-break lines become blank lines); ``txt``: plain text, form feeds kept.

The output is deterministic (fixed dates in the files and in the ZIP containers), and cached: a state file in
``out_dir`` records the hash of each document's source (text, title, format and this module's code), and a
file whose hash is unchanged is not built again. ``build(out_dir)`` returns a ``Doc`` per manifest entry.

Run as a script to build into a directory: ``.venv/bin/python tests/realdocs/build.py OUT_DIR``.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import logging
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:  # fixtures_files lives in tests/ (on sys.path under pytest, not in a script)
    sys.path.insert(0, str(TESTS))

import docx  # noqa: E402
import markdown  # noqa: E402
import openpyxl  # noqa: E402
import pptx  # noqa: E402
from docx.enum.text import WD_BREAK  # noqa: E402
from fpdf import FPDF  # noqa: E402
from odf import dc, meta, style, text  # noqa: E402
from odf.opendocument import OpenDocumentText  # noqa: E402

import fixtures_files  # noqa: E402

LANGUAGES = ("ru", "en")
FORMATS = ("pdf", "docx", "pptx", "xlsx", "odt", "html", "md", "txt")
PAGE_BREAK = "\f"
STATE_FILE = "build-state.json"
#: Every date inside the built files, and every ZIP member's date.
STAMP = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ZIP_DATE = (2026, 1, 1, 9, 0, 0)
CELL_GAP = "    "  # between table cells where a format has no cells (PDF, slides)


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    lang: str
    path: Path
    format: str


# --- the corpus ---------------------------------------------------------------------------------------------


def manifest(languages: tuple[str, ...] = LANGUAGES) -> list[dict[str, Any]]:
    """Every manifest entry of the set, Russian first, in manifest order."""
    entries: list[dict[str, Any]] = []
    for lang in languages:
        entries += json.loads((HERE / lang / "manifest.json").read_text(encoding="utf-8"))
    return entries


def queries(languages: tuple[str, ...] = LANGUAGES) -> list[dict[str, Any]]:
    """Every query of the set, each with its ``lang`` added."""
    found: list[dict[str, Any]] = []
    for lang in languages:
        for query in json.loads((HERE / lang / "queries.json").read_text(encoding="utf-8")):
            found.append({**query, "lang": lang})
    return found


def source_text(entry: dict[str, Any]) -> str:
    return (HERE / entry["lang"] / "docs" / f"{entry['id']}.md").read_text(encoding="utf-8")


def pages_of(markdown_text: str) -> list[str]:
    """The pages of a document: the text between lines that hold only a form feed (empty pages dropped)."""
    pages = re.split(r"(?m)^[ \t]*\f[ \t]*$", markdown_text.replace("\r\n", "\n"))
    return [page.strip("\n") for page in pages if page.strip()]


# --- Markdown blocks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Item:
    text: str
    depth: int = 0
    number: str = ""  # "3." for a numbered item, "" for a bullet


@dataclass(frozen=True)
class Table:
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Code:
    lines: tuple[str, ...]


Block = Heading | Para | Item | Table | Code

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_RULE = re.compile(r"^:?-{2,}:?$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def blocks(page: str) -> list[Block]:
    """The blocks of one page of Markdown, inline markup removed."""
    result: list[Block] = []
    lines = page.split("\n")
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            result.append(Para(plain(" ".join(part.strip() for part in paragraph))))
            paragraph.clear()

    at = 0
    while at < len(lines):
        line = lines[at]
        stripped = line.strip()
        if _FENCE.match(line):
            flush()
            fence = _FENCE.match(line).group(1)  # type: ignore[union-attr]
            code: list[str] = []
            at += 1
            while at < len(lines) and not lines[at].strip().startswith(fence):
                code.append(lines[at].rstrip())
                at += 1
            if any(c.strip() for c in code):
                result.append(Code(tuple(c for c in code if c.strip())))
        elif not stripped:
            flush()
        elif stripped.startswith("|"):
            flush()
            rows: list[tuple[str, ...]] = []
            while at < len(lines) and lines[at].strip().startswith("|"):
                cells = _cells(lines[at].strip())
                if not all(_RULE.match(c.replace(" ", "")) for c in cells if c) or not any(cells):
                    rows.append(tuple(plain(c) for c in cells))
                at += 1
            rows = [r for r in rows if any(r)]
            if rows:
                width = max(len(r) for r in rows)
                result.append(Table(tuple(r + ("",) * (width - len(r)) for r in rows)))
            continue
        elif match := _HEADING.match(stripped):
            flush()
            result.append(Heading(len(match.group(1)), plain(match.group(2))))
        elif match := _ITEM.match(line):
            flush()
            depth = min(len(match.group(1).expandtabs(4)) // 2, 4)
            number = match.group(2) if match.group(2)[0].isdigit() else ""
            result.append(Item(plain(match.group(3)), depth, number))
        elif result and isinstance(result[-1], Item) and not paragraph and line[:1].isspace():
            last = result[-1]  # a continuation line of a list item
            result[-1] = Item(f"{last.text} {plain(stripped)}", last.depth, last.number)
        else:
            paragraph.append(stripped[1:].strip() if stripped.startswith(">") else stripped)
        at += 1
    flush()
    return [b for b in result if not isinstance(b, (Para, Heading, Item)) or b.text]


def _cells(row: str) -> list[str]:
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*\\])([*_])(?=[^\s*_])(.+?)(?<=[^\s*_\\])\1(?![\w*])")
_CODE_SPAN = re.compile(r"`+([^`]*)`+")
_TAGS = re.compile(r"</?(?:br|b|i|em|strong|sup|sub|span|u|code|kbd)\b[^>]*>", re.IGNORECASE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>])")


def plain(value: str) -> str:
    """A line of Markdown as the text a reader sees: links, emphasis, code spans and escapes removed."""
    value = _TAGS.sub(" ", value)
    value = _CODE_SPAN.sub(lambda m: m.group(1), value)
    value = _LINK.sub(lambda m: m.group(1), value)
    value = _STRONG.sub(lambda m: m.group(2), value)
    value = _EMPHASIS.sub(lambda m: m.group(2), value)
    value = _ESCAPE.sub(lambda m: m.group(1), value)
    return html.unescape(" ".join(value.split()))


def page_lines(page_blocks: list[Block], cell_gap: str = CELL_GAP) -> Iterator[str]:
    """The blocks of a page as lines of plain text (tables: a line per row, cells apart)."""
    for block in page_blocks:
        if isinstance(block, (Heading, Para)):
            yield block.text
        elif isinstance(block, Item):
            yield "  " * block.depth + (f"{block.number} " if block.number else "• ") + block.text
        elif isinstance(block, Table):
            for row in block.rows:
                yield cell_gap.join(c for c in row if c)
        else:
            yield from block.lines


def _title_and_rest(page_blocks: list[Block]) -> tuple[str, list[Block]]:
    """A page's title and the blocks after it: its first block when that is a heading or a short line,
    else the start of its first line (and every block stays in the rest)."""
    if not page_blocks:
        return "", []
    first = page_blocks[0]
    if isinstance(first, Heading) or (isinstance(first, (Para, Item)) and len(first.text) <= 120):
        return first.text, page_blocks[1:]
    line = next(iter(page_lines([first])), "")
    return line[:120], page_blocks


# --- writers ------------------------------------------------------------------------------------------------


def write_pdf(path: Path, title: str, lang: str, pages: list[list[Block]]) -> None:
    """A4 pages, headings larger (one font: loading a second one doubles the build time); a long page runs
    on to the next PDF page."""
    document = FPDF(format="A4")
    document.add_font("DejaVu", "", str(fixtures_files.cyrillic_font()))
    document.set_creation_date(STAMP)
    document.set_title(title)
    document.set_creator("kb tests/realdocs/build.py")
    document.set_producer("kb tests/realdocs/build.py")
    document.set_lang(lang)
    document.set_margins(18, 15, 18)
    document.set_auto_page_break(True, margin=15)
    for page in pages:
        document.add_page()
        for block in page:
            if isinstance(block, Heading):
                document.set_font("DejaVu", "", max(11, 18 - 2 * block.level))
                document.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
                document.ln(1)
            else:
                document.set_font("DejaVu", "", 9 if isinstance(block, (Table, Code)) else 10)
                for line in page_lines([block]):
                    document.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
                document.ln(2)
    with _quiet_fpdf():
        data = bytes(document.output())
    path.write_bytes(data)


@contextlib.contextmanager
def _quiet_fpdf() -> Iterator[None]:
    """fpdf2 logs each glyph the font lacks (none in this set today); the rest of the text is still written."""
    logger = logging.getLogger("fpdf.output")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def write_docx(path: Path, title: str, lang: str, pages: list[list[Block]]) -> None:
    document = docx.Document()
    for number, page in enumerate(pages):
        if number:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for block in page:
            if isinstance(block, Heading):
                document.add_heading(block.text, level=min(block.level, 9))
            elif isinstance(block, Para):
                document.add_paragraph(block.text)
            elif isinstance(block, Item):
                kind = "List Number" if block.number else "List Bullet"
                document.add_paragraph(block.text, style=kind if not block.depth else f"{kind} 2")
            elif isinstance(block, Table):
                grid = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
                grid.style = "Table Grid"
                for r, row in enumerate(block.rows):
                    for c, value in enumerate(row):
                        grid.cell(r, c).text = value
            else:
                for line in block.lines:
                    document.add_paragraph(line)
    props = document.core_properties
    props.title = title
    props.author = props.last_modified_by = "kb realdocs"
    props.language = "en-US" if lang == "en" else "ru-RU"
    props.revision = 1
    props.created = props.modified = props.last_printed = STAMP.replace(tzinfo=None)
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(normalise_zip(buffer.getvalue()))


def write_pptx(path: Path, title: str, lang: str, pages: list[list[Block]]) -> None:
    """A slide per page (title and content layout): the page's title, then the rest as body paragraphs."""
    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]
    for page in pages:
        slide = deck.slides.add_slide(layout)
        heading, rest = _title_and_rest(page)
        slide.shapes.title.text = heading or title
        frame = slide.placeholders[1].text_frame
        lines = list(page_lines(rest))
        frame.text = _xml_safe(lines[0]) if lines else ""
        for line in lines[1:]:
            frame.add_paragraph().text = _xml_safe(line)
    props = deck.core_properties
    props.title = title
    props.author = props.last_modified_by = "kb realdocs"
    props.language = "en-US" if lang == "en" else "ru-RU"
    props.revision = 1
    props.created = props.modified = props.last_printed = STAMP.replace(tzinfo=None)
    buffer = io.BytesIO()
    deck.save(buffer)
    path.write_bytes(normalise_zip(buffer.getvalue()))


_INTEGER = re.compile(r"-?(0|[1-9]\d{0,14})")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def write_xlsx(path: Path, title: str, lang: str, pages: list[list[Block]]) -> None:
    """A sheet per page named after its title; table rows as cells (plain integers as numbers)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for number, page in enumerate(pages, start=1):
        heading, _rest = _title_and_rest(page)
        sheet = book.create_sheet(_sheet_name(heading, number, lang, used))
        for block in page:
            if isinstance(block, Table):
                for row in block.rows:
                    sheet.append([int(c) if _INTEGER.fullmatch(c) else _xml_safe(c) for c in row])
            else:
                for line in page_lines([block]):
                    sheet.append([_xml_safe(line.strip())])
    props = book.properties
    props.title, props.creator, props.lastModifiedBy = title, "kb realdocs", "kb realdocs"
    props.language = "en-US" if lang == "en" else "ru-RU"
    props.created = props.modified = STAMP.replace(tzinfo=None)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(normalise_zip(buffer.getvalue()))


def _sheet_name(heading: str, number: int, lang: str, used: set[str]) -> str:
    name = " ".join(_SHEET_BAD.sub(" ", heading).split()).strip("'")[:31].strip()
    if not name or name.casefold() in used:
        name = f"{'Sheet' if lang == 'en' else 'Лист'} {number}"
    used.add(name.casefold())
    return name


def write_odt(path: Path, title: str, lang: str, pages: list[list[Block]]) -> None:
    document = OpenDocumentText()
    page_break = style.Style(name="PageBreak", family="paragraph")
    page_break.addElement(style.ParagraphProperties(breakbefore="page"))
    document.automaticstyles.addElement(page_break)
    headings = {}
    for level in range(1, 7):
        heading_style = style.Style(name=f"Heading_20_{level}", displayname=f"Heading {level}", family="paragraph")
        heading_style.addElement(style.TextProperties(fontweight="bold", fontsize=f"{20 - 2 * level}pt"))
        document.styles.addElement(heading_style)
        headings[level] = heading_style
    tables = 0
    for number, page in enumerate(pages):
        if number:
            document.text.addElement(text.P(stylename=page_break))
        for block in page:
            if isinstance(block, Heading):
                heading = text.H(outlinelevel=block.level, stylename=headings[block.level], text=_xml_safe(block.text))
                document.text.addElement(heading)
            elif isinstance(block, Item):
                items = text.List()
                entry = text.ListItem()
                entry.addElement(text.P(text=_xml_safe(f"{block.number} {block.text}" if block.number else block.text)))
                items.addElement(entry)
                document.text.addElement(items)
            elif isinstance(block, Table):
                tables += 1
                rows = [[_xml_safe(c) for c in row] for row in block.rows]
                document.text.addElement(fixtures_files._odf_table(f"Table{tables}", rows))
            else:
                for line in page_lines([block]):
                    document.text.addElement(text.P(text=_xml_safe(line)))
    document.meta.addElement(dc.Title(text=title))
    document.meta.addElement(dc.Language(text=lang))
    document.meta.addElement(meta.CreationDate(text=STAMP.strftime("%Y-%m-%dT%H:%M:%S")))
    buffer = io.BytesIO()
    document.write(buffer)
    path.write_bytes(normalise_zip(buffer.getvalue()))


def write_html(path: Path, title: str, lang: str, pages: list[str]) -> None:
    sections = "\n".join(
        f"<section>\n{markdown.markdown(page, extensions=['tables', 'fenced_code'])}\n</section>" for page in pages
    )
    path.write_text(
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<main>\n{sections}\n</main>\n</body>\n</html>\n",
        encoding="utf-8",
    )


def write_md(path: Path, pages: list[str]) -> None:
    path.write_text("\n\n".join(pages).rstrip() + "\n", encoding="utf-8")


def write_txt(path: Path, pages: list[list[Block]]) -> None:
    texts = []
    for page in pages:
        lines: list[str] = []
        for block in page:
            if isinstance(block, Table):
                lines += ["\t".join(row) for row in block.rows]
            else:
                lines += page_lines([block])
            lines.append("")
        texts.append("\n".join(lines).strip())
    path.write_text("\n\f\n".join(texts) + "\n", encoding="utf-8")


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: str) -> str:
    return _NOT_XML.sub(" ", value)


_DATES = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?")
_DATED_PARTS = ("docProps/core.xml", "meta.xml")


def normalise_zip(data: bytes) -> bytes:
    """The package with fixed member dates and the dates inside its metadata part set to ``STAMP``
    (the libraries write the time of saving there); member order and compression kept (ODF's ``mimetype``
    stays first and stored)."""
    iso = STAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            payload = source.read(member.filename)
            if member.filename in _DATED_PARTS:
                payload = _DATES.sub(iso, payload)
            info = zipfile.ZipInfo(member.filename, date_time=ZIP_DATE)
            info.compress_type = member.compress_type
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, payload)
    return out.getvalue()


# --- building -----------------------------------------------------------------------------------------------


def _code_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + Path(fixtures_files.__file__).read_bytes()).hexdigest()


def source_hash(entry: dict[str, Any], code: str | None = None) -> str:
    """What a built file depends on: the document's text, its title, language and format, and the builder."""
    digest = hashlib.sha256()
    for part in (code or _code_hash(), entry["id"], entry["title"], entry["lang"], entry["format"], source_text(entry)):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def render(entry: dict[str, Any], path: Path) -> None:
    """Writes one manifest entry as a file of its format at ``path``."""
    fmt, title, lang = entry["format"], entry["title"], entry["lang"]
    pages = pages_of(source_text(entry))
    if fmt == "md":
        write_md(path, pages)
    elif fmt == "html":
        write_html(path, title, lang, pages)
    else:
        parsed = [blocks(page) for page in pages]
        parsed = [page for page in parsed if page]
        writers = {"pdf": write_pdf, "docx": write_docx, "pptx": write_pptx, "xlsx": write_xlsx, "odt": write_odt}
        if fmt == "txt":
            write_txt(path, parsed)
        elif fmt in writers:
            writers[fmt](path, title, lang, parsed)
        else:
            raise ValueError(f"{entry['id']}: unknown format {fmt!r}")


def build(out_dir: Path, entries: list[dict[str, Any]] | None = None) -> list[Doc]:
    """Builds every manifest entry (both languages) into ``out_dir``; unchanged files are kept as they are."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / STATE_FILE
    try:
        state: dict[str, str] = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    code = _code_hash()
    docs: list[Doc] = []
    changed = False
    for entry in manifest() if entries is None else entries:
        if entry["format"] not in FORMATS:
            raise ValueError(f"{entry['id']}: unknown format {entry['format']!r}")
        path = out_dir / f"{entry['id']}.{entry['format']}"
        wanted = source_hash(entry, code)
        if state.get(path.name) != wanted or not path.is_file():
            partial = path.with_name(path.name + ".partial")
            render(entry, partial)
            os.replace(partial, path)
            state[path.name] = wanted
            changed = True
        docs.append(Doc(entry["id"], entry["title"], entry["lang"], path, entry["format"]))
    if changed:
        partial_state = state_path.with_name(STATE_FILE + ".partial")
        partial_state.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial_state, state_path)
    return docs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: build.py OUT_DIR", file=sys.stderr)
        return 2
    docs = build(Path(args[0]))
    print(f"{len(docs)} documents in {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
