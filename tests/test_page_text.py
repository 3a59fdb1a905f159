"""The asset page's text: searched words marked as search found them, sheets as tables, nothing unsafe."""

from __future__ import annotations

import re

from kb.search import marked_spans, searched_terms
from kb.web.page_text import MAX_SHEET_ROWS, marked, marked_html, sheet_table
from publishing_helpers import fields, publisher_for, text_upload, worker_for


def _marks(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", str(html))


def test_word_forms_and_codes_written_another_way_are_marked() -> None:
    text = "Насосом НВ-250/4 перекачивают воду. Насосная станция; нв 250 не путать с НВ-400."
    assert _marks(marked(text, searched_terms("насосы"))) == ["Насосом"]
    assert _marks(marked(text, searched_terms("нв250"))) == ["НВ-250/4"]  # not every "нв" and "250"
    assert _marks(marked(text, searched_terms('"насосная станция"'))) == ["Насосная", "станция"]
    assert _marks(marked(text, searched_terms("станции"))) == ["станция"]
    assert _marks(marked(text, searched_terms("вода -насос"))) == ["воду"]  # an excluded word is not marked


def test_marking_escapes_the_text_around_the_marks() -> None:
    html = str(marked("<script>alert(1)</script> насос & Co", searched_terms("насос")))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Co" in html
    assert _marks(html) == ["насос"]


def test_a_pasted_long_text_marks_nothing() -> None:
    long_text = " ".join(f"слово{n} насос" for n in range(40))
    assert searched_terms(long_text) == frozenset()
    assert str(marked("насос", searched_terms(long_text))) == "насос"


def test_marks_in_rendered_markdown_stay_out_of_tags_attributes_and_code() -> None:
    fragment = '<p><a href="/pump/насос" title="насос">Насосы</a> и <code>насос</code> &amp; насос</p>'
    html = str(marked_html(fragment, searched_terms("насос")))
    assert 'href="/pump/насос"' in html and 'title="насос"' in html  # attributes untouched
    assert "<code>насос</code>" in html
    assert _marks(html) == ["Насосы", "насос"] and "&amp; <mark>" in html


def test_a_sheet_is_a_table_padded_to_its_widest_row_and_cut_at_a_limit() -> None:
    table = sheet_table("Модель\tПодача\tЦена\nНВ-250\t250\nНВ-400\t400\t1 200 000\n\n")
    assert table.width == 3 and [[str(c) for c in row] for row in table.rows][1] == ["НВ-250", "250", ""]
    big = sheet_table("\n".join(f"{n}\tстрока" for n in range(MAX_SHEET_ROWS + 5)))
    assert len(big.rows) == MAX_SHEET_ROWS and big.more_rows == 5
    marked_table = sheet_table("Модель\tНасос\nНВ-250\tнасосы", searched_terms("насос"))
    assert [str(c) for c in marked_table.rows[1]] == ["НВ-250", "<mark>насосы</mark>"]


def test_spans_follow_the_text() -> None:
    text = "насос, насосы и насосная"
    assert [text[a:b] for a, b in marked_spans(text, searched_terms("насосы"))] == ["насос", "насосы"]


def test_the_asset_page_opened_from_a_search_marks_the_searched_words(app, make_user, tmp_path) -> None:
    from conftest import Auth
    from fixtures_files import make_xlsx
    from kb.publishing import FileUpload

    owner = make_user("marketing")
    publisher = publisher_for(app)
    note = publisher.create_asset(owner.id, fields(owner, title="Памятка"), text_upload("# Памятка\n\nНасосом качают."))
    path = make_xlsx(tmp_path / "prices.xlsx", {"Цены": [["Модель", "Цена"], ["НВ-250 насос", 120000], ["КХ-200", 90]]})
    with path.open("rb") as handle:
        sheet = publisher.create_asset(owner.id, fields(owner, title="Прайс"), FileUpload(handle, "prices.xlsx"))
    worker_for(app).run_until_idle()
    sales = make_user("sales")
    client = app.test_client()
    Auth(client).login(sales.email)
    results = client.get("/search?q=насосы").get_data(as_text=True)
    link = re.search(rf'href="(/assets/{note.asset_id}\?s=[\w-]+)"', results).group(1)
    page = client.get(link).get_data(as_text=True)
    assert "<mark>Насосом</mark>" in page and "The words you searched for are marked" in page
    assert "<mark>" not in client.get(f"/assets/{note.asset_id}").get_data(as_text=True)
    sheet_link = re.search(rf'href="(/assets/{sheet.asset_id}\?[^"]*s=[\w-]+[^"]*)"', results).group(1)
    sheet_page = client.get(sheet_link.replace("&amp;", "&")).get_data(as_text=True)
    assert '<table class="sheet">' in sheet_page and "<td>Модель</td><td>Цена</td>" in sheet_page
    assert "<td>НВ-250 <mark>насос</mark></td>" in sheet_page and "\tЦена" not in sheet_page
    # Someone else's search key marks nothing, and counts as no click of theirs
    other = app.test_client()
    Auth(other).login(make_user("sales").email)
    assert "<mark>" not in other.get(link).get_data(as_text=True)
    assert other.get(f"/assets/{note.asset_id}?s=abc").status_code == 200
