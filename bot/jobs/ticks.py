"""Periodic work on APScheduler's asyncio scheduler: the tick that delivers due scheduled rows
(check-ins and every other message the bot sends by itself) and pruning old update ids.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.dispatch import BotCore
from bot.features.broadcast.delivery import NoticeDeliverer
from bot.features.privacy import retention
from bot.jobs.scheduled import deliver_due, worker_name
from bot.transport.sender import Sender

log = logging.getLogger(__name__)
TICK_SECONDS = 5
NOTICE_TICK_SECONDS = 2


def make_scheduler(
    core: BotCore, sender: Sender | None = None, worker: str | None = None
) -> AsyncIOScheduler:
    """The scheduler of one process; with a `sender`, it also delivers due scheduled messages
    (claiming as `worker`, by default a new `worker_name()`)."""
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def prune() -> None:
        removed = await core.prune_processed_updates()
        if removed:
            log.info("pruned %d processed update ids", removed)

    scheduler.add_job(prune, "interval", hours=1, id="prune_processed_updates", coalesce=True)

    async def keep_no_longer_than_needed() -> None:
        await retention.sweep(core)

    scheduler.add_job(
        keep_no_longer_than_needed, "interval", hours=6, id="retention_sweep", coalesce=True,
        max_instances=1, next_run_time=datetime.now(UTC) + timedelta(minutes=1),
    )  # fmt: skip
    if sender is not None:
        worker = worker or worker_name()

        async def tick() -> None:
            report = await deliver_due(core, sender, worker)
            if report.claimed:
                log.info("scheduled messages: %s", report)

        # One tick at a time per process (max_instances); the first right at start, so what fell
        # due while the bot was down goes out at once.
        scheduler.add_job(
            tick,
            "interval",
            seconds=TICK_SECONDS,
            id="deliver_due",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )

        # Staff notices: a run sends everything pending (rate limited by the sender), so one
        # job at a time; a run that is still busy simply skips the next start.
        deliverer = NoticeDeliverer(core, sender, worker)
        scheduler.add_job(
            deliver_notices,
            "interval",
            args=[deliverer],
            seconds=NOTICE_TICK_SECONDS,
            id="deliver_notices",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
    return scheduler


async def deliver_notices(deliverer: NoticeDeliverer) -> None:
    report = await deliverer.run()
    if report.claimed or report.started or report.taken_back:
        log.info("notices: %s", report)


async def stop(scheduler: AsyncIOScheduler) -> None:
    """Graceful stop: start no job any more and wait for the running ones. A tick in flight sends
    its batch and records the outcomes; the notice deliverer claims nothing more and returns once
    what it has in flight is recorded. Bound it with a timeout: after `scheduler.shutdown()` a
    job still running is cancelled (see `bot.jobs.shutdown`)."""
    if not scheduler.running:
        return
    scheduler.pause()
    notices = scheduler.get_job("deliver_notices")
    if notices is not None:
        notices.args[0].stop()
    # APScheduler 3's asyncio executor keeps the task of every running coroutine job here; its
    # own shutdown() cancels them instead of waiting (it cannot await).
    executor = scheduler._lookup_executor("default")
    running = set(getattr(executor, "_pending_futures", ()))
    if running:
        await asyncio.wait(running)
    scheduler.shutdown(wait=False)
