"""Helpers shared by the web forms: putting a domain error next to the field it concerns."""

from __future__ import annotations

from flask_wtf import FlaskForm

from kb.errors import DomainError
from kb.web.i18n import translate_error


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Shows ``error`` beside its field when the form has that field, else at the top of the form."""
    message = translate_error(error)
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)
