"""Start, language, consent, menu, help and privacy: what every caregiver meets first.

Onboarding keeps no extra state: what is still to ask follows from the caregiver row
(no language chosen yet, no consent decision yet).
"""

from __future__ import annotations

from sqlalchemy import delete, update

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, Registry
from bot.db.models import Answer, DialogRun, DialogState, Result
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, rows
from bot.features.checkin.models import CheckinAnswer, CheckinSchedule
from bot.features.kitchentable.models import KitchenTablePreparation
from bot.features.respite.models import RespiteAdvice
from bot.features.steunpunt.models import CaregiverSteunpunt
from bot.jobs.scheduled import ScheduledMessage
from bot.text.i18n import SUPPORTED_LOCALES

LANGUAGE_KEYS = {"nl": "language_nl", "en": "language_en"}


def language_question(ctx: Context) -> OutMessage:
    buttons = rows(
        *(Button(ctx.texts.get(LANGUAGE_KEYS[loc]), f"o:lang:{loc}") for loc in SUPPORTED_LOCALES)
    )
    return OutMessage(ctx.texts.get("choose_language"), buttons)


def consent_question(ctx: Context, key: str = "consent_question", then: str = "") -> OutMessage:
    """Ask consent; `then` is the command to continue with after a yes (e.g. the self-check)."""
    suffix = f":{then}" if then else ""
    return OutMessage(
        ctx.texts.get(key),
        rows(
            Button(ctx.texts.get("consent_yes"), f"o:consent:yes{suffix}"),
            Button(ctx.texts.get("consent_no"), f"o:consent:no{suffix}"),
        ),
    )


async def on_start(ctx: Context, event: Event) -> Reply:
    """`/start`, also from a deep link `t.me/<bot>?start=<payload>`: a payload whose prefix a
    feature registered goes to that feature; an unknown payload is an ordinary start."""
    prefix = event.args.split("_", 1)[0] if event.args else ""
    payload_handler = ctx.core.registry.start_payloads.get(prefix)
    if payload_handler is not None:
        return await payload_handler(ctx, event)
    caregiver = ctx.caregiver
    if caregiver.locale is None:
        return Reply().add(OutMessage(ctx.texts.get("welcome")), language_question(ctx))
    if caregiver.consent_version is None and caregiver.consent_declined_at is None:
        return Reply().add(OutMessage(ctx.texts.get("welcome")), consent_question(ctx))
    if caregiver.consent_version is not None and not ctx.has_consent:
        # Consent was given to an older privacy text: ask again for the new one.
        changed = OutMessage(ctx.texts.get("consent_changed"))
        return Reply().add(changed, consent_question(ctx))
    return Reply().add(ctx.menu_message("welcome_back"))


async def on_menu(ctx: Context, event: Event) -> Reply:
    menu = ctx.menu_message()
    if await ctx.is_staff():
        staff = Button(ctx.texts.get("staff_menu_button"), "m:medewerker")
        menu = OutMessage(menu.text, (*menu.buttons, (staff,)))
    return Reply().add(menu)


async def on_language(ctx: Context, event: Event) -> Reply:
    return Reply().add(language_question(ctx))


async def on_help(ctx: Context, event: Event) -> Reply:
    """Humans to contact: the caregiver's own steunpunt when known, then everyone else."""
    reply = Reply()
    for card in ctx.core.registry.help_cards:
        message = await card(ctx)
        if message is not None:
            reply.add(message)
    contacts = ctx.texts.contact_lines(ctx.content.contacts)
    text = "\n".join([ctx.texts.get("help_intro"), "", *contacts])
    return reply.add(OutMessage(text, rows(Button(ctx.texts.get("button_menu"), "m:menu"))))


async def on_privacy(ctx: Context, event: Event) -> Reply:
    if ctx.has_consent and ctx.caregiver.consent_at is not None:
        text = ctx.texts.get(
            "privacy_with_consent",
            date=ctx.texts.translator.format_date(ctx.caregiver.consent_at),
            months=ctx.core.retention.answers_months,
            inactive=ctx.core.retention.inactive_months,
        )
        button = Button(ctx.texts.get("privacy_withdraw"), "o:privacy:withdraw")
    else:
        text = ctx.texts.get("privacy_without_consent")
        button = Button(ctx.texts.get("privacy_give"), "o:consent:yes")
    buttons = rows(
        button,
        Button(ctx.texts.get("privacy_export"), "m:mijngegevens"),
        Button(ctx.texts.get("privacy_forget"), "m:vergeetmij"),
        Button(ctx.texts.get("button_menu"), "m:menu"),
    )
    return Reply().add(OutMessage(text, buttons))


async def forget_answers(ctx: Context) -> None:
    """Remove every answer, result, open dialog, check-in, respite advice, keukentafel
    preparation and schedule of this caregiver (consent withdrawn): what the bot would still send
    by itself goes too."""
    cid = ctx.caregiver.id
    tables = (
        DialogState,
        Result,
        Answer,
        DialogRun,
        CheckinAnswer,
        CheckinSchedule,
        RespiteAdvice,
        KitchenTablePreparation,
    )
    for table in tables:
        await ctx.session.execute(delete(table).where(table.caregiver_id == cid))
    await ctx.session.execute(
        delete(ScheduledMessage).where(
            ScheduledMessage.caregiver_id == cid,
            ScheduledMessage.kind.not_in(ctx.core.registry.kept_without_consent),
        )
    )
    # The saved steunpunt was asked for explicitly and needs no consent; the postcode does.
    await ctx.session.execute(
        update(CaregiverSteunpunt)
        .where(CaregiverSteunpunt.caregiver_id == cid)
        .values(postcode=None, flow={})
    )


async def on_option(ctx: Context, event: Event) -> Reply:
    """Buttons `o:<what>:<value>[:<then>]` of onboarding, consent and privacy."""
    parts = event.text.split(":")
    what = parts[1] if len(parts) > 1 else ""
    value = parts[2] if len(parts) > 2 else ""
    then = parts[3] if len(parts) > 3 else ""
    caregiver = ctx.caregiver
    if what == "lang" and value in SUPPORTED_LOCALES:
        first_time = caregiver.locale is None
        ctx.set_locale(value)
        reply = Reply(pressed_label=ctx.texts.get(LANGUAGE_KEYS[value]))
        reply.add(OutMessage(ctx.texts.get("language_set")))
        if (
            first_time
            and caregiver.consent_version is None
            and caregiver.consent_declined_at is None
        ):
            return reply.add(consent_question(ctx))
        return reply.add(ctx.menu_message())
    if what == "consent" and value in ("yes", "no"):
        if value == "yes":
            caregiver.consent_version = ctx.core.privacy_version
            caregiver.consent_at = ctx.now
            caregiver.consent_declined_at = None
            reply = Reply(pressed_label=ctx.texts.get("consent_yes"))
            reply.add(OutMessage(ctx.texts.get("consent_given")))
            handler = ctx.core.registry.commands.get(then) if then else None
            if handler is not None:
                follow = await handler(ctx, Event("command", then))
                return reply.add(*follow.messages)
            return reply.add(ctx.menu_message())
        caregiver.consent_declined_at = ctx.now
        reply = Reply(pressed_label=ctx.texts.get("consent_no"))
        text = ctx.texts.get("general_info") if then else ctx.texts.get("consent_declined")
        return reply.add(OutMessage(text), ctx.menu_message())
    if what == "privacy" and value == "withdraw" and ctx.has_consent:
        return Reply(pressed_label=ctx.texts.get("privacy_withdraw")).add(
            OutMessage(
                ctx.texts.get("privacy_withdraw_confirm"),
                rows(
                    Button(ctx.texts.get("privacy_withdraw_yes"), "o:privacy:confirm"),
                    Button(ctx.texts.get("privacy_withdraw_no"), "o:privacy:keep"),
                ),
            )
        )
    if what == "privacy" and value == "confirm" and ctx.has_consent:
        await forget_answers(ctx)
        caregiver.consent_version = None
        caregiver.consent_at = None
        caregiver.consent_declined_at = ctx.now
        return Reply(pressed_label=ctx.texts.get("privacy_withdraw_yes")).add(
            OutMessage(ctx.texts.get("privacy_withdrawn")), ctx.menu_message()
        )
    if what == "privacy" and value == "keep":
        return Reply(pressed_label=ctx.texts.get("privacy_withdraw_no")).add(
            OutMessage(ctx.texts.get("privacy_kept")), ctx.menu_message()
        )
    return ctx.stale_button()


async def on_menu_button(ctx: Context, event: Event) -> Reply:
    """Menu buttons `m:<command>` behave exactly like typing the command."""
    command = event.text.partition(":")[2]
    if command == "menu":
        return await on_menu(ctx, event)
    return await ctx.core.route(ctx, Event("command", command))


async def fallback(ctx: Context, event: Event) -> Reply:
    """Text, stickers, photos... while no dialog is open: say what works, show the menu."""
    if ctx.caregiver.locale is None and event.kind == "text":
        return Reply().add(OutMessage(ctx.texts.get("welcome")), language_question(ctx))
    return Reply().add(ctx.menu_message("not_understood"))


def register(registry: Registry) -> None:
    registry.commands.update(
        {
            "start": on_start,
            "menu": on_menu,
            "taal": on_language,
            "language": on_language,
            "hulp": on_help,
            "help": on_help,
            "privacy": on_privacy,
        }
    )
    # Help, language and privacy answer beside whatever the caregiver is doing.
    registry.side_commands.update({"hulp", "help", "taal", "language", "privacy"})
    registry.buttons.update({"o": on_option, "m": on_menu_button})
    registry.menu.extend(
        [
            MenuEntry("hulp", "menu_help", 80),
            MenuEntry("taal", "menu_language", 90),
            MenuEntry("privacy", "menu_privacy", 95),
        ]
    )
    registry.fallback = fallback
