"""What search reads from the database per query: freshness of the assets that are not fresh, read again only
when an asset or a flag changed, and right after every kind of change."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import event, update

from kb import feedback, reviews
from kb.models import Asset
from kb.search.signals import not_fresh, not_fresh_now
from publishing_helpers import fields, publisher_for, text_upload


def test_freshness_is_read_again_after_every_kind_of_change_and_only_then(app, db, make_user) -> None:
    owner = make_user("marketing")
    sales = make_user("sales")
    publisher = publisher_for(app)
    catalog = publisher.create_asset(owner.id, fields(owner, title="Каталог"), text_upload("текст")).asset_id
    deck = publisher.create_asset(owner.id, fields(owner, title="Презентация"), text_upload("текст")).asset_id
    today = date.today()

    def now(day: date = today) -> dict[int, str]:
        with db.session() as session:
            cached = not_fresh_now(session, day)
            assert cached == not_fresh(session, day)  # never stale
            return cached

    assert now() == {}
    flag = feedback.raise_flag(db, sales.id, catalog, "prices_outdated")
    assert now() == {catalog: "flagged"}
    feedback.dismiss_flag(db, owner.id, flag.flag_id, "цены верны")
    assert now() == {}
    with db.transaction() as session:  # a review date moved (an import, a script): the asset row changed
        session.execute(update(Asset).where(Asset.id == deck).values(next_review_on=today - timedelta(days=3)))
    assert now() == {deck: "overdue"}
    reviews.confirm_current(db, owner.id, deck)
    assert now() == {}
    assert now(today + timedelta(days=400)) == {catalog: "overdue", deck: "overdue"}  # the calendar moved on

    # Unchanged, the marks are all that is read: small queries, not the assets' review dates.
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.session() as session:
            assert not_fresh_now(session, today + timedelta(days=400)) == {catalog: "overdue", deck: "overdue"}
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert statements and not [s for s in statements if "next_review_on" in s]


def test_freshness_of_many_assets_at_once_agrees_with_one_at_a_time() -> None:
    import numpy as np

    from kb.search.signals import Signals

    signals = Signals(stale={7: "overdue", 3: "flagged", 12: "review_due", 40: "overdue"})
    ids = np.array([1, 3, 7, 8, 12, 40, 41, 3], dtype=np.int64)
    assert signals.freshness_array(ids).tolist() == [signals.freshness_of(int(i)) for i in ids]
    assert Signals().freshness_array(ids).tolist() == ["fresh"] * 8
    assert signals.freshness_array(np.zeros(0, dtype=np.int64)).tolist() == []
