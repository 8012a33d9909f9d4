"""`/keukentafel`: prepare the keukentafelgesprek with the municipality in one's own words, and get
a one-page PDF ("Mijn situatie als mantelzorger") to print or show on the phone.

The questions are the dialog file `dialogs/keukentafel.yaml`; its end action makes the PDF
(`pdf.py`) and, only with consent, stores the answers (`KitchenTablePreparation`, one row per
preparation, so a handover request can attach one later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, PersonalData, Registry, ShareSource, suggested
from bot.db.models import DialogRun
from bot.db.places import read_place
from bot.distress import own_steunpunt_card
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog
from bot.features.kitchentable.models import KitchenTablePreparation
from bot.features.kitchentable.pdf import Paragraph, Section, Sheet, render
from bot.features.questionnaire.handlers import open_dialog

DIALOG_ID = "keukentafel"
COMMAND, ALIAS = "keukentafel", "kitchentable"
SUMMARY_ACTION = "keukentafel.summary"
# kk:pdf:<preparation id> | kk:new
BUTTONS = ButtonCodec("kk", {"pdf": (int,), "new": ()})
# How much of a typed answer the chat summary repeats; the PDF has all of it.
SHORT_WORDS = 10


def _t(ctx: Context, key: str, /, **values: Any) -> str:
    return ctx.texts.dialog_message(ctx.content.dialogs[DIALOG_ID], key, **values)


def _menu_button(ctx: Context) -> Button:
    return command_button(ctx.texts.get("button_menu"), "menu")


def choice_label(ctx: Context, dialog: Dialog, step_id: str, value: str) -> str:
    """The caregiver's choice in their language ("" when the answer is not an option)."""
    option = next((o for o in dialog.steps[step_id].options if o.value == value), None)
    return ctx.texts.tr(option.label) if option is not None else ""


def shortened(text: str, words: int = SHORT_WORDS) -> str:
    parts = text.split()
    return " ".join(parts) if len(parts) <= words else " ".join(parts[:words]) + "…"


# ---------------------------------------------------------------- the page


def sheet(ctx: Context, answers: dict[str, str], created: Any) -> Sheet:
    """The page's texts in the caregiver's language, with their answers in their own words."""
    dialog = ctx.content.dialogs[DIALOG_ID]
    empty = Paragraph(_t(ctx, "pdf_empty"), own_words=False, muted=True)

    def own(step_id: str) -> Paragraph:
        text = answers.get(step_id, "").strip()
        return Paragraph(text) if text else empty

    tasks = [own("tasks")]
    if answers.get("hours"):
        tasks.append(Paragraph(_t(ctx, "pdf_hours", hours=answers["hours"]), own_words=False))
    life = "\n".join(
        f"{_t(ctx, f'pdf_{step}')} {choice_label(ctx, dialog, step, answers.get(step, ''))}"
        for step in ("work", "health", "free_time")
    )
    sections = (
        Section(_t(ctx, "pdf_person"), (own("person"),)),
        Section(_t(ctx, "pdf_tasks"), tuple(tasks)),
        Section(_t(ctx, "pdf_heavy"), (own("heavy"),)),
        Section(_t(ctx, "pdf_helps"), (own("helps"),)),
        Section(_t(ctx, "pdf_keep"), (own("keep"),)),
        Section(_t(ctx, "pdf_life"), (Paragraph(life, own_words=False),)),
        Section(_t(ctx, "pdf_questions"), (own("questions"),)),
    )
    translator = ctx.texts.translator
    return Sheet(
        title=_t(ctx, "pdf_title"),
        subtitle=_t(ctx, "pdf_subtitle", date=translator.format_date(created)),
        fields=(_t(ctx, "pdf_name"), _t(ctx, "pdf_talk_date")),
        sections=sections,
        know_title=_t(ctx, "pdf_know_title"),
        know=_t(ctx, "pdf_know"),
        truncated_mark=_t(ctx, "pdf_truncated"),
        language=translator.locale,
        created=created,
    )


async def summary_document(
    ctx: Context, answers: dict[str, str], created: Any
) -> tuple[OutMessage, bool]:
    """The PDF as a document message, and whether long answers were shortened to fit the page.
    Also for a later handover request, which can attach a stored preparation this way."""
    # Laying out the page takes about a tenth of a second: keep the event loop free meanwhile.
    data, truncated = await asyncio.to_thread(render, sheet(ctx, answers, created))
    name = _t(ctx, "pdf_filename", date=created.strftime("%Y-%m-%d"))
    return OutMessage(_t(ctx, "document_caption"), document=(name, data)), truncated


# ---------------------------------------------------------------- the conversation


async def latest(ctx: Context) -> KitchenTablePreparation | None:
    return await ctx.session.scalar(
        select(KitchenTablePreparation)
        .where(KitchenTablePreparation.caregiver_id == ctx.caregiver.id)
        .order_by(KitchenTablePreparation.created_at.desc(), KitchenTablePreparation.id.desc())
        .limit(1)
    )


async def start(ctx: Context) -> Reply:
    """The explanation and the first question; without consent first what that means here."""
    return await open_dialog(ctx, ctx.content.dialogs[DIALOG_ID])


async def on_command(ctx: Context, event: Event) -> Reply:
    """An unfinished preparation goes on where it was; a stored one can be sent again."""
    unfinished = await read_place(ctx.session, ctx.caregiver.id, DIALOG_ID)
    earlier = await latest(ctx) if ctx.has_consent and unfinished is None else None
    if earlier is None:
        return await start(ctx)
    date = ctx.texts.translator.format_date(earlier.created_at)
    return Reply().add(
        OutMessage(
            _t(ctx, "earlier", date=date),
            rows(
                Button(_t(ctx, "earlier_send"), BUTTONS.pack("pdf", earlier.id)),
                Button(_t(ctx, "earlier_new"), BUTTONS.pack("new")),
                _menu_button(ctx),
            ),
        )
    )


async def on_button(ctx: Context, event: Event) -> Reply:
    """`kk:pdf:<id>` sends a stored summary again, `kk:new` starts a new preparation."""
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    if pressed.action == "new":
        reply = await start(ctx)
        reply.pressed_label = _t(ctx, "earlier_new")
        return reply
    if pressed.action == "pdf" and ctx.has_consent:
        row = await ctx.session.get(KitchenTablePreparation, pressed.number(0))
        if row is not None and row.caregiver_id == ctx.caregiver.id:
            sent, _ = await summary_document(ctx, dict(row.answers), row.created_at)
            sent = OutMessage(sent.text, rows(_menu_button(ctx)), document=sent.document)
            return Reply(pressed_label=_t(ctx, "earlier_send")).add(sent)
    return ctx.stale_button()


def chat_summary(ctx: Context, dialog: Dialog, answers: dict[str, str], kept: bool) -> str:
    """The preparation in a few lines; the first says nothing personal (lock screens)."""
    lines = [_t(ctx, "done_intro"), "", _t(ctx, "done_short")]
    if answers.get("hours"):
        lines.append("• " + _t(ctx, "done_hours", hours=answers["hours"]))
    for step in ("heavy", "helps"):
        if answers.get(step):
            lines.append("• " + _t(ctx, f"done_{step}", text=shortened(answers[step])))
    for step in ("work", "health", "free_time"):
        label = choice_label(ctx, dialog, step, answers.get(step, ""))
        if label:
            lines.append("• " + _t(ctx, f"done_{step}", text=label))
    lines += ["", _t(ctx, "done_kept" if kept else "done_not_kept")]
    return "\n".join(lines)


async def on_summary(
    ctx: Context, dialog: Dialog, run: DialogRun | None, state: State
) -> list[OutMessage]:
    """End action: store the answers (only with consent), then the summary, the PDF and where
    to go next."""
    answers = dict(state.answers)
    kept = ctx.has_consent
    if kept:
        ctx.session.add(
            KitchenTablePreparation(
                caregiver_id=ctx.caregiver.id,
                dialog_version=dialog.version,
                answers=answers,
                locale=ctx.texts.translator.locale,
                created_at=ctx.now,
            )
        )
    document, truncated = await summary_document(ctx, answers, ctx.now)
    text = chat_summary(ctx, dialog, answers, kept)
    if truncated:
        text += "\n" + _t(ctx, "done_truncated")
    messages = [OutMessage(text), document]
    card = await own_steunpunt_card(ctx)
    if card is not None:
        messages.append(card)
    buttons = [_menu_button(ctx)]
    if card is None and "steunpunt" in ctx.core.registry.commands:
        buttons.insert(0, command_button(ctx.texts.get("distress_find_steunpunt"), "steunpunt"))
    # E.g. asking the steunpunt to get in touch, with this summary (`registry.suggestions`).
    buttons[0:0] = await suggested(ctx, "keukentafel.done", answers)
    steps = ("next_municipality", "next_support", "next_steunpunt")
    next_text = "\n".join(
        [_t(ctx, "next_title"), *(f"• {_t(ctx, key)}" for key in steps), _t(ctx, "next_decides")]
    )
    messages.append(OutMessage(next_text, rows(*buttons)))
    return messages


# ---------------------------------------------------------------- passed on to the steunpunt


async def share_latest(ctx: Context) -> dict[str, Any] | None:
    """The latest stored preparation, to attach to a request for contact (only with consent
    there is one)."""
    row = await latest(ctx) if ctx.has_consent else None
    if row is None:
        return None
    return {"id": row.id, "answers": dict(row.answers), "created_at": row.created_at.isoformat()}


def share_text(ctx: Context, data: Mapping[str, Any]) -> str:
    """What the steunpunt sees of the preparation: its date and the short summary."""
    dialog = ctx.content.dialogs[DIALOG_ID]
    answers = dict(data.get("answers") or {})
    created = datetime.fromisoformat(str(data["created_at"]))
    lines = [_t(ctx, "share_title", date=ctx.texts.translator.format_date(created))]
    if answers.get("hours"):
        lines.append("• " + _t(ctx, "done_hours", hours=answers["hours"]))
    for step in ("person", "heavy", "helps"):
        if answers.get(step):
            text = shortened(str(answers[step]), 15)
            lines.append("• " + _t(ctx, f"share_{step}", text=text))
    for step in ("work", "health", "free_time"):
        label = choice_label(ctx, dialog, step, str(answers.get(step, "")))
        if label:
            lines.append("• " + _t(ctx, f"done_{step}", text=label))
    return "\n".join(lines)


async def share_document(ctx: Context, data: Mapping[str, Any]) -> OutMessage:
    answers = dict(data.get("answers") or {})
    document, _ = await summary_document(
        ctx, answers, datetime.fromisoformat(str(data["created_at"]))
    )
    return document


def register(registry: Registry, dialogs: dict[str, Dialog]) -> None:
    dialog = dialogs.get(DIALOG_ID)
    if dialog is None:
        return
    registry.commands.update({COMMAND: on_command, ALIAS: on_command})
    registry.buttons[BUTTONS.prefix] = on_button
    registry.actions[SUMMARY_ACTION] = on_summary
    registry.menu.append(MenuEntry(COMMAND, None, dialog.menu_order, label=dialog.menu_label or ""))
    registry.shares["keukentafel"] = ShareSource(
        latest=share_latest, describe=share_text, document=share_document, order=30
    )
    registry.add_personal_data(
        PersonalData(
            KitchenTablePreparation,
            owner=KitchenTablePreparation.caregiver_id,
            label="kept_kitchen_table",
            timed=KitchenTablePreparation.created_at,
        )
    )
