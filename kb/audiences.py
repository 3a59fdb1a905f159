"""Audiences: named groups of people an asset may be restricted to, and who may therefore see which asset.

An asset restricted to no audience is for everyone (as far as its status allows). An asset restricted to one or
more audiences exists only for their members, its owner and administrators: everyone else, marketing included,
finds it nowhere (``visible_condition`` for SQL, ``search_scope`` for the index, ``may_see`` for one asset).
Members are kept by administrators (local membership) or come from directory groups (``KB_LDAP_AUDIENCE_GROUPS``),
replaced at each directory sign-in and ``kb users sync``; the two kinds are separate rows, so neither undoes the
other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, true
from sqlalchemy.orm import Session

from kb.db import Database
from kb.errors import N_, Conflict, NotFound, ValidationError
from kb.models import Asset, AssetAudience, Audience, AudienceMember, MembershipSource, Role, User

#: The index key of an asset for everyone (restricted assets carry their audiences' ids instead).
EVERYONE = "everyone"
MAX_NAME = 120
MAX_DESCRIPTION = 1000
#: Characters an audience name may not hold: they separate KB_LDAP_AUDIENCE_GROUPS entries.
_RESERVED = frozenset("=;")


class Viewer(Protocol):
    """Whoever is looking: a user row, or the signed-in person (``kb.web.auth.Principal``)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Any: ...


def sees_everything(viewer: Viewer) -> bool:
    """Administrators see every asset whatever its audience."""
    return Role(viewer.role) == Role.ADMIN


def visible_condition(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on ``Asset``: the asset is for everyone, or the viewer owns it, is in one of its audiences,
    or is an administrator. (Status is another rule: ``kb.assets.visible_assets``.)"""
    if sees_everything(viewer):
        return true()
    member_of = (
        select(AssetAudience.asset_id)
        .join(AudienceMember, AudienceMember.audience_id == AssetAudience.audience_id)
        .where(AudienceMember.user_id == viewer.id)
    )
    return or_(
        ~exists().where(AssetAudience.asset_id == Asset.id),
        Asset.owner_id == viewer.id,
        Asset.id.in_(member_of),
    )


def visible_asset_ids(viewer: Viewer) -> Any:
    """A subquery of the ids of the assets the viewer may see as far as audiences go (any status)."""
    return select(Asset.id).where(visible_condition(viewer))


def may_see(session: Session, viewer: Viewer, asset_id: int) -> bool:
    """Whether the viewer may see the asset as far as audiences go (an unknown asset: no)."""
    return session.scalar(select(Asset.id).where(Asset.id == asset_id, visible_condition(viewer))) is not None


def member_audience_ids(session: Session, user_id: int) -> set[int]:
    return set(session.scalars(select(AudienceMember.audience_id).where(AudienceMember.user_id == user_id)))


@dataclass(frozen=True)
class SearchScope:
    """What a search may find as far as audiences go: index keys (None: all), and the viewer's own assets."""

    audiences: tuple[str, ...] | None
    owner_id: int | None


def search_scope(session: Session, viewer: Viewer) -> SearchScope:
    if sees_everything(viewer):
        return SearchScope(audiences=None, owner_id=None)
    keys = (EVERYONE, *(str(i) for i in sorted(member_audience_ids(session, viewer.id))))
    return SearchScope(audiences=keys, owner_id=viewer.id)


def index_keys(audience_ids: Iterable[int]) -> list[str]:
    """The index keys of an asset restricted to ``audience_ids`` (none: everyone)."""
    ids = sorted(set(audience_ids))
    return [str(i) for i in ids] if ids else [EVERYONE]


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceSummary:
    id: int
    name: str
    description: str
    members: int
    assets: int


def all_audiences(session: Session) -> list[Audience]:
    return sorted(session.scalars(select(Audience)), key=lambda a: a.name.casefold())


def summaries(session: Session) -> list[AudienceSummary]:
    """Every audience with how many people are in it and how many assets are restricted to it."""
    members = dict(
        session.execute(
            select(AudienceMember.audience_id, func.count(func.distinct(AudienceMember.user_id))).group_by(
                AudienceMember.audience_id
            )
        ).all()
    )
    assets = dict(
        session.execute(select(AssetAudience.audience_id, func.count()).group_by(AssetAudience.audience_id)).all()
    )
    return [
        AudienceSummary(a.id, a.name, a.description, int(members.get(a.id, 0)), int(assets.get(a.id, 0)))
        for a in all_audiences(session)
    ]


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    display_name: str
    sources: tuple[str, ...]


def members(session: Session, audience_id: int) -> list[Member]:
    """The people in an audience, each with how they came to be in it (local, directory or both)."""
    rows = session.execute(
        select(User.id, User.email, User.display_name, AudienceMember.source)
        .join(AudienceMember, AudienceMember.user_id == User.id)
        .where(AudienceMember.audience_id == audience_id)
        .order_by(User.display_name, User.id, AudienceMember.source)
    ).all()
    found: dict[int, Member] = {}
    for user_id, email, name, source in rows:
        known = found.get(user_id)
        sources = (*known.sources, str(source)) if known else (str(source),)
        found[user_id] = Member(user_id, email, name, sources)
    return list(found.values())


def get_audience(session: Session, audience_id: int) -> Audience:
    audience = session.get(Audience, audience_id)
    if audience is None:
        raise NotFound(N_("No such audience."))
    return audience


def find_by_name(session: Session, name: str) -> Audience | None:
    wanted = " ".join(name.split()).casefold()
    return next((a for a in session.scalars(select(Audience)) if a.name.casefold() == wanted), None)


def parse_ids(session: Session, values: Iterable[object], field: str = "audiences") -> list[int]:
    """Audience ids from a form or the API (numbers, or numeric strings), each checked to exist."""
    ids: list[int] = []
    for value in values:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
            raise ValidationError(N_("Audiences are given by their numbers."), field=field)
        if value not in ids:
            ids.append(value)
    known = set(session.scalars(select(Audience.id).where(Audience.id.in_(ids)))) if ids else set()
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValidationError(N_("There is no audience number %(id)s."), field=field, id=unknown[0])
    return sorted(ids)


# --- changing ------------------------------------------------------------------------------------------------


def _name(name: str) -> str:
    clean = " ".join((name or "").replace("\x00", "").split())
    if not clean:
        raise ValidationError(N_("Give the audience a name."), field="name")
    if len(clean) > MAX_NAME:
        raise ValidationError(N_("At most %(n)s characters."), field="name", n=MAX_NAME)
    if any(c in _RESERVED for c in clean):
        raise ValidationError(N_("An audience name may not contain = or ;."), field="name")
    return clean


def create(session: Session, name: str, description: str = "") -> Audience:
    """A new audience in the caller's transaction; ``Conflict`` when the name is taken (whatever its case)."""
    clean = _name(name)
    text = (description or "").replace("\x00", "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise ValidationError(N_("At most %(n)s characters."), field="description", n=MAX_DESCRIPTION)
    if find_by_name(session, clean) is not None:
        raise Conflict(N_("There is already an audience named %(name)s."), field="name", name=clean)
    audience = Audience(name=clean, description=text)
    session.add(audience)
    session.flush()
    return audience


def create_audience(db: Database, name: str, description: str = "") -> int:
    with db.transaction() as session:
        return create(session, name, description).id


def delete_audience(db: Database, audience_id: int) -> list[int]:
    """Deletes an audience; its assets lose that restriction (those restricted to it alone become everyone's).
    Returns the ids of the assets whose audiences changed, for re-indexing (done here)."""
    from kb.search.indexing import enqueue_index

    with db.transaction() as session:
        audience = get_audience(session, audience_id)
        assets = list(session.scalars(select(AssetAudience.asset_id).where(AssetAudience.audience_id == audience_id)))
        session.delete(audience)
        session.flush()
        for asset_id in assets:
            _touch(session, asset_id)
            enqueue_index(session, asset_id)
        return assets


def _touch(session: Session, asset_id: int) -> None:
    from kb.models import utcnow

    asset = session.get(Asset, asset_id)
    if asset is not None:
        session.expire(asset, ["audience_links"])
        asset.updated_at = utcnow()


def add_member(db: Database, audience_id: int, email: str) -> User:
    """Adds a person (by e-mail) to an audience as a local member; adding someone already in it is a no-op."""
    from kb.accounts import find_user

    with db.transaction() as session:
        get_audience(session, audience_id)
        user = find_user(session, email or "")
        if user is None:
            raise ValidationError(N_("No account has the e-mail %(email)s."), field="email", email=(email or "")[:254])
        key = (audience_id, user.id, MembershipSource.LOCAL)
        if session.get(AudienceMember, key) is None:
            session.add(AudienceMember(audience_id=audience_id, user_id=user.id, source=MembershipSource.LOCAL))
        return user


def remove_member(db: Database, audience_id: int, user_id: int) -> bool:
    """Removes a person's local membership of an audience (a directory membership follows the directory);
    returns whether there was one."""
    with db.transaction() as session:
        get_audience(session, audience_id)
        removed = session.execute(
            delete(AudienceMember).where(
                AudienceMember.audience_id == audience_id,
                AudienceMember.user_id == user_id,
                AudienceMember.source == MembershipSource.LOCAL,
            )
        ).rowcount
        return bool(removed)


def set_asset_audiences(session: Session, asset: Asset, audience_ids: list[int]) -> bool:
    """Restricts the asset to exactly these (checked) audiences, none: everyone; returns whether that changed.
    The caller re-indexes the asset."""
    present = {link.audience_id: link for link in asset.audience_links}
    if set(present) == set(audience_ids):
        return False
    for audience_id, link in present.items():
        if audience_id not in audience_ids:
            asset.audience_links.remove(link)
    for audience_id in audience_ids:
        if audience_id not in present:
            asset.audience_links.append(AssetAudience(audience_id=audience_id))
    return True


def sync_directory_membership(session: Session, user_id: int, names: set[str]) -> list[str]:
    """Makes the person's directory memberships exactly the audiences ``names`` (creating an audience the
    settings name that does not exist yet); local memberships stay. Returns what changed, for the sync report."""
    wanted: set[int] = set()
    for name in sorted(names):
        audience = find_by_name(session, name) or create(session, name)
        wanted.add(audience.id)
    present = set(
        session.scalars(
            select(AudienceMember.audience_id).where(
                AudienceMember.user_id == user_id, AudienceMember.source == MembershipSource.DIRECTORY
            )
        )
    )
    if wanted == present:
        return []
    session.execute(
        delete(AudienceMember).where(
            and_(
                AudienceMember.user_id == user_id,
                AudienceMember.source == MembershipSource.DIRECTORY,
                AudienceMember.audience_id.in_(present - wanted),
            )
        )
    )
    for audience_id in sorted(wanted - present):
        session.add(AudienceMember(audience_id=audience_id, user_id=user_id, source=MembershipSource.DIRECTORY))
    session.flush()
    by_id = {a.id: a.name for a in session.scalars(select(Audience).where(Audience.id.in_(wanted | present)))}
    added = sorted(by_id[i] for i in wanted - present)
    removed = sorted(by_id.get(i, str(i)) for i in present - wanted)
    return [f"audience +{n}" for n in added] + [f"audience -{n}" for n in removed]
