"""The one router: where a caregiver's input goes, in one order, written down only here.

1. Distress in typed text: the crisis answer, alone; the open step stays where it was.
2. Commands, and the global words typed without a slash ("menu", "hulp", "stop", "terug",
   "taal"): understood everywhere. A command that starts something else closes the open step.
3. Button presses, by the prefix of their data.
4. The caregiver's one open step (`OpenStep`), when it expects this kind of input.
5. A friendly fallback that offers the menu.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select

from bot.db.models import DialogState, OpenStep
from bot.db.places import PLACE_COLUMNS, Place, place_from, read_place
from bot.db.session import dialect_of, execute, rowcount, upsert_by_key
from bot.distress import crisis_reply
from bot.engine.codec import SEP
from bot.engine.flow import Event
from bot.engine.output import OutMessage, Reply

if TYPE_CHECKING:
    from bot.app.dispatch import Context
    from bot.app.registry import InputOwner

# Words that mean the same everywhere when typed alone (any case, with or without a slash or
# punctuation): the command they stand for. "stop" and "terug" act on the open step.
GLOBAL_WORDS = {
    "menu": "menu", "hulp": "hulp", "help": "hulp", "taal": "taal", "language": "taal",
    "stop": "stop", "stoppen": "stop", "terug": "terug", "back": "terug", "vorige": "terug",
}  # fmt: skip
STOP, BACK = "stop", "terug"
DEFAULT_STEP_TTL = timedelta(hours=24)
# `open_step` leaves a step that is open already as it is when its expiry would move by less than
# this: a press of a running dialog then writes no open step.
STEP_REFRESH = timedelta(hours=1)


class Unread:
    """`Context.step` before the open step was read in this update."""


UNREAD = Unread()


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def global_word(text: str) -> str | None:
    """The command a typed global word stands for ("Menu!" -> "menu"), or None."""
    return GLOBAL_WORDS.get(_normalise(text)) if len(text) <= 20 else None


# ------------------------------------------------------------------ the open step


@dataclass(frozen=True)
class Step:
    """The caregiver's open step as read for this update (the `open_step` row)."""

    owner: str
    detail: str | None
    expects: str
    opened_at: datetime
    expires_at: datetime


_STEP_COLUMNS = ("owner", "detail", "expects", "opened_at", "expires_at")


def _step_from(row: Any) -> Step | None:
    """The step in a row that has the `open_step` columns; None when they are empty (an outer
    join found no open step)."""
    if row.owner is None:
        return None
    return Step(*(getattr(row, c) for c in _STEP_COLUMNS))


@dataclass(frozen=True)
class _StepStatements:
    """Core statements on `open_step`, built once per dialect: every update of a running dialog
    reads or writes the step, and the ORM's get and flush cost more than the statements
    (measured: bench/hot_path.py)."""

    read: Any
    read_with_place: Any
    write: Any
    close: Any
    close_owned: Any

    @classmethod
    def build(cls, dialect: str) -> _StepStatements:
        table: Any = OpenStep.__table__
        mine = table.c.caregiver_id == bindparam("caregiver_id")
        place: Any = DialogState.__table__
        return cls(
            read=select(*(table.c[c] for c in _STEP_COLUMNS)).where(mine),
            read_with_place=select(
                *(place.c[c] for c in PLACE_COLUMNS), *(table.c[c] for c in _STEP_COLUMNS)
            )
            .select_from(place.outerjoin(table, table.c.caregiver_id == place.c.caregiver_id))
            .where(
                place.c.caregiver_id == bindparam("caregiver_id"),
                place.c.dialog_id == bindparam("dialog_id"),
            ),
            write=upsert_by_key(dialect, table, ("caregiver_id",), _STEP_COLUMNS),
            close=delete(table).where(mine),
            close_owned=delete(table).where(mine, table.c.owner == bindparam("owner")),
        )


@functools.cache
def _step_statements(dialect: str) -> _StepStatements:
    return _StepStatements.build(dialect)


async def current_step(ctx: Context) -> Step | None:
    """The caregiver's open step, None when there is none or it has expired (read once per
    update; `open_step` and `close_step` keep that reading up to date)."""
    step = ctx.step
    if isinstance(step, Unread):
        statements = _step_statements(dialect_of(ctx.session))
        found = await execute(ctx.session, statements.read, {"caregiver_id": ctx.caregiver.id})
        row = found.first()
        step = ctx.step = None if row is None else _step_from(row)
    if step is None or step.expires_at <= ctx.now:
        return None
    return step


async def place_with_step(ctx: Context, dialog_id: str) -> Place | None:
    """The caregiver's place in `dialog_id` (as `bot.db.places.read_place`), with their open step
    read in the same statement when it is not read yet in this update: a press of a running
    dialog reads both, and `open_step` then needs no write when the step stays as it is."""
    if not isinstance(ctx.step, Unread):
        return await read_place(ctx.session, ctx.caregiver.id, dialog_id)
    statements = _step_statements(dialect_of(ctx.session))
    found = await execute(
        ctx.session,
        statements.read_with_place,
        {"caregiver_id": ctx.caregiver.id, "dialog_id": dialog_id},
    )
    row = found.first()
    if row is None:
        return None  # the step stays unread
    ctx.step = _step_from(row)
    return place_from(dialog_id, row)


async def open_step(
    ctx: Context,
    owner: str,
    expects: Iterable[str] = ("text",),
    ttl: timedelta = DEFAULT_STEP_TTL,
    detail: str | None = None,
) -> None:
    """Make `owner` the one step that receives this caregiver's typed input, replacing any
    other. `owner` must be registered in `Registry.inputs`."""
    assert owner in ctx.core.registry.inputs, f"unregistered input owner {owner!r}"
    kinds, expires_at = ",".join(expects), ctx.now + ttl
    known = ctx.step
    if (
        isinstance(known, Step)
        and (known.owner, known.detail, known.expects) == (owner, detail, kinds)
        and expires_at - STEP_REFRESH <= known.expires_at <= expires_at
    ):
        return  # open already, and its expiry moves by less than STEP_REFRESH: no write
    values = {"caregiver_id": ctx.caregiver.id, "owner": owner, "detail": detail,
              "expects": kinds, "opened_at": ctx.now, "expires_at": expires_at}  # fmt: skip
    await execute(ctx.session, _step_statements(dialect_of(ctx.session)).write, values)
    ctx.step = Step(owner, detail, kinds, ctx.now, expires_at)


async def close_step(ctx: Context, owner: str | None = None) -> None:
    """Close the open step (only when `owner` holds it, if given)."""
    known = ctx.step
    if known is None or (owner is not None and isinstance(known, Step) and known.owner != owner):
        return  # nothing of `owner` is open (as read in this update)
    statements = _step_statements(dialect_of(ctx.session))
    if owner is None:
        await execute(ctx.session, statements.close, {"caregiver_id": ctx.caregiver.id})
        ctx.step = None
        return
    result = await execute(
        ctx.session, statements.close_owned, {"caregiver_id": ctx.caregiver.id, "owner": owner}
    )
    if rowcount(result):
        ctx.step = None


# ------------------------------------------------------------------ routing


async def distress_reply(ctx: Context, event: Event) -> Reply | None:
    """The crisis answer for typed distress (`bot.distress`), or None."""
    if event.kind != "text":
        return None
    intent = ctx.content.distress.detect(event.text)
    return await crisis_reply(ctx, intent) if intent is not None else None


async def route(ctx: Context, event: Event) -> Reply:
    crisis = await distress_reply(ctx, event)
    if crisis is not None and not await _own_answer(ctx, event):
        return crisis
    if event.kind == "text":
        word = global_word(event.text)
        if word is not None:
            event = Event("command", word)
    if event.kind == "command":
        return await _command(ctx, event)
    registry = ctx.core.registry
    if event.kind == "button":
        prefix = event.text.partition(SEP)[0]
        handler = registry.buttons.get(prefix)
        if handler is None and prefix in registry.staff_buttons and await ctx.is_staff():
            handler = registry.staff_buttons[prefix]
        if handler is None:
            return ctx.stale_button()
        return await handler(ctx, event)
    found = await _step_owner(ctx)
    if found is not None and event.kind in found[0].expects.split(","):
        answered = await found[1].handle(ctx, event)
        if answered is not None:
            return answered
    assert registry.fallback is not None
    return await registry.fallback(ctx, event)


async def _step_owner(ctx: Context) -> tuple[Step, InputOwner] | None:
    """The open step and the registered owner holding it, if any."""
    step = await current_step(ctx)
    owner = ctx.core.registry.inputs.get(step.owner) if step is not None else None
    return (step, owner) if step is not None and owner is not None else None


async def _own_answer(ctx: Context, event: Event) -> bool:
    found = await _step_owner(ctx)
    owner = found[1] if found is not None else None
    return owner is not None and owner.own_answer is not None and await owner.own_answer(ctx, event)


async def _command(ctx: Context, event: Event) -> Reply:
    registry = ctx.core.registry
    if event.text in (STOP, BACK):
        return await _step_word(ctx, event)
    handler = registry.commands.get(event.text)
    if handler is None and event.text in registry.staff_commands and await ctx.is_staff():
        handler = registry.staff_commands[event.text]
    if handler is None:
        return Reply().add(ctx.menu_message("unknown_command"))
    if event.text not in registry.side_commands:
        # Something else starts: the step in hand no longer takes what is typed next.
        await close_step(ctx)
    return await handler(ctx, event)


async def _step_word(ctx: Context, event: Event) -> Reply:
    """ "stop" or "terug" typed (or /stop, /terug): for the open step; without one, the menu."""
    found = await _step_owner(ctx)
    if found is None:
        return Reply().add(ctx.menu_message())
    owner = found[1]
    handler = owner.stop if event.text == STOP else owner.back
    if handler is not None:
        return await handler(ctx, event)
    await close_step(ctx)
    return Reply().add(OutMessage(ctx.texts.get("step_stopped")), ctx.menu_message())
