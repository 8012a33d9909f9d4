"""Periodic housekeeping on APScheduler's asyncio scheduler.

Time-based work for caregivers (check-ins, reminders, deliveries) will be rows with a due time,
claimed by a tick here; today the tick prunes old processed-update ids.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import BotCore

log = logging.getLogger(__name__)


def make_scheduler(core: BotCore) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def prune() -> None:
        removed = await core.prune_processed_updates()
        if removed:
            log.info("pruned %d processed update ids", removed)

    scheduler.add_job(prune, "interval", hours=1, id="prune_processed_updates", coalesce=True)
    return scheduler
