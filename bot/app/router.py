"""The one router: where a caregiver's input goes, in one order, written down only here.

1. Distress in typed text: the crisis answer, alone; the open step stays where it was.
2. Commands, and the global words typed without a slash ("menu", "hulp", "stop", "terug",
   "taal"): understood everywhere. A command that starts something else closes the open step.
3. Button presses, by the prefix of their data.
4. The caregiver's one open step (`OpenStep`), when it expects this kind of input.
5. A friendly fallback that offers the menu.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.db.models import OpenStep
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


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def global_word(text: str) -> str | None:
    """The command a typed global word stands for ("Menu!" -> "menu"), or None."""
    return GLOBAL_WORDS.get(_normalise(text)) if len(text) <= 20 else None


# ------------------------------------------------------------------ the open step


async def current_step(ctx: Context) -> OpenStep | None:
    """The caregiver's open step, None when there is none or it has expired."""
    step = await ctx.session.get(OpenStep, ctx.caregiver.id)
    if step is None or step.expires_at <= ctx.now:
        return None
    return step


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
    step = await ctx.session.get(OpenStep, ctx.caregiver.id)
    if step is None:
        step = OpenStep(caregiver_id=ctx.caregiver.id)
        ctx.session.add(step)
    step.owner, step.detail, step.expects = owner, detail, ",".join(expects)
    step.opened_at, step.expires_at = ctx.now, ctx.now + ttl


async def close_step(ctx: Context, owner: str | None = None) -> None:
    """Close the open step (only when `owner` holds it, if given)."""
    step = await ctx.session.get(OpenStep, ctx.caregiver.id)
    if step is not None and (owner is None or step.owner == owner):
        await ctx.session.delete(step)
        await ctx.session.flush()


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


async def _step_owner(ctx: Context) -> tuple[OpenStep, InputOwner] | None:
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
