"""Start, language, consent, menu, help and privacy: what every caregiver meets first.

Onboarding keeps no extra state: what is still to ask follows from the caregiver row
(no language chosen yet, no consent decision yet).
"""

from __future__ import annotations

from bot.app.dispatch import Context
from bot.app.personal_data import kept, withdraw
from bot.app.registry import MenuEntry, Registry, suggested
from bot.engine.codec import ButtonCodec, Optional
from bot.engine.flow import Event
from bot.engine.output import COMMANDS, Button, OutMessage, Reply, command_button, rows
from bot.text.i18n import SUPPORTED_LOCALES

LANGUAGE_KEYS = {"nl": "language_nl", "en": "language_en"}
# o:lang:<locale> | o:consent:yes|no[:<command to go on with>] | o:privacy:<step>
OPTIONS = ButtonCodec(
    "o",
    {
        "lang": (SUPPORTED_LOCALES,),
        "consent": (("yes", "no"), Optional(str)),
        "privacy": (("withdraw", "confirm", "keep"),),
    },
)


def language_question(ctx: Context) -> OutMessage:
    buttons = rows(
        *(
            Button(ctx.texts.get(LANGUAGE_KEYS[loc]), OPTIONS.pack("lang", loc))
            for loc in SUPPORTED_LOCALES
        )
    )
    return OutMessage(ctx.texts.get("choose_language"), buttons)


def consent_question(
    ctx: Context,
    key: str = "consent_question",
    then: str = "",
    text: str = "",
    extra: tuple[Button, ...] = (),
) -> OutMessage:
    """Ask consent; `then` is the command to continue with after a yes (e.g. the self-check);
    `text` replaces the message of `key`, `extra` buttons come after yes and no."""
    then_ = (then,) if then else ()
    return OutMessage(
        text or ctx.texts.get(key),
        rows(
            Button(ctx.texts.get("consent_yes"), OPTIONS.pack("consent", "yes", *then_)),
            Button(ctx.texts.get("consent_no"), OPTIONS.pack("consent", "no", *then_)),
            *extra,
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
        staff = command_button(ctx.texts.get("staff_menu_button"), "medewerker")
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
    # E.g. "let my steunpunt contact me" (`registry.suggestions`).
    offered = await suggested(ctx, "help")
    menu = command_button(ctx.texts.get("button_menu"), "menu")
    return reply.add(OutMessage(text, rows(*offered, menu)))


async def kept_lines(ctx: Context, after_withdrawal: bool | None = None) -> list[str]:
    """What is stored about this caregiver now, one bullet each, from their row and the
    registered personal-data tables (`bot.app.personal_data.kept`): everything (None), what
    stays when consent is withdrawn (True), or what withdrawal removes (False)."""
    texts, caregiver = ctx.texts, ctx.caregiver
    lines = []
    if after_withdrawal is not False:
        if caregiver.locale is not None:
            lines.append(texts.get("kept_language"))
        lines.append(texts.get("kept_seen"))
        if caregiver.consent_at is not None and after_withdrawal is None:
            lines.append(texts.get("kept_consent"))
        elif caregiver.consent_declined_at is not None or after_withdrawal:
            lines.append(texts.get("kept_declined"))
    for item in await kept(ctx.session, ctx.core.registry, caregiver.id, after_withdrawal):
        if item.count is None:
            lines.append(texts.get(item.key))
        else:
            lines.append(texts.get_n(item.key, item.count, count=item.count))
    return [f"• {line}" for line in lines]


async def on_privacy(ctx: Context, event: Event) -> Reply:
    """What is kept, listed from what is actually stored; then who sees it, for how long, and
    the ways out."""
    texts = ctx.texts
    listed = "\n".join([texts.get("privacy_kept_title"), *await kept_lines(ctx)])
    if ctx.has_consent and ctx.caregiver.consent_at is not None:
        text = texts.get(
            "privacy_with_consent",
            date=texts.translator.format_date(ctx.caregiver.consent_at),
            months=ctx.core.retention.answers_months,
            inactive=ctx.core.retention.inactive_months,
        )
        button = Button(texts.get("privacy_withdraw"), OPTIONS.pack("privacy", "withdraw"))
    else:
        text = texts.get("privacy_without_consent")
        button = Button(texts.get("privacy_give"), OPTIONS.pack("consent", "yes"))
    buttons = rows(
        button,
        command_button(texts.get("privacy_export"), "mijngegevens"),
        command_button(texts.get("privacy_forget"), "vergeetmij"),
        command_button(texts.get("button_menu"), "menu"),
    )
    return Reply().add(OutMessage(listed), OutMessage(text, buttons))


async def withdraw_question(ctx: Context) -> OutMessage:
    """Withdrawing consent: what goes and what stays, from what is stored."""
    texts = ctx.texts
    going = await kept_lines(ctx, after_withdrawal=False)
    lines = [texts.get("privacy_withdraw_confirm") if going else texts.get("privacy_withdraw_none")]
    lines += going
    lines += ["", texts.get("privacy_withdraw_stays"), *await kept_lines(ctx, True)]
    lines += ["", texts.get("privacy_withdraw_final")]
    return OutMessage(
        "\n".join(lines),
        rows(
            Button(texts.get("privacy_withdraw_yes"), OPTIONS.pack("privacy", "confirm")),
            Button(texts.get("privacy_withdraw_no"), OPTIONS.pack("privacy", "keep")),
        ),
    )


async def on_option(ctx: Context, event: Event) -> Reply:
    """Buttons `o:<what>:<value>[:<then>]` of onboarding, consent and privacy."""
    pressed = OPTIONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    what, value, then = pressed.action, pressed.text(0), pressed.text(1)
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
            await withdraw_question(ctx)
        )
    if what == "privacy" and value == "confirm" and ctx.has_consent:
        await withdraw(ctx.session, ctx.core.registry, ctx.caregiver.id)
        caregiver.consent_version = None
        caregiver.consent_at = None
        caregiver.consent_declined_at = ctx.now
        await ctx.session.flush()
        staying = "\n".join([ctx.texts.get("privacy_withdrawn"), *await kept_lines(ctx)])
        return Reply(pressed_label=ctx.texts.get("privacy_withdraw_yes")).add(
            OutMessage(f"{staying}\n\n{ctx.texts.get('privacy_withdrawn_more')}"),
            ctx.menu_message(),
        )
    if what == "privacy" and value == "keep":
        return Reply(pressed_label=ctx.texts.get("privacy_withdraw_no")).add(
            OutMessage(ctx.texts.get("privacy_kept")), ctx.menu_message()
        )
    return ctx.stale_button()


async def on_menu_button(ctx: Context, event: Event) -> Reply:
    """Menu buttons `m:<command>` behave exactly like typing the command."""
    pressed = COMMANDS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    command = pressed.action
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
