"""Texts of the warm handover shared by the caregiver's and the staff side: the dialog file's
messages, a steunpunt's name, and the card of a request (exactly what the steunpunt sees).
"""

from __future__ import annotations

from html import unescape
from typing import Any

from babel import Locale

from bot.app.dispatch import Context
from bot.app.roles import scope_name
from bot.features.handover.models import HandoverRequest

DIALOG_ID = "handover"


def t(ctx: Context, key: str, /, **values: Any) -> str:
    """A message of dialogs/handover.yaml as HTML: the values are escaped here, so pass them as
    typed (names, notes, messages), never escaped already."""
    return ctx.texts.dialog_message(ctx.content.dialogs[DIALOG_ID], key, **values)


def label(ctx: Context, key: str, /, **values: Any) -> str:
    """The same for a button label, which Telegram shows as plain text."""
    return unescape(t(ctx, key, **values))


async def steunpunt_name(ctx: Context, key: str) -> str:
    return await scope_name(ctx.session, key, None)


def card_text(ctx: Context, request: HandoverRequest) -> str:
    """Who asks, how and when to reach them, and only what they chose to share."""
    return "\n".join([contact_text(ctx, request), "", *shared_texts(ctx, request)])


def contact_text(ctx: Context, request: HandoverRequest) -> str:
    """Who asks, and how and when to reach them."""
    name = request.caregiver_name
    lines = [t(ctx, "card_from", name=name) if name else t(ctx, "card_from_unknown")]
    if request.reach == "phone" and request.phone:
        lines.append(t(ctx, "card_reach_phone", phone=request.phone))
    else:
        lines.append(t(ctx, "card_reach_message"))
    part = t(ctx, f"part_{request.part_of_day or 'any'}")
    lines.append(t(ctx, "card_when", part=part, days=t(ctx, f"days_{request.days or 'any'}")))
    if request.locale != "nl":
        # The bot speaks the caregiver's language; staff see which one that is.
        language = Locale.parse(request.locale).get_display_name(ctx.texts.translator.locale)
        lines.append(t(ctx, "card_language", language=language))
    return "\n".join(lines)


def shared_texts(ctx: Context, request: HandoverRequest) -> list[str]:
    """A heading, then each thing shared (the note last) as its own block of lines."""
    shares = ctx.core.registry.shares
    shown = [shares[n].describe(ctx, data) for n, data in request.shared.items() if n in shares]
    if request.note:
        shown.append(t(ctx, "card_note", note=request.note))
    return [t(ctx, "card_shared"), *(shown or [t(ctx, "card_nothing_shared")])]
