"""Vocabularies: publishing spells a product or region as its term; admins add, rename, merge, delete and close."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb import vocabularies
from kb.errors import Conflict, NotFound, ValidationError
from kb.models import Asset, Job, VocabularyTerm
from kb.search.backend import SearchRequest
from kb.search.indexing import INDEX_JOB
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex


@pytest.fixture
def publisher(app):
    return publisher_for(app)


@pytest.fixture
def owner(make_user):
    return make_user("marketing")


def _publish(publisher, owner, n: int = 0, **overrides):
    return publisher.create_asset(owner.id, fields(owner, **overrides), text_upload(f"файл {n} {overrides}"))


def _values(db, column: str = "product") -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(getattr(Asset, column)).order_by(Asset.id)))


def _terms(db, name: str = "product") -> dict[str, int]:
    with db.session() as session:
        return {t.value: t.assets for t in vocabularies.terms(session, name)}


def _term_id(db, name: str, value: str) -> int:
    with db.session() as session:
        term = vocabularies.find(session, name, value)
        assert term is not None, value
        return term.id


def _index_jobs(db) -> list[int]:
    with db.session() as session:
        return [job.payload["asset_id"] for job in session.scalars(select(Job).where(Job.kind == INDEX_JOB))]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Насосы НВ", "насосы нв"),
        ("  насосы   НВ ", "насосы нв"),
        ("НАСОСЫ\tнв", "насосы нв"),
        ("Ёмкости", "емкости"),
        ("ёмкости", "емкости"),
        ("Straße", "strasse"),
    ],
)
def test_a_term_key_ignores_case_spaces_and_yo(typed: str, key: str) -> None:
    assert vocabularies.term_key(vocabularies.clean_value(typed)) == key


def test_publishing_spells_a_known_value_as_its_term_and_adds_new_ones(db, publisher, owner) -> None:
    _publish(publisher, owner, 1, product="Насосы НВ", region="Урал")
    _publish(publisher, owner, 2, product="  насосы   нв ", region="урал")
    _publish(publisher, owner, 3, product="Компрессоры KX", region="")
    assert _values(db) == ["Насосы НВ", "Насосы НВ", "Компрессоры KX"]
    assert _values(db, "region") == ["Урал", "Урал", ""]
    assert _terms(db) == {"Компрессоры KX": 1, "Насосы НВ": 2}
    assert _terms(db, "region") == {"Урал": 2}


def test_editing_an_asset_spells_the_product_as_its_term(db, publisher, owner) -> None:
    _publish(publisher, owner, 1, product="Насосы НВ")
    other = _publish(publisher, owner, 2, product="Задвижки ЗКС")
    publisher.update_metadata(owner.id, other.asset_id, {"product": "НАСОСЫ нв"})
    assert _values(db) == ["Насосы НВ", "Насосы НВ"]


def test_a_closed_vocabulary_refuses_a_new_value_with_the_closest_terms(db, publisher, owner) -> None:
    for n, product in enumerate(("Насосы НВ", "Насосы НВД", "Компрессоры KX", "Задвижки ЗКС")):
        _publish(publisher, owner, n, product=product)
    vocabularies.set_closed(db, "product", True)
    with pytest.raises(ValidationError) as caught:
        _publish(publisher, owner, 10, product="НВ")
    assert caught.value.field == "product" and caught.value.status == 400
    assert str(caught.value) == "“НВ” is not in the list of products. Did you mean “Насосы НВ”, “Насосы НВД”?"
    with pytest.raises(ValidationError) as caught:
        _publish(publisher, owner, 11, product="Компресоры KX")  # a typo
    assert "Did you mean “Компрессоры KX”?" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        _publish(publisher, owner, 12, product="Теплообменники")
    assert "choose one from the list or ask an admin" in str(caught.value)
    assert len(_values(db)) == 4 and len(_terms(db)) == 4  # nothing written
    _publish(publisher, owner, 13, product="насосы нв")  # a known term in another spelling is fine
    assert _values(db)[-1] == "Насосы НВ"
    _publish(publisher, owner, 14, product="", region="Урал")  # empty stays empty; regions are still open
    assert _terms(db, "region") == {"Россия": 5, "Урал": 1}
    vocabularies.set_closed(db, "product", False)
    _publish(publisher, owner, 15, product="Теплообменники")
    assert "Теплообменники" in _terms(db)


def test_the_region_refusal_names_regions(db, publisher, owner) -> None:
    _publish(publisher, owner, 1, region="Урал")
    vocabularies.set_closed(db, "region", True)
    with pytest.raises(ValidationError) as caught:
        _publish(publisher, owner, 2, region="Урал и Сибирь")
    assert caught.value.field == "region"
    assert str(caught.value) == "“Урал и Сибирь” is not in the list of regions. Did you mean “Урал”?"


def test_rename_rewrites_the_assets_and_queues_them_for_indexing(db, publisher, owner) -> None:
    first = _publish(publisher, owner, 1, product="Насосы НВ")
    second = _publish(publisher, owner, 2, product="насосы нв")
    _publish(publisher, owner, 3, product="Компрессоры KX")
    with db.transaction() as session:
        session.execute(Job.__table__.delete())  # publishing's own jobs
        before = session.get(Asset, first.asset_id).updated_at
    changed = vocabularies.rename(db, "product", _term_id(db, "product", "Насосы НВ"), "  Насосы  серии НВ ")
    assert changed == vocabularies.Change("Насосы серии НВ", 2)
    assert _values(db) == ["Насосы серии НВ", "Насосы серии НВ", "Компрессоры KX"]
    assert _terms(db) == {"Компрессоры KX": 1, "Насосы серии НВ": 2}
    assert sorted(_index_jobs(db)) == [first.asset_id, second.asset_id]
    with db.session() as session:
        assert session.get(Asset, first.asset_id).updated_at > before


def test_rename_may_respell_a_term_but_not_take_another_terms_name(db, publisher, owner) -> None:
    _publish(publisher, owner, 1, product="насосы нв")
    _publish(publisher, owner, 2, product="Компрессоры KX")
    term = _term_id(db, "product", "насосы нв")
    assert vocabularies.rename(db, "product", term, "Насосы НВ").assets == 1
    assert _values(db)[0] == "Насосы НВ"
    with pytest.raises(Conflict) as caught:
        vocabularies.rename(db, "product", term, "компрессоры kx")
    assert caught.value.status == 409 and "merge “Насосы НВ” into it instead" in str(caught.value)
    with pytest.raises(ValidationError):
        vocabularies.rename(db, "product", term, "   ")
    with pytest.raises(ValidationError):
        vocabularies.rename(db, "product", term, "Я" * 121)
    assert _values(db) == ["Насосы НВ", "Компрессоры KX"]


def test_merge_moves_the_assets_and_deletes_the_source(db, publisher, owner) -> None:
    a = _publish(publisher, owner, 1, product="НВ")
    b = _publish(publisher, owner, 2, product="Насосы НВ")
    c = _publish(publisher, owner, 3, product="НВ", region="Урал")
    with db.transaction() as session:
        session.execute(Job.__table__.delete())  # publishing's own jobs
    source, target = _term_id(db, "product", "НВ"), _term_id(db, "product", "Насосы НВ")
    assert vocabularies.merge(db, "product", source, target) == vocabularies.Change("Насосы НВ", 2)
    assert _values(db) == ["Насосы НВ"] * 3
    assert _terms(db) == {"Насосы НВ": 3}
    assert sorted(_index_jobs(db)) == [a.asset_id, c.asset_id]
    assert b.asset_id not in _index_jobs(db)
    with pytest.raises(NotFound):
        vocabularies.merge(db, "product", source, target)  # the source is gone
    with pytest.raises(ValidationError) as caught:
        vocabularies.merge(db, "product", target, target)
    assert caught.value.field == "target_id"
    region = _term_id(db, "region", "Урал")
    with pytest.raises(NotFound):
        vocabularies.merge(db, "product", region, target)  # a term of another vocabulary


def test_a_merge_reaches_the_search_facets(app, db, publisher, owner) -> None:
    _publish(publisher, owner, 1, product="НВ")
    _publish(publisher, owner, 2, product="Насосы НВ")
    worker_for(app).run_until_idle()
    index = SearchIndex(app.config["KB_SETTINGS"].index_dir)
    try:
        assert index.search(SearchRequest(text="файл")).facets["product"] == {"НВ": 1, "Насосы НВ": 1}
        vocabularies.merge(db, "product", _term_id(db, "product", "НВ"), _term_id(db, "product", "Насосы НВ"))
        worker_for(app).run_until_idle()
        assert index.search(SearchRequest(text="файл")).facets["product"] == {"Насосы НВ": 2}
    finally:
        SearchIndex.close_all()


def test_delete_removes_only_an_unused_term(db, publisher, owner) -> None:
    _publish(publisher, owner, 1, product="Насосы НВ")
    unused = vocabularies.add(db, "product", "Теплообменники ТО")
    assert unused.assets == 0
    with pytest.raises(Conflict) as caught:
        vocabularies.delete(db, "product", _term_id(db, "product", "Насосы НВ"))
    assert caught.value.status == 409 and "merge it into another term instead" in str(caught.value)
    assert vocabularies.delete(db, "product", unused.id) == "Теплообменники ТО"
    assert _terms(db) == {"Насосы НВ": 1}


def test_add_refuses_a_term_the_list_has_in_any_spelling(db) -> None:
    vocabularies.add(db, "region", "Москва")
    with pytest.raises(Conflict) as caught:
        vocabularies.add(db, "region", "  МОСКВА ")
    assert caught.value.field == "value" and "as “Москва”" in str(caught.value)
    with pytest.raises(ValidationError):
        vocabularies.add(db, "region", "")
    with pytest.raises(NotFound):
        vocabularies.add(db, "segment", "B2B")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(VocabularyTerm)) == 1


def test_lists_tell_the_forms_what_is_closed(db) -> None:
    vocabularies.add(db, "product", "Насосы НВ")
    vocabularies.add(db, "product", "Аква-Дом")
    vocabularies.set_closed(db, "region", True)
    with db.session() as session:
        found = vocabularies.lists(session)
    assert found["product"].values == ["Аква-Дом", "Насосы НВ"] and not found["product"].closed
    assert found["region"].values == [] and found["region"].closed
