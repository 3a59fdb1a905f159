"""Synonyms marketing keeps: the domain rules, the API, the CLI, and that search applies them without a re-index."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import accounts, synonyms
from kb.cli import main
from kb.errors import Forbidden, ValidationError
from kb.search.planner import Synonyms, plan
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex


def test_a_group_needs_two_usable_entries_and_drops_repeats() -> None:
    assert synonyms.clean_entries(["ТКП", " коммерческое   предложение ", "ткп", ""]) == [
        "ТКП",
        "коммерческое предложение",
    ]
    for bad in (["ТКП"], ["ТКП", "ткп"], ["и", "ТКП"], ["x" * 101, "ТКП"], [str(n) for n in range(30)]):
        with pytest.raises(ValidationError):
            synonyms.clean_entries(bad)


def test_a_multi_word_entry_matches_its_words_in_the_query() -> None:
    table = Synonyms([["ТКП", "коммерческое предложение"]])
    (concept,) = plan("коммерческое предложение", table).concepts
    assert {c.terms for c in concept.clauses} == {("коммерческ", "предложен"), ("ткп",)}
    typed = plan("ткп насосы", table).concepts
    assert [c.label for c in typed] == ["ткп", "насосы"] and len(typed[0].clauses) == 2


def test_only_marketing_keeps_synonyms(db, make_user) -> None:
    seller = make_user("sales")
    with pytest.raises(Forbidden):
        synonyms.add(db, seller.id, ["ТКП", "КП"])


def test_the_api_adds_a_group_and_the_next_search_uses_it(app, db, make_user, client) -> None:
    owner = make_user("marketing")
    publisher_for(app).create_asset(
        owner.id, fields(owner, title="Шаблон"), text_upload("Технико-коммерческое предложение на поставку насосов")
    )
    worker_for(app).run_until_idle()
    headers = {"Authorization": f"Bearer {accounts.create_token(db, owner.id, 't').secret}"}
    try:
        assert client.get("/api/v1/search?q=ткп", headers=headers).json["total"] == 0
        added = client.post("/api/v1/synonyms", json={"terms": ["ТКП", "технико-коммерческое предложение"]},
                            headers=headers)  # fmt: skip
        assert added.status_code == 201 and added.json["terms"] == ["ТКП", "технико-коммерческое предложение"]
        assert client.get("/api/v1/search?q=ткп", headers=headers).json["total"] == 1  # no re-index in between
        bad = client.post("/api/v1/synonyms", json={"terms": ["ТКП"]}, headers=headers)
        assert bad.status_code == 400 and "two different entries" in bad.json["error"]["message"]
        assert client.post("/api/v1/synonyms", data="x", headers=headers).status_code == 400
        assert client.delete("/api/v1/synonyms/999", headers=headers).status_code == 404
        exported = client.get("/api/v1/synonyms.csv", headers=headers).get_data(as_text=True)
        assert exported.startswith("\ufeffТКП,технико-коммерческое предложение")
        garbage = client.post("/api/v1/synonyms/import", data=b"\xff\xfe\x00x", headers=headers)
        assert garbage.status_code == 400
        assert len(client.get("/api/v1/synonyms", headers=headers).json["groups"]) == 1  # nothing half-written
    finally:
        SearchIndex.close_all()


def test_cli_imports_exports_and_loads_the_starter_list(app, db, make_user, instance_dir, monkeypatch,
                                                       tmp_path: Path) -> None:  # fmt: skip
    from conftest import SECRET_KEY

    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)
    owner = make_user("marketing")
    runner = CliRunner()
    started = runner.invoke(main, ["synonyms", "starter", "--as", owner.email])
    assert started.exit_code == 0 and f"added {len(synonyms.STARTER)} starter group(s)" in started.output
    again = runner.invoke(main, ["synonyms", "starter", "--as", owner.email])
    assert "added 0 starter group(s)" in again.output  # idempotent
    out = tmp_path / "groups.csv"
    assert runner.invoke(main, ["synonyms", "export", str(out)]).exit_code == 0
    assert "ТКП" in out.read_text(encoding="utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text("ТКП;КП\nодно\n", encoding="utf-8")
    failed = runner.invoke(main, ["synonyms", "import", str(broken), "--as", owner.email])
    assert failed.exit_code != 0 and "Row 2" in failed.output
    good = tmp_path / "good.csv"
    good.write_text("\ufeffдатчик;сенсор;sensor\n", encoding="utf-8")
    imported = runner.invoke(main, ["synonyms", "import", str(good), "--as", owner.email, "--replace"])
    assert imported.exit_code == 0 and "imported 1 new group(s) of 1" in imported.output
    with db.session() as session:
        assert [g.entries for g in synonyms.groups(session)] == [["датчик", "сенсор", "sensor"]]


GROUPS = (
    ["ТКП", "коммерческое предложение, КП"],
    ["прайс; цены", 'прайс "основной"', "=цены"],
    ["СИМ", "SIM"],
)


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_the_csv_round_trips_entries_holding_either_delimiter(db, make_user, delimiter) -> None:
    owner = make_user("marketing")
    for entries in GROUPS:
        synonyms.add(db, owner.id, entries)
    with db.session() as session:
        exported = synonyms.export_csv(session, delimiter)
    assert exported.startswith("\ufeffТКП" + delimiter)
    assert synonyms.parse_csv(exported.encode("utf-8")) == [list(g) for g in GROUPS]
    # A file saved by Russian Excel quotes only what holds a ';': the commas inside an entry do not mislead.
    assert synonyms.parse_csv("ТКП;коммерческое предложение, КП\n".encode()) == [list(GROUPS[0])]


def test_the_page_exports_with_the_delimiter_the_readers_excel_expects(client, auth, db, make_user) -> None:
    russian = make_user("marketing", preferred_language="ru")
    synonyms.add(db, russian.id, GROUPS[0])
    auth.login(russian.email)
    exported = client.get("/synonyms/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.get_data().decode("utf-8") == '\ufeffТКП;"коммерческое предложение, КП"\n'
    assert client.get("/synonyms/export.csv?delimiter=,").get_data().decode("utf-8").startswith("\ufeffТКП,")
    bad = client.get("/synonyms/export.csv?delimiter=tab")
    assert bad.status_code == 400 and "Разделитель" in bad.get_data(as_text=True)
    headers = {"Authorization": f"Bearer {accounts.create_token(db, russian.id, 't').secret}"}
    api = client.get("/api/v1/synonyms.csv", headers=headers).get_data().decode("utf-8")
    assert api == '\ufeffТКП,"коммерческое предложение, КП"\n'  # programs keep the comma unless they ask
    assert client.get("/api/v1/synonyms.csv?delimiter=;", headers=headers).get_data().decode().startswith("\ufeffТКП;")


def _csrf(client, path: str = "/synonyms") -> str:
    return client.get(path).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]


def test_the_page_adds_edits_and_removes_groups_and_says_what_is_wrong(signed_in, client, db) -> None:
    signed_in("marketing")
    token = _csrf(client)
    added = client.post("/synonyms", data={"terms": "ТКП\nкоммерческое предложение", "csrf_token": token})
    assert added.status_code == 302
    page = client.get("/synonyms").get_data(as_text=True)
    assert "коммерческое предложение" in page and "1 group" in page
    refused = client.post("/synonyms", data={"terms": "ТКП", "csrf_token": token})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "at least two different entries" in html and ">ТКП</textarea>" in html
    with db.session() as session:
        (group,) = synonyms.groups(session)
    edited = client.post(f"/synonyms/{group.id}", data={"terms": "ТКП, КП", "note": "", "csrf_token": token})
    assert edited.status_code == 302
    with db.session() as session:
        assert [g.entries for g in synonyms.groups(session)] == [["ТКП", "КП"]]
    bad_file = client.post(
        "/synonyms/import", data={"file": (io.BytesIO(b"\x00\x01binary"), "x.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert bad_file.status_code == 400 and "not a CSV text file" in bad_file.get_data(as_text=True)
    removed = client.post(f"/synonyms/{group.id}", data={"delete": "1", "csrf_token": token})
    assert removed.status_code == 302
    assert client.post("/synonyms/999", data={"delete": "1", "csrf_token": token}).status_code == 404


def test_sales_cannot_open_the_page_and_analytics_links_gaps_to_it(signed_in, client) -> None:
    signed_in("sales")
    assert client.get("/synonyms").status_code == 403


def test_a_content_gap_offers_to_add_a_synonym(app, signed_in, client) -> None:
    signed_in("marketing")
    client.get("/search?q=ткп")  # a search with no result: a gap
    html = client.get("/reports/content").get_data(as_text=True)
    assert "Add a synonym" in html and "/synonyms?add=" in html
    assert ">ткп</textarea>" in client.get("/synonyms?add=ткп").get_data(as_text=True)
