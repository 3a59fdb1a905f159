"""Synonyms marketing keeps: the domain rules, the API, the CLI, and that search applies them without a re-index."""

from __future__ import annotations

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
