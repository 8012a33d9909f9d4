"""Periodic work on APScheduler's asyncio scheduler: the tick that delivers due scheduled rows
(check-ins and every other message the bot sends by itself), pruning old update ids, and the
periodic jobs features register (`Registry.periodic`: the retention sweep, notice delivery).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.dispatch import BotCore
from bot.app.registry import Job
from bot.jobs.scheduled import deliver_due, worker_name
from bot.transport.sender import Sender

log = logging.getLogger(__name__)
TICK_SECONDS = 5
# Where a job's object lives on the scheduler, for the graceful stop.
JOBS_KEY = "bot_jobs"


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

    worker = worker or worker_name()
    jobs: list[Job] = []
    for periodic in core.registry.periodic:
        job = periodic.make(core, sender, worker)
        if job is None:
            continue
        jobs.append(job)
        # One run at a time per process (max_instances); a run still busy skips the next start.
        scheduler.add_job(
            job.run, "interval", seconds=periodic.every.total_seconds(), id=periodic.id,
            coalesce=True, max_instances=1,
            next_run_time=datetime.now(UTC) + periodic.first_after,
        )  # fmt: skip
    setattr(scheduler, JOBS_KEY, jobs)
    if sender is not None:

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

    return scheduler


async def stop(scheduler: AsyncIOScheduler) -> None:
    """Graceful stop: start no job any more and wait for the running ones. A tick in flight sends
    its batch and records the outcomes; each registered job is told to stop (the notice
    deliverer claims nothing more and returns once what it has in flight is recorded). Bound it
    with a timeout: after `scheduler.shutdown()` a job still running is cancelled (see
    `bot.jobs.shutdown`)."""
    if not scheduler.running:
        return
    scheduler.pause()
    for job in getattr(scheduler, JOBS_KEY, ()):
        job.stop()
    # APScheduler 3's asyncio executor keeps the task of every running coroutine job here; its
    # own shutdown() cancels them instead of waiting (it cannot await).
    executor = scheduler._lookup_executor("default")
    running = set(getattr(executor, "_pending_futures", ()))
    if running:
        await asyncio.wait(running)
    scheduler.shutdown(wait=False)
