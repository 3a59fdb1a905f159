"""Sending e-mail: one message through the configured SMTP server, and the catalog to word it in a language.

Only the worker sends mail (notifications, password reset links); a web request never waits on a mail server.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from kb.config import SmtpSettings

TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@cache
def translations(language: str) -> NullTranslations:
    """The catalog that words a mail in ``language`` (English: the messages as written)."""
    if language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


def send(smtp: SmtpSettings, mail: EmailMessage) -> None:
    """Hands ``mail`` to the mail server; raises on failure, so that the worker retries the job."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(mail)
