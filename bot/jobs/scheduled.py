"""Time-based work as rows with a due time: the table, DST-correct recurrences, the claim.

Features register a handler per `kind` in `Registry.scheduled`; the scheduler's interval job calls
`deliver_due`, which claims due rows, lets each handler build its message, sends it through the one
sender (bulk) and records the outcome. Check-ins, evening reminders and deliveries all use this.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, Integer, Select, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.app.dispatch import BotCore, Context
from bot.db.models import Base, Caregiver
from bot.engine.output import OutMessage
from bot.text.dates import at_local, local_date
from bot.text.i18n import DEFAULT_TIMEZONE, choose_locale
from bot.transport.sender import Sender

log = logging.getLogger(__name__)

# Messages the bot starts itself never arrive between 22:00 and 08:00, unless the caregiver chose
# a time in that window (then the row carries payload["quiet_ok"]).
QUIET_START = time(22, 0)
QUIET_END = time(8, 0)
# A claimed row whose claimer vanished (crash between claim and send) is claimed again after this.
# It must outlast the sending of one batch, or a slow batch would be claimed (and sent) twice.
CLAIM_LEASE = timedelta(minutes=10)
# A missed quiet-hours slot is only still sent if the bot is at most this late with it.
QUIET_GRACE = timedelta(hours=1)
BATCH = 200

Status = Literal["pending", "claimed", "sent", "failed", "blocked", "skipped"]
Cadence = Literal["weekly", "biweekly", "monthly"]


class ScheduledMessage(Base):
    """One message the bot will send by itself at `due_at` (UTC), of a feature's `kind`.

    `pending` rows wait; a tick makes them `claimed` (by `claimed_by`, at `claimed_at`) and then
    `sent`, `failed`, `blocked` or `skipped`. `payload` is the feature's own data for the handler.
    """

    __tablename__ = "scheduled_message"
    # The claim reads `status = 'pending' AND due_at <= now ORDER BY due_at`: this index makes a
    # tick cost O(due rows), whatever the number of caregivers or of rows already sent.
    __table_args__ = (Index("ix_scheduled_message_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))


# ---------------------------------------------------------------- time: pure functions


@dataclass(frozen=True)
class Recurrence:
    """A wall-clock rhythm in the caregiver's time zone: weekly, every two weeks, or monthly
    (the first `weekday` of each month), at `at` local time."""

    cadence: Cadence
    weekday: int  # 0 = Monday
    at: time
    tz: str = DEFAULT_TIMEZONE

    @property
    def quiet_ok(self) -> bool:
        """A time chosen inside quiet hours is the caregiver's own wish, so it is kept."""
        return in_quiet_window(self.at)


def _first_weekday_of_month(year: int, month: int, weekday: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def next_occurrence(rule: Recurrence, after: datetime, anchor: date | None = None) -> datetime:
    """The first moment of `rule` strictly after `after` (UTC).

    `anchor` is the local date of an earlier occurrence: every two weeks keeps its rhythm from it.
    However long `after` lies past the anchor, the result is one future moment, never a backlog.
    """
    today = local_date(after, rule.tz)
    if rule.cadence == "monthly":
        year, month = today.year, today.month
        while True:
            day = _first_weekday_of_month(year, month, rule.weekday)
            moment = at_local(day, rule.at, rule.tz)
            if moment > after:
                return moment
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    step = 7 if rule.cadence == "weekly" else 14
    if anchor is not None and anchor.weekday() == rule.weekday:
        day = anchor + timedelta(days=max(0, (today - anchor).days // step) * step)
    else:
        day = today + timedelta(days=(rule.weekday - today.weekday()) % 7)
    while (moment := at_local(day, rule.at, rule.tz)) <= after:
        day += timedelta(days=step)
    return moment


def in_quiet_window(at: time) -> bool:
    return at >= QUIET_START or at < QUIET_END


def in_quiet_hours(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> bool:
    return in_quiet_window(moment.astimezone(ZoneInfo(tz)).time())


def after_quiet_hours(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """`moment` itself, or the end of the quiet hours it falls in (08:00 local)."""
    if not in_quiet_hours(moment, tz):
        return moment
    local = moment.astimezone(ZoneInfo(tz))
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return at_local(day, QUIET_END, tz)


def may_send_now(
    due_at: datetime, now: datetime, quiet_ok: bool, tz: str = DEFAULT_TIMEZONE
) -> bool:
    """Outside quiet hours always; inside only for a chosen quiet-hours time, and not hours late."""
    if not in_quiet_hours(now, tz):
        return True
    return quiet_ok and now - due_at <= QUIET_GRACE


# ---------------------------------------------------------------- rows


def schedule(
    session: AsyncSession,
    caregiver_id: int,
    kind: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> ScheduledMessage:
    """Add a pending row; it is sent by the first tick at or after `due_at`."""
    row = ScheduledMessage(
        kind=kind,
        caregiver_id=caregiver_id,
        due_at=due_at,
        status="pending",
        attempts=0,
        payload=payload or {},
        created_at=now,
    )
    session.add(row)
    return row


def worker_name() -> str:
    """Who claims: host, process and a random part, so two processes never share a name."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def due_ids(now: datetime, limit: int) -> Select[Any]:
    """The ids of the earliest due pending rows, locked (PostgreSQL) and skipping locked ones."""
    return (
        select(ScheduledMessage.id)
        .where(ScheduledMessage.status == "pending", ScheduledMessage.due_at <= now)
        .order_by(ScheduledMessage.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def claim_due(
    session: AsyncSession,
    now: datetime,
    worker: str,
    limit: int = BATCH,
    lease: timedelta = CLAIM_LEASE,
) -> list[ScheduledMessage]:
    """Mark up to `limit` due rows as claimed by `worker`, earliest first, and return them.

    PostgreSQL: `FOR UPDATE SKIP LOCKED` lets concurrent claimers take disjoint rows without
    waiting. SQLite: an UPDATE holds the one write lock, so claims are serialised. Rows claimed
    longer than `lease` ago (their claimer died before finishing) are claimed again.
    """
    stale = (
        select(ScheduledMessage.id)
        .where(
            ScheduledMessage.status == "claimed",
            ScheduledMessage.claimed_at <= now - lease,
        )
        .order_by(ScheduledMessage.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed: list[ScheduledMessage] = []
    for ids in (stale, due_ids(now, limit)):
        if len(claimed) >= limit:
            break
        result = await session.scalars(
            update(ScheduledMessage)
            .where(ScheduledMessage.id.in_(ids.limit(limit - len(claimed)).scalar_subquery()))
            .values(
                status="claimed",
                claimed_by=worker,
                claimed_at=now,
                attempts=ScheduledMessage.attempts + 1,
            )
            .returning(ScheduledMessage)
            .execution_options(synchronize_session=False)
        )
        claimed.extend(result.all())
    return sorted(claimed, key=lambda r: (r.due_at, r.id))


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    blocked: int = 0


def _release(row: ScheduledMessage, due_at: datetime | None = None) -> None:
    """Give a claimed row back, untouched, for a later tick."""
    row.status = "pending"
    row.claimed_by = None
    row.claimed_at = None
    row.attempts -= 1
    if due_at is not None:
        row.due_at = due_at


async def prepare_due(
    core: BotCore, worker: str, limit: int = BATCH
) -> tuple[list[tuple[int, int, OutMessage]], TickReport]:
    """Claim due rows and let their handlers build the messages, in one transaction.

    Handlers run with the caregiver row locked, like an update in `BotCore.handle`, so what they
    store (the next occurrence, what is asked now) never races with the caregiver's own taps.
    """
    now = core.clock.now()
    report = TickReport()
    outgoing: list[tuple[int, int, OutMessage]] = []
    async with core.db.transaction() as session:
        rows = await claim_due(session, now, worker, limit)
        report.claimed = len(rows)
        if not rows:
            return outgoing, report
        # SKIP LOCKED: a caregiver busy in an update right now is served by the next tick; the
        # tick never waits on a caregiver lock, so it cannot deadlock with updates.
        caregivers = {
            c.id: c
            for c in await session.scalars(
                select(Caregiver)
                .where(Caregiver.id.in_({r.caregiver_id for r in rows}))
                .with_for_update(skip_locked=True)
            )
        }
        for row in rows:
            caregiver = caregivers.get(row.caregiver_id)
            handler = core.registry.scheduled.get(row.kind)
            if caregiver is None:
                _release(row)
                report.deferred += 1
                continue
            if handler is None or caregiver.unreachable_at is not None:
                row.status, row.finished_at = "skipped", now
                report.skipped += 1
                continue
            if not may_send_now(row.due_at, now, bool(row.payload.get("quiet_ok"))):
                _release(row, after_quiet_hours(now))
                report.deferred += 1
                continue
            locale = choose_locale(caregiver.locale, None)
            ctx = Context(session, caregiver, core.texts_for(locale), now, core)
            message = await handler(ctx, row)
            if message is None:
                row.status, row.finished_at = "skipped", now
                report.skipped += 1
                continue
            outgoing.append((row.id, caregiver.chat_id, message))
    return outgoing, report


async def deliver_due(core: BotCore, sender: Sender, worker: str, limit: int = BATCH) -> TickReport:
    """One tick: claim, build, send (bulk, through the one sender), record each outcome.

    Crash safety: the claim is committed before sending; a row whose claimer dies before the
    outcome is recorded is claimed again after `CLAIM_LEASE`. So nothing is lost, and at most the
    one batch in flight at a crash can be sent twice.
    """
    outgoing, report = await prepare_due(core, worker, limit)
    if not outgoing:
        return report
    outcomes = await asyncio.gather(
        *(sender.send(chat_id, message, bulk=True) for _, chat_id, message in outgoing)
    )
    finished = core.clock.now()
    # One UPDATE per distinct outcome, not per row: a tick of thousands stays a few statements.
    by_outcome: dict[tuple[str, str | None], list[int]] = {}
    for (row_id, _, _), outcome in zip(outgoing, outcomes, strict=True):
        by_outcome.setdefault((outcome.status, outcome.error), []).append(row_id)
        setattr(report, outcome.status, getattr(report, outcome.status) + 1)
    async with core.db.transaction() as session:
        for (status, error), ids in by_outcome.items():
            await session.execute(
                update(ScheduledMessage)
                .where(ScheduledMessage.id.in_(ids), ScheduledMessage.claimed_by == worker)
                .values(status=status, finished_at=finished, error=error)
            )
    return report
