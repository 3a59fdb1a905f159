"""Languages: English and Russian catalogs through Flask-Babel; the user's preference, else the browser's."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from kb.config import PROJECT_ROOT
from kb.errors import DomainError
from kb.models import LANGUAGES

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
SESSION_KEY = "lang"


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.preferred_language in LANGUAGES:
        return current_user.preferred_language
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def translate_error(error: DomainError) -> str:
    """The error's message in the reader's language, with its parameters filled in."""
    return _(error.message, **error.params)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PROJECT_ROOT / "kb" / "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["KB_SETTINGS"].timezone)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(get_locale=get_locale, LANGUAGE_NAMES=LANGUAGE_NAMES)
