"""Administration (admin role): users and roles, and the background jobs that failed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from kb import accounts
from kb import jobs as background_jobs
from kb.errors import N_, DomainError, ValidationError
from kb.models import Asset, Role
from kb.web.access import requires
from kb.web.context import db_session, get_db, get_publisher
from kb.web.forms import attach_error
from kb.web.templating import role_label

bp = Blueprint("admin", __name__, url_prefix="/admin")


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, role_label(role)) for role in Role]


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    display_name = StringField(_l("Name"), validators=[Length(max=120)])
    role = SelectField(_l("Role"), default=Role.SALES)
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(min=accounts.PASSWORD_MIN_LENGTH, max=accounts.PASSWORD_MAX_LENGTH)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices()


def _render(form: UserForm | None = None, status: int = 200, **shown: Any) -> Any:
    session = db_session()
    everyone = accounts.list_users(session)
    wanted = (request.args.get("q") or "").strip().lower()[:200]
    listed = [u for u in everyone if wanted in u.email or wanted in u.display_name.lower()] if wanted else everyone
    owned = dict(session.execute(select(Asset.owner_id, func.count()).group_by(Asset.owner_id)).all())
    receivers = [u for u in everyone if u.active and Role(u.role).includes(Role.MARKETING)]
    return (
        render_template(
            "admin/users.html",
            users=listed,
            wanted=wanted,
            total=len(everyone),
            owned=owned,
            receivers=receivers,
            form=form or UserForm(formdata=None),
            roles=role_choices(),
            **shown,
        ),
        status,
    )


@bp.get("/users")
@requires(Role.ADMIN)
def users() -> Any:
    return _render()


@bp.post("/users")
@requires(Role.ADMIN)
def create_user() -> Any:
    form = UserForm()
    if not form.validate():
        return _render(form, 400)
    try:
        user = accounts.create_user(
            get_db(),
            form.email.data or "",
            form.password.data or "",
            form.role.data or "",
            form.display_name.data or "",
        )
    except DomainError as exc:
        attach_error(form, exc)
        return _render(form, exc.status)
    flash(_("User %(email)s created.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
@requires(Role.ADMIN)
def set_role(user_id: int) -> Any:
    user = accounts.set_role(get_db(), user_id, request.form.get("role", ""))
    flash(_("%(email)s now has the %(role)s role.", email=user.email, role=role_label(user.role)), "success")
    return redirect(url_for("admin.users"))


def _hand_over(user_id: int) -> int:
    """Hands the person's assets to the one chosen in the form (none chosen: they keep them); how many."""
    receiver = _receiver_id(request.form.get("owner_id"))
    if receiver is None:
        return 0
    return get_publisher().hand_over(current_user.id, user_id, receiver)


@bp.post("/users/<int:user_id>/deactivate")
@requires(Role.ADMIN)
def deactivate(user_id: int) -> Any:
    handed = _hand_over(user_id)
    user = accounts.set_active(get_db(), user_id, False, actor_id=current_user.id)
    flash(_("%(email)s is deactivated and signed out everywhere.", email=user.email), "success")
    if handed:
        flash(ngettext("%(num)d asset has a new owner.", "%(num)d assets have a new owner.", handed), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/hand-over")
@requires(Role.ADMIN)
def hand_over(user_id: int) -> Any:
    """A person's assets to a colleague, without deactivating anyone (someone moving to another team)."""
    if not request.form.get("owner_id"):
        raise ValidationError(N_("Choose who takes the assets."), field="owner_id")
    handed = _hand_over(user_id)
    flash(ngettext("%(num)d asset has a new owner.", "%(num)d assets have a new owner.", handed), "success")
    return redirect(url_for("admin.users"))


def _receiver_id(value: str | None) -> int | None:
    """The person chosen in the form to take someone's assets; None when nobody was chosen."""
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ValidationError(N_("Choose who takes the assets."), field="owner_id")
    return int(value)


@bp.post("/users/<int:user_id>/activate")
@requires(Role.ADMIN)
def activate(user_id: int) -> Any:
    user = accounts.set_active(get_db(), user_id, True)
    flash(_("%(email)s is active again.", email=user.email), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
@requires(Role.ADMIN)
def set_temporary_password(user_id: int) -> Any:
    """A generated temporary password, shown in this answer only (a redirect would carry it in the cookie)."""
    user, password = accounts.set_temporary_password(get_db(), user_id)
    return _render(temporary={"email": user.email, "password": password})


@bp.get("/jobs")
@requires(Role.ADMIN)
def jobs() -> Any:
    """Background jobs: how many in each state, what is still to do by kind, and the failed ones with their last
    error."""
    from kb.search.indexing import still_indexing

    session = db_session()
    return render_template(
        "admin/jobs.html",
        counts=background_jobs.counts(session),
        active=background_jobs.active_by_kind(session),
        indexing=still_indexing(session),
        failed=background_jobs.failed_jobs(session),
    )


@bp.post("/jobs/<int:job_id>/retry")
@requires(Role.ADMIN)
def retry_job(job_id: int) -> Any:
    background_jobs.retry(get_db(), job_id)
    flash(_("Job %(id)s is queued again.", id=job_id), "success")
    return redirect(url_for("admin.jobs"))
