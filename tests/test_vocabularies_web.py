"""The vocabularies page (admins) and the vocabularies in the API and the command line."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from conftest import SECRET_KEY, csrf_from
from kb import accounts, vocabularies
from kb.cli import main
from kb.models import Asset
from publishing_helpers import fields, publisher_for, text_upload

PAGE = "/admin/vocabularies"


def _publish(app, owner, n: int, **overrides):
    return publisher_for(app).create_asset(owner.id, fields(owner, **overrides), text_upload(f"файл {n}"))


def _term_id(db, name: str, value: str) -> int:
    with db.session() as session:
        term = vocabularies.find(session, name, value)
        assert term is not None
        return term.id


def _products(db) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Asset.product).order_by(Asset.id)))


def _row(html: str, term_id: int) -> str:
    start = html.index(f'id="term-{term_id}"')
    return html[start : html.index("</tr>", start)]


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_only_admins_reach_the_page(signed_in, client, role: str) -> None:
    signed_in(role)
    assert client.get(PAGE).status_code == 403
    assert "Vocabularies" not in client.get("/").get_data(as_text=True)


def test_the_page_lists_both_vocabularies_with_counts(app, signed_in, client, make_user) -> None:
    signed_in("admin")
    owner = make_user("marketing")
    _publish(app, owner, 1, product="Насосы НВ", region="Урал")
    _publish(app, owner, 2, product="насосы нв", region="Урал")
    _publish(app, owner, 3, product="Компрессоры KX", region="Россия")
    home = client.get("/").get_data(as_text=True)
    assert f'href="{PAGE}"' in home
    html = client.get(PAGE).get_data(as_text=True)
    products = html[html.index('id="product"') : html.index('id="region"')]
    assert 'Products <span class="count">· 2</span>' in products
    assert re.search(r"<td>Насосы НВ</td>\s*<td[^>]*>2</td>", products)
    assert re.search(r"<td>Компрессоры KX</td>\s*<td[^>]*>1</td>", products)
    assert "Marketing may add new values" in products and "Only values from this list" in products
    assert re.search(r'value="0" checked', products)  # open by default
    regions = html[html.index('id="region"') :]
    assert re.search(r"<td>Урал</td>\s*<td[^>]*>2</td>", regions)
    assert "Segments are a fixed list: B2B, B2C, B2G." in html


def test_admin_adds_renames_merges_deletes_and_closes(app, db, signed_in, client, make_user) -> None:
    signed_in("admin")
    owner = make_user("marketing")
    _publish(app, owner, 1, product="НВ")
    _publish(app, owner, 2, product="Насосы НВ")
    token = csrf_from(client.get(PAGE).get_data(as_text=True))

    added = client.post(f"{PAGE}/product", data={"csrf_token": token, "value": "  Теплообменники   ТО "})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"{PAGE}#product")
    assert "“Теплообменники ТО” is added to the list." in client.get(PAGE).get_data(as_text=True)

    short = _term_id(db, "product", "НВ")
    renamed = client.post(f"{PAGE}/product/{short}/rename", data={"csrf_token": token, "value": "Насосы серии НВ"})
    assert renamed.status_code == 302
    assert "Renamed to “Насосы серии НВ”; 1 asset changed with it." in client.get(PAGE).get_data(as_text=True)
    assert _products(db) == ["Насосы серии НВ", "Насосы НВ"]

    target = _term_id(db, "product", "Насосы НВ")
    merged = client.post(
        f"{PAGE}/product/merge", data={"csrf_token": token, "source_id": str(short), "target_id": str(target)}
    )
    assert merged.status_code == 302
    assert "Merged into “Насосы НВ”; 1 asset moved to it." in client.get(PAGE).get_data(as_text=True)
    assert _products(db) == ["Насосы НВ", "Насосы НВ"]

    unused = _term_id(db, "product", "теплообменники то")
    deleted = client.post(f"{PAGE}/product/{unused}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    with db.session() as session:
        assert [t.value for t in vocabularies.terms(session, "product")] == ["Насосы НВ"]

    closed = client.post(f"{PAGE}/product/closed", data={"csrf_token": token, "closed": "1"})
    assert closed.status_code == 302
    html = client.get(PAGE).get_data(as_text=True)
    assert "publishing now accepts only values from this list" in html
    with db.session() as session:
        assert vocabularies.is_closed(session, "product") and not vocabularies.is_closed(session, "region")
    client.post(f"{PAGE}/product/closed", data={"csrf_token": token, "closed": "0"})
    with db.session() as session:
        assert not vocabularies.is_closed(session, "product")


def test_refusals_stand_beside_their_form_with_what_was_typed(app, db, signed_in, client, make_user) -> None:
    signed_in("admin")
    owner = make_user("marketing")
    _publish(app, owner, 1, product="Насосы НВ")
    _publish(app, owner, 2, product="Компрессоры KX")
    token = csrf_from(client.get(PAGE).get_data(as_text=True))

    taken = client.post(f"{PAGE}/product", data={"csrf_token": token, "value": "НАСОСЫ нв"})
    assert taken.status_code == 409
    html = taken.get_data(as_text=True)
    add_form = html[html.index('id="add-product"') - 300 : html.index('id="region"')]
    assert "The list has it already, as “Насосы НВ”." in add_form and 'value="НАСОСЫ нв"' in add_form

    pumps = _term_id(db, "product", "Насосы НВ")
    clash = client.post(f"{PAGE}/product/{pumps}/rename", data={"csrf_token": token, "value": "компрессоры kx"})
    assert clash.status_code == 409
    row = _row(clash.get_data(as_text=True), pumps)
    assert '<details class="confirm" open>' in row and "merge “Насосы НВ” into it instead" in row
    assert 'value="компрессоры kx"' in row

    used = client.post(f"{PAGE}/product/{pumps}/delete", data={"csrf_token": token})
    assert used.status_code == 409
    assert "Assets carry “Насосы НВ”: merge it into another term instead" in _row(used.get_data(as_text=True), pumps)

    same = client.post(
        f"{PAGE}/product/merge", data={"csrf_token": token, "source_id": str(pumps), "target_id": str(pumps)}
    )
    assert same.status_code == 400 and "Choose another term to merge into." in same.get_data(as_text=True)
    bad = client.post(f"{PAGE}/product/merge", data={"csrf_token": token, "source_id": "x", "target_id": "1"})
    assert bad.status_code == 400 and "Choose a term from the list." in bad.get_data(as_text=True)

    gone = client.post(f"{PAGE}/product/999999/rename", data={"csrf_token": token, "value": "X"})
    assert gone.status_code == 404 and "No such term" in gone.get_data(as_text=True)
    assert client.post(f"{PAGE}/segment", data={"csrf_token": token, "value": "B2X"}).status_code == 404
    assert client.post(f"{PAGE}/product", data={"value": "Без токена"}).status_code == 400  # CSRF
    assert _products(db) == ["Насосы НВ", "Компрессоры KX"]
    with db.session() as session:
        assert len(vocabularies.terms(session, "product")) == 2


def test_the_page_reads_in_russian(signed_in, client, db) -> None:
    admin = signed_in("admin")
    accounts.update_profile(db, admin.id, language="ru")
    vocabularies.add(db, "region", "Урал")
    html = client.get(PAGE).get_data(as_text=True)
    assert "Справочники" in html and "Только значения из списка" in html and "Маркетинг может добавлять" in html


# --- API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def token_headers(make_user, db):
    def headers(role: str) -> dict[str, str]:
        user = make_user(role)
        return {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'test').secret}"}

    return headers


def test_api_lists_the_vocabularies_for_anyone_signed_in(app, db, client, token_headers, make_user) -> None:
    owner = make_user("marketing")
    _publish(app, owner, 1, product="Насосы НВ", region="Урал")
    vocabularies.add(db, "product", "Аква-Дом")
    vocabularies.set_closed(db, "product", True)
    body = client.get("/api/v1/vocabularies", headers=token_headers("sales")).json
    assert body == {
        "vocabularies": [
            {"name": "product", "closed": True, "terms": ["Аква-Дом", "Насосы НВ"]},
            {"name": "region", "closed": False, "terms": ["Урал"]},
        ]
    }
    assert client.get("/api/v1/vocabularies").status_code == 401


def test_api_refuses_a_value_a_closed_list_lacks_with_the_field(app, db, client, token_headers, make_user) -> None:
    import io

    owner = make_user("marketing")
    existing = _publish(app, owner, 1, product="Насосы НВ")
    vocabularies.set_closed(db, "product", True)
    headers = token_headers("marketing")
    data = {"title": "Прайс", "kind": "catalog", "product": "НВ", "file": (io.BytesIO(b"# x"), "x.md")}
    created = client.post("/api/v1/assets", data=data, headers=headers, content_type="multipart/form-data")
    assert created.status_code == 400
    error = created.json["error"]
    assert error["field"] == "product" and "Did you mean “Насосы НВ”?" in error["message"]
    patched = client.patch(f"/api/v1/assets/{existing.asset_id}", json={"product": "Насосы"}, headers=headers)
    assert patched.status_code == 400 and patched.json["error"]["field"] == "product"
    respelt = client.patch(f"/api/v1/assets/{existing.asset_id}", json={"product": "насосы  нв"}, headers=headers)
    assert respelt.status_code == 200 and respelt.json["product"] == "Насосы НВ"


# --- command line ------------------------------------------------------------------------------------------


def _kb(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_lists_adds_merges_closes_and_opens(app, db, make_user, instance_dir, monkeypatch) -> None:
    for name in ("KB_DATABASE_URL", "KB_SEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)
    owner = make_user("marketing")
    _publish(app, owner, 1, product="НВ", region="Урал")
    _publish(app, owner, 2, product="Насосы НВ")

    added = _kb("vocab", "add", "product", "  Аква-Дом ")
    assert added.exit_code == 0 and "added “Аква-Дом” to product" in added.output
    listing = _kb("vocab", "list").output
    assert listing == "product (open)\n  Аква-Дом\t0\n  Насосы НВ\t1\n  НВ\t1\nregion (open)\n  Россия\t1\n  Урал\t1\n"

    merged = _kb("vocab", "merge", "product", "нв", "насосы нв")
    assert merged.exit_code == 0 and "merged “НВ” into “Насосы НВ”: 1 asset(s) moved" in merged.output
    assert _products(db) == ["Насосы НВ", "Насосы НВ"]

    assert _kb("vocab", "close", "product").exit_code == 0
    assert "product (closed)" in _kb("vocab", "list", "product").output
    assert _kb("vocab", "open", "product").exit_code == 0
    assert "product (open)" in _kb("vocab", "list").output

    renamed = _kb("vocab", "rename", "region", "урал", "Урал и Пермь")
    assert renamed.exit_code == 0 and "1 asset(s) changed" in renamed.output
    assert _kb("vocab", "delete", "product", "Аква-Дом").exit_code == 0

    missing = _kb("vocab", "merge", "product", "Нет такого", "Насосы НВ")
    assert missing.exit_code == 1 and "no term “Нет такого” in product" in missing.output
    used = _kb("vocab", "delete", "product", "Насосы НВ")
    assert used.exit_code == 1 and "merge it into another term instead" in used.output
    taken = _kb("vocab", "add", "product", "насосы нв")
    assert taken.exit_code == 1 and "The list has it already" in taken.output
    assert _kb("vocab", "list", "segment").exit_code == 2  # not a vocabulary
