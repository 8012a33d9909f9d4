"""What the respite feature lets other features count, without their importing its tables: the
forms advised in a period, per caregiver, and the forms' titles (area insight reads these)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.spec import DIALOGS_DIR, load_yaml
from bot.features.respite.models import RespiteAdvice


async def advised_forms(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, tuple[str, ...]]]:
    """(caregiver id, advised form ids) of every advice given in [since, until); a caregiver
    advised twice appears twice (count distinct caregivers yourself)."""
    rows = await session.execute(
        select(RespiteAdvice.caregiver_id, RespiteAdvice.option_ids).where(
            RespiteAdvice.advised_at >= since, RespiteAdvice.advised_at < until
        )
    )
    return [(caregiver_id, tuple(option_ids or ())) for caregiver_id, option_ids in rows.all()]


def form_titles(directory: Path = DIALOGS_DIR) -> dict[str, str]:
    """form id -> its title (a Dutch text; translate it with `Texts.tr`), in the file's order."""
    data = load_yaml(directory / "data" / "respite_options.yaml") or {}
    return {
        str(item["id"]): str(item["messages"]["title"]).strip()
        for item in data.get("options") or []
        if isinstance(item, dict) and "id" in item
    }
