"""Graceful shutdown of `run` and `serve` on SIGTERM (a deploy, a scale-down, `docker stop`).

In order, bounded by `Settings.shutdown_timeout`:
1. stop taking work: `serve` closes its listening socket (new connections are refused); `run`
   stops polling (no new batch is fetched);
2. finish the work in hand, at the same time: the webhook requests in flight, or the batch the
   poller holds, are handled (each update's transaction commits and its replies are sent; the
   poller then confirms the batch to Telegram), the scheduler starts nothing new and its running
   tick sends its batch and records the outcomes;
3. give back what this worker still holds: its claimed scheduled messages and notice deliveries
   become pending again (attempts not counted), so another instance sends them at its next tick
   instead of after the claim lease;
then the caller closes the database. When the time is up (or a second signal arrives), whatever
still runs is cancelled and step 3 happens anyway; the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy import update

from bot.db.session import Database, rowcount
from bot.jobs.scheduled import ScheduledMessage
from bot.jobs.ticks import stop as stop_scheduler

log = logging.getLogger(__name__)
# After the time is up: how long cancelled work gets to unwind before the claims are released.
UNWIND_SECONDS = 2.0


async def release_claims(db: Database, worker: str, tables: Sequence[Any] = ()) -> int:
    """Claims `worker` holds go back to pending with their attempt not counted; returns how many.

    Only called once nothing of this worker sends any more, so a released row is never sent by
    this process as well."""
    released = 0
    async with db.transaction() as session:
        for table in (ScheduledMessage, *tables):
            result = await session.execute(
                update(table)
                .where(table.status == "claimed", table.claimed_by == worker)
                .values(
                    status="pending",
                    claimed_by=None,
                    claimed_at=None,
                    attempts=table.attempts - 1,
                )
                .execution_options(synchronize_session=False)
            )
            released += rowcount(result)
    return released


@dataclass
class Stopping:
    """What one `run`/`serve` process has to stop."""

    # Returns once the updates taken are handled: serve: close the site; run: stop the poller.
    stop_intake: Callable[[], Awaitable[None]]
    scheduler: AsyncIOScheduler
    db: Database
    worker: str
    # What else this worker may hold claims on (`Registry.claimed_tables`).
    claimed_tables: Sequence[Any] = ()


async def shutdown(stopping: Stopping, limit: float, hurry: asyncio.Event) -> bool:
    """Stop gracefully within `limit` seconds (or until `hurry` is set); True if all the work
    in hand finished, False if it had to be cut off. Claims are released in both cases."""
    started = time.monotonic()
    log.info("stopping: no new work; finishing what is in hand (at most %.0f s)", limit)

    async def drain() -> None:
        await asyncio.gather(stopping.stop_intake(), stop_scheduler(stopping.scheduler))

    draining = asyncio.create_task(drain())
    hurried = asyncio.create_task(hurry.wait())
    await asyncio.wait({draining, hurried}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    finished = draining.done() and not draining.cancelled() and draining.exception() is None
    if draining.done() and draining.exception() is not None:
        log.error("error while stopping: %s", type(draining.exception()).__name__)
    if not draining.done():
        reason = "a second signal" if hurry.is_set() else f"{limit:.0f} s"
        log.error("stopping: gave up after %s; cancelling the work still in hand", reason)
        await _cancel_everything_else(stopping.scheduler)
    try:
        released = await release_claims(stopping.db, stopping.worker, stopping.claimed_tables)
    except Exception as exc:  # the database may be what is failing; the lease still applies
        log.error("stopping: could not release claims: %s", type(exc).__name__)
    else:
        if released:
            log.info("stopping: released %d claimed message(s) for other instances", released)
    log.info("stopped in %.1f s", time.monotonic() - started)
    return finished


async def _cancel_everything_else(scheduler: AsyncIOScheduler) -> None:
    """Cancel every other task of this process (the drain, running jobs, the update handlers and
    the notice deliverer's sends) and wait briefly for them, so nothing of this worker sends after
    its claims are released."""
    if scheduler.state != STATE_STOPPED:  # cancels the running jobs' tasks
        scheduler.shutdown(wait=False)
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    if others:
        with contextlib.suppress(Exception):
            await asyncio.wait(others, timeout=UNWIND_SECONDS)
