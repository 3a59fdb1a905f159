"""Errors the domain raises for the web layer, the API and the CLI to turn into answers for people.

Each carries an HTTP-like status, a stable machine code for the JSON API, and an English message with
``%(name)s`` placeholders; ``N_`` marks the message for the translation catalogs, and the web layer translates
it for the reader. Domain modules never import Flask, so they cannot translate themselves.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks ``message`` for extraction into the translation catalogs; translation happens where it is shown."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a count for the catalogs, in its singular and plural (``ngettext`` picks the form)."""
    return singular, plural


class DomainError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message


class ValidationError(DomainError):
    status = 400
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Gone(DomainError):
    """What was asked for existed but no longer works (a used or expired link)."""

    status = 410
    code = "gone"


class Archived(DomainError):
    """The asset was archived: a person without access to archived assets learns when, and what replaced it
    (``replaced_by``: the id and title of a published asset, or None)."""

    status = 410
    code = "archived"

    def __init__(
        self, message: str, *, title: str, archived_on: Any, replaced_by: tuple[int, str] | None, **params: Any
    ) -> None:
        super().__init__(message, **params)
        self.title = title
        self.archived_on = archived_on
        self.replaced_by = replaced_by


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class AuthenticationFailed(DomainError):
    status = 401
    code = "authentication_failed"


class Throttled(DomainError):
    status = 429
    code = "too_many_attempts"


class DirectoryUnavailable(DomainError):
    """The company directory did not answer, or refused kb's service account: nobody can be checked against it."""

    status = 503
    code = "directory_unavailable"
