"""What a console page handler gets (`ConsoleRequest`) and what it answers (`Page`, `Redirect`,
`Download`, or `NotFound` raised): the pages know nothing of aiohttp or cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import BotCore, Context
from bot.app.roles import Scope
from bot.db.console import ConsoleSession
from bot.db.models import Caregiver
from bot.text.content import Texts


class NotFound(Exception):
    """The page, or the notice / evening / steunpunt in its path, is not there for this user:
    answered 404 whether it does not exist or belongs to someone else's steunpunt or location."""


@dataclass(frozen=True)
class Page:
    """A page to render: `template` with `values`; `title_key` names it (a message key)."""

    template: str
    title_key: str
    values: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Redirect:
    """After a form: go to `path` (below /console/), with an optional notice shown there."""

    path: str
    notice_key: str = ""


@dataclass(frozen=True)
class Download:
    """A file (a CSV export)."""

    body: bytes
    content_type: str
    filename: str


Answer = Page | Redirect | Download


@dataclass
class ConsoleRequest:
    """One request of a signed-in user: the transaction's session, the user's caregiver row and
    staff scopes as the database says now, texts in their language, the clock's now, the form
    (POST) and the path's placeholders.

    Pitfall: `scopes` are the user's memberships; a handler that loads a row by an id from the
    path must check it belongs to one of them (`steunpunt_scope` / `location_scope`) and raise
    `NotFound` otherwise."""

    session: AsyncSession
    core: BotCore
    texts: Texts
    now: datetime
    caregiver: Caregiver
    console_session: ConsoleSession
    scopes: list[Scope]
    operator: bool
    form: Mapping[str, str]
    match: Mapping[str, str]
    query: Mapping[str, str]
    # Several values of one form field (checkboxes), by name.
    form_lists: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def steunpunt_keys(self) -> list[str]:
        return [s.steunpunt_key for s in self.scopes if s.steunpunt_key]

    @property
    def location_ids(self) -> list[int]:
        return [s.location_id for s in self.scopes if s.location_id is not None]

    @property
    def display_name(self) -> str:
        return self.console_session.display_name

    def context(self) -> Context:
        """The chat handlers' context for this request (same session, user, texts and time),
        for a feature's functions that build what staff see from a `Context`."""
        return Context(
            self.session, self.caregiver, self.texts, self.now, self.core,
            display_name=self.display_name,
        )  # fmt: skip

    def number(self, name: str = "id") -> int:
        """A whole number from the path; `NotFound` when it is not one."""
        raw = self.match.get(name, "")
        if not raw.isdigit() or len(raw) > 12:
            raise NotFound
        return int(raw)

    def steunpunt_scope(self, key: str | None) -> Scope:
        scope = next((s for s in self.scopes if key and s.steunpunt_key == key), None)
        if scope is None:
            raise NotFound
        return scope

    def location_scope(self, location_id: int | None) -> Scope:
        scope = next(
            (s for s in self.scopes if location_id is not None and s.location_id == location_id),
            None,
        )
        if scope is None:
            raise NotFound
        return scope

    def scope_of(self, steunpunt_key: str | None, location_id: int | None) -> Scope:
        """The user's scope that covers a row of this steunpunt or location, else `NotFound`."""
        if steunpunt_key is not None:
            return self.steunpunt_scope(steunpunt_key)
        return self.location_scope(location_id)
