"""Features, one package each, wired together here in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.app.registry import Registry
from bot.engine.spec import DIALOGS_DIR
from bot.features.broadcast import compose as broadcast
from bot.features.checkin import handlers as checkin
from bot.features.evenings import families as evenings
from bot.features.kitchentable import handlers as kitchentable
from bot.features.onboarding import handlers as onboarding
from bot.features.privacy import handlers as privacy
from bot.features.privacy import retention
from bot.features.questionnaire import handlers as questionnaire
from bot.features.respite import handlers as respite
from bot.features.staff import handlers as staff
from bot.features.steunpunt import handlers as steunpunt
from bot.text.content import Content, load_content

# Dialog end actions the features provide; dialog files are validated against these names.
ACTIONS = (
    questionnaire.RESULT_ACTION,
    respite.ADVICE_ACTION,
    respite.NOW_ACTION,
    checkin.SAVE_ACTION,
    checkin.PAUSE_ACTION,
    checkin.OFF_ACTION,
    kitchentable.SUMMARY_ACTION,
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
        ("staff", lambda: staff.register(registry)),
        ("evenings", lambda: evenings.register(registry)),
        ("broadcast", lambda: broadcast.register(registry)),
        ("kitchentable", lambda: kitchentable.register(registry, dict(content.dialogs))),
    ]
    for name, register in features:
        registry.feature = name
        register()
    registry.feature = "core"
    registry.check()
    return content, registry
