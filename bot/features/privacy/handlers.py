"""The caregiver's own data: `/mijngegevens` exports everything, `/vergeetmij` erases everything.

Both work over the one list of personal-data tables the features register
(`bot.app.personal_data`); rows that outlive the caregiver (a staff member's notices) lose the
copies marked `ERASED_WITH`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.app.dispatch import Context
from bot.app.personal_data import erase, export
from bot.app.registry import Registry
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, rows

# p:forget:yes|no, the confirmation of /vergeetmij.
BUTTONS = ButtonCodec("p", {"forget": (("yes", "no"),)})


def summary_text(ctx: Context, data: dict[str, Any]) -> str:
    texts = ctx.texts
    caregiver = ctx.caregiver
    lines = [texts.get("export_title"), ""]
    lines.append(texts.get("export_since", date=texts.translator.format_date(caregiver.created_at)))
    if caregiver.consent_at is not None:
        consent_date = texts.translator.format_date(caregiver.consent_at)
        lines.append(
            texts.get("export_consent", date=consent_date, version=caregiver.consent_version)
        )
    else:
        lines.append(texts.get("export_no_consent"))
    counts = {name: len(rows_) for name, rows_ in data.items() if name != "caregiver"}
    lines.append(texts.get("export_counts", answers=counts.get("answer", 0),
                           results=counts.get("result", 0)))  # fmt: skip
    lines += ["", texts.get("export_file_note")]
    return "\n".join(lines)


async def on_my_data(ctx: Context, event: Event) -> Reply:
    data = await export(ctx.session, ctx.core.registry, ctx.caregiver)
    payload = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    stamp = ctx.now.strftime("%Y-%m-%d")
    return Reply().add(
        OutMessage(summary_text(ctx, data)),
        OutMessage(
            ctx.texts.get("export_caption"), document=(f"mijngegevens-{stamp}.json", payload)
        ),
    )


async def on_forget_me(ctx: Context, event: Event) -> Reply:
    return Reply().add(
        OutMessage(
            ctx.texts.get("forget_confirm"),
            rows(
                Button(ctx.texts.get("forget_yes"), BUTTONS.pack("forget", "yes")),
                Button(ctx.texts.get("forget_no"), BUTTONS.pack("forget", "no")),
            ),
        )
    )


async def on_button(ctx: Context, event: Event) -> Reply:
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    if pressed.text(0) == "yes":
        texts = ctx.texts
        await erase(ctx.session, ctx.core.registry, ctx.caregiver)
        return Reply(pressed_label=texts.get("forget_yes")).add(
            OutMessage(texts.get("forget_done"))
        )
    if pressed.text(0) == "no":
        return Reply(pressed_label=ctx.texts.get("forget_no")).add(
            OutMessage(ctx.texts.get("privacy_kept")), ctx.menu_message()
        )
    return ctx.stale_button()


def register(registry: Registry) -> None:
    registry.commands.update(
        {
            "mijngegevens": on_my_data,
            "mydata": on_my_data,
            "vergeetmij": on_forget_me,
            "forgetme": on_forget_me,
        }
    )
    registry.buttons[BUTTONS.prefix] = on_button
