"""Features, one module each, wired together here in one place."""

from __future__ import annotations

from pathlib import Path

from bot.content import Content, load_content
from bot.core import Registry
from bot.engine.dialog import DIALOGS_DIR
from bot.features import (
    broadcast,
    checkin,
    common,
    dialogs,
    evenings,
    privacy,
    respite,
    retention,
    staff,
    steunpunt,
)

# Dialog end actions the features provide; dialog files are validated against these names.
ACTIONS = (dialogs.RESULT_ACTION, respite.ADVICE_ACTION, respite.NOW_ACTION)


def load(directory: Path = DIALOGS_DIR) -> tuple[Content, Registry]:
    content = load_content(directory, ACTIONS)
    registry = Registry()
    common.register(registry)
    dialogs.register(registry, dict(content.dialogs))
    privacy.register(registry)
    retention.register(registry)
    checkin.register(registry, directory)
    steunpunt.register(registry, directory)
    respite.register(registry, content, directory)
    staff.register(registry)
    evenings.register(registry)
    broadcast.register(registry)
    return content, registry
