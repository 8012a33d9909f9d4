"""Features, one package each, wired together here in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import true

from bot.app.registry import MenuEntry, PersonalData, Registry, RegistryConflict
from bot.db.console import ConsoleSession
from bot.db.models import Base, OpenStep
from bot.engine.spec import DIALOGS_DIR
from bot.features.broadcast import compose as broadcast
from bot.features.broadcast import console as broadcast_console
from bot.features.checkin import handlers as checkin
from bot.features.evenings import console as evenings_console
from bot.features.evenings import families as evenings
from bot.features.evenings import staff as evenings_staff
from bot.features.handover import console as handover_console
from bot.features.handover import handlers as handover
from bot.features.insight import console as insight_console
from bot.features.insight import handlers as insight
from bot.features.inspraak import console as inspraak_console
from bot.features.inspraak import handlers as inspraak
from bot.features.kitchentable import handlers as kitchentable
from bot.features.onboarding import handlers as onboarding
from bot.features.privacy import handlers as privacy
from bot.features.privacy import retention
from bot.features.questionnaire import handlers as questionnaire
from bot.features.respite import handlers as respite
from bot.features.situation import handlers as situation
from bot.features.staff import handlers as staff
from bot.features.steunpunt import card as steunpunt_card
from bot.features.steunpunt import console as steunpunt_console
from bot.features.steunpunt import handlers as steunpunt
from bot.jobs.scheduled import ScheduledMessage
from bot.text.content import Content, load_content

# Dialog end actions the features provide; dialog files are validated against these names.
ACTIONS = (
    questionnaire.RESULT_ACTION,
    respite.ADVICE_ACTION,
    respite.NOW_ACTION,
    checkin.SAVE_ACTION,
    checkin.PAUSE_ACTION,
    checkin.OFF_ACTION,
    situation.WORK_ACTION,
    steunpunt_card.PREVIEW_ACTION,
    steunpunt_card.MUNICIPALITY_ACTION,
    kitchentable.SUMMARY_ACTION,
    evenings_staff.CREATE_ACTION,
    evenings_staff.APPLY_ACTION,
    evenings_staff.STOPPED_ACTION,
    broadcast.SEND_ACTION,
    broadcast.SCHEDULE_ACTION,
    broadcast.STOPPED_ACTION,
    handover.SUMMARY_ACTION,
)


def load(directory: Path = DIALOGS_DIR) -> tuple[Content, Registry]:
    content = load_content(directory, ACTIONS)
    registry = Registry()
    # In this order; the order decides nothing else: a second claim of a command, button prefix,
    # menu slot or input owner stops the start (`RegistryConflict`).
    features: list[tuple[str, Callable[[], None]]] = [
        ("onboarding", lambda: onboarding.register(registry)),
        ("questionnaire", lambda: questionnaire.register(registry, dict(content.dialogs))),
        ("privacy", lambda: privacy.register(registry)),
        ("retention", lambda: retention.register(registry)),
        ("checkin", lambda: checkin.register(registry, directory)),
        ("steunpunt", lambda: steunpunt.register(registry, directory)),
        ("respite", lambda: respite.register(registry, content, directory)),
        ("situation", lambda: situation.register(registry, content, directory)),
        ("staff", lambda: staff.register(registry)),
        ("evenings", lambda: evenings.register(registry)),
        ("broadcast", lambda: broadcast.register(registry)),
        ("kitchentable", lambda: kitchentable.register(registry, dict(content.dialogs))),
        # The features' pages of the staff web console (bot/console).
        ("broadcast", lambda: broadcast_console.register(registry)),
        ("evenings", lambda: evenings_console.register(registry)),
        ("steunpunt", lambda: steunpunt_console.register(registry)),
        # After the features whose things a caregiver may share with the steunpunt.
        ("handover", lambda: handover.register(registry, dict(content.dialogs))),
        ("handover", lambda: handover_console.register(registry)),
        ("inspraak", lambda: inspraak.register(registry)),
        ("insight", lambda: insight.register(registry)),
        ("inspraak", lambda: inspraak_console.register(registry)),
        ("insight", lambda: insight_console.register(registry)),
    ]
    for name, register in features:
        registry.feature = name
        register()
    registry.feature = "core"
    # The staff web console (bot/console, served by `serve`): a Web App button in the staff menu.
    registry.staff_menu.append(MenuEntry("console", "console_menu", 5, web_app="/console/"))
    _core_personal_data(registry)
    registry.check()
    _check_dialog_hooks(content, registry)
    registry.check_personal_data(Base.metadata)
    return content, registry


def _check_dialog_hooks(content: Content, registry: Registry) -> None:
    """Every check, fill, guard and show a dialog file names is provided by a feature."""
    problems = []
    for dialog in content.dialogs.values():
        named: list[tuple[str, str | None, Mapping[str, object]]] = [
            ("check", s.check, registry.checks) for s in dialog.steps.values()
        ]
        named += [("show", s.show, registry.shows) for s in dialog.steps.values()]
        named += [("fill", dialog.fill, registry.fills), ("guard", dialog.guard, registry.guards)]
        for kind, name, provided in named:
            if name and "." in name and name not in provided:
                problems.append(f"{dialog.source}: {kind} {name!r} is provided by no feature")
    if problems:
        raise RegistryConflict("; ".join(problems))


def _core_personal_data(registry: Registry) -> None:
    """The app's own tables with caregiver data: the open step, and the messages the bot sends
    by itself (those of kinds asked for without consent stay when it is withdrawn)."""
    registry.add_personal_data(
        PersonalData(OpenStep, OpenStep.caregiver_id, label="kept_open_step"),
        # Signed-in console sessions of staff; ended ones go with the sweep of transient rows.
        PersonalData(
            ConsoleSession,
            ConsoleSession.caregiver_id,
            label="kept_console_session",
            kept_without_consent=True,
            transient=true(),
            transient_since=ConsoleSession.expires_at,
        ),
        PersonalData(
            ScheduledMessage,
            ScheduledMessage.caregiver_id,
            label="kept_scheduled",
            kept_when=lambda r: ScheduledMessage.kind.in_(sorted(r.kept_without_consent)),
        ),
    )
