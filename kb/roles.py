"""The three roles people have in kb and their order; a module of its own so the CLI can name them cheaply."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    SALES = "sales"
    MARKETING = "marketing"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may do (admin ⊇ marketing ⊇ sales)."""
        return self.rank >= other.rank
