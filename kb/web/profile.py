"""The profile page: name, language, password and personal API tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from kb import accounts
from kb.errors import DomainError
from kb.web.context import db_session, get_db
from kb.web.forms import attach_error
from kb.web.i18n import LANGUAGE_NAMES

bp = Blueprint("profile", __name__, url_prefix="/profile")


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice("", _l("As the browser asks"))]
        + [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=accounts.PASSWORD_MIN_LENGTH, max=accounts.PASSWORD_MAX_LENGTH)],
    )
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new_password", _l("The passwords differ."))]
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])


def _render(status: int = 200, **forms: Any) -> Any:
    profile_form = forms.get("profile_form") or ProfileForm(
        formdata=None, display_name=current_user.display_name, language=current_user.preferred_language or ""
    )
    return (
        render_template(
            "profile.html",
            profile_form=profile_form,
            password_form=forms.get("password_form") or PasswordForm(formdata=None),
            token_form=forms.get("token_form") or TokenForm(formdata=None),
            tokens=accounts.list_tokens(db_session(), current_user.id),
            new_secret=forms.get("new_secret"),
        ),
        status,
    )


@bp.get("")
def show() -> Any:
    return _render()


@bp.post("")
def update() -> Any:
    form = ProfileForm()
    if not form.validate():
        return _render(400, profile_form=form)
    try:
        accounts.update_profile(
            get_db(), current_user.id, display_name=form.display_name.data, language=form.language.data or None
        )
    except DomainError as exc:
        attach_error(form, exc)
        return _render(exc.status, profile_form=form)
    flash(_("Your profile is saved."), "success")
    return redirect(url_for("profile.show"))


@bp.post("/password")
def change_password() -> Any:
    form = PasswordForm()
    if not form.validate():
        return _render(400, password_form=form)
    try:
        accounts.change_password(
            get_db(),
            current_user.id,
            form.current_password.data or "",
            form.new_password.data or "",
            session_token=current_user.session_token,
        )
    except DomainError as exc:
        attach_error(form, exc)
        return _render(exc.status, password_form=form)
    flash(_("Your password is changed; your other sign-ins have been ended."), "success")
    return redirect(url_for("profile.show"))


@bp.post("/tokens")
def create_token() -> Any:
    form = TokenForm()
    if not form.validate():
        return _render(400, token_form=form)
    try:
        new = accounts.create_token(get_db(), current_user.id, form.name.data or "")
    except DomainError as exc:
        attach_error(form, exc)
        return _render(exc.status, token_form=form)
    # Shown in this answer only: a redirect would need the secret in the session cookie.
    return _render(201, new_secret=new.secret)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Any:
    accounts.revoke_token(get_db(), current_user.id, token_id)
    flash(_("The token is revoked; programs using it can no longer sign in."), "success")
    return redirect(url_for("profile.show"))
