"""Keeping personal data no longer than needed: old answers go, inactive caregivers are asked once.

A periodic sweep removes answers and results older than the retention period (every table
registered with a time, `PersonalData.timed`), asks caregivers who have not been in contact for a
long time whether to keep their data (a scheduled message, sent by the scheduling tick like any
other), and erases those who did not answer within the grace period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, exists, select

from bot.app.dispatch import BotCore, Context
from bot.app.personal_data import erase, months_before, remove_expired
from bot.app.registry import PeriodicJob, Registry
from bot.db.models import Caregiver
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, rows
from bot.jobs.scheduled import ScheduledMessage, schedule

log = logging.getLogger(__name__)
ASK_KIND = "retention_ask"
# r:keep | r:erase, the answer to the question whether to keep the data.
BUTTONS = ButtonCodec("r", {"keep": (), "erase": ()})
SWEEP_BATCH = 1000
FINISHED = ("sent", "blocked", "failed", "skipped")


@dataclass
class SweepReport:
    answers_removed: int = 0
    asked: int = 0
    erased: int = 0


async def sweep(core: BotCore) -> SweepReport:
    """One pass of the retention rules, in one transaction."""
    policy = core.retention
    now = core.clock.now()
    report = SweepReport()
    inactive_cutoff = months_before(now, policy.inactive_months)
    async with core.db.transaction(off_loop=True) as session:
        # Every registered table with a time (`PersonalData.timed`), and positions of view-only
        # dialogs left halfway (`PersonalData.transient`).
        report.answers_removed += await remove_expired(session, core.registry, policy, now)

        asked_since_contact = exists().where(
            ScheduledMessage.caregiver_id == Caregiver.id,
            ScheduledMessage.kind == ASK_KIND,
            ScheduledMessage.created_at >= Caregiver.last_seen_at,
        )
        to_ask = await session.scalars(
            select(Caregiver.id)
            .where(Caregiver.last_seen_at < inactive_cutoff, ~asked_since_contact)
            .limit(SWEEP_BATCH)
        )
        for caregiver_id in to_ask:
            schedule(session, caregiver_id, ASK_KIND, now, now)
            report.asked += 1

        # Asked (or tried: a blocked bot cannot ask) longer than the grace period ago, and no
        # contact since: they did not want to keep it, or cannot be reached any more.
        unanswered = exists().where(
            ScheduledMessage.caregiver_id == Caregiver.id,
            ScheduledMessage.kind == ASK_KIND,
            ScheduledMessage.status.in_(FINISHED),
            ScheduledMessage.finished_at < now - timedelta(days=policy.grace_days),
            ScheduledMessage.created_at >= Caregiver.last_seen_at,
        )
        expired = list(
            await session.scalars(
                select(Caregiver)
                .where(and_(Caregiver.last_seen_at < inactive_cutoff, unanswered))
                .limit(SWEEP_BATCH)
            )
        )
        for caregiver in expired:
            await erase(session, core.registry, caregiver)
        report.erased = len(expired)
    if report.answers_removed or report.asked or report.erased:
        log.info("retention sweep: %s", report)
    return report


async def ask_to_keep(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    """The scheduled question; its first line says nothing personal (lock screens)."""
    texts = ctx.texts
    return OutMessage(
        texts.get("retention_question", days=ctx.core.retention.grace_days),
        rows(
            Button(texts.get("retention_keep"), BUTTONS.pack("keep")),
            Button(texts.get("retention_erase"), BUTTONS.pack("erase")),
        ),
    )


async def on_button(ctx: Context, event: Event) -> Reply:
    texts = ctx.texts
    pressed = BUTTONS.unpack(event.text)
    if pressed is not None and pressed.action == "keep":
        # Any contact counts: last_seen_at is already updated by the core for this update.
        return Reply(pressed_label=texts.get("retention_keep")).add(
            OutMessage(texts.get("retention_kept")), ctx.menu_message()
        )
    if pressed is not None and pressed.action == "erase":
        await erase(ctx.session, ctx.core.registry, ctx.caregiver)
        return Reply(pressed_label=texts.get("retention_erase")).add(
            OutMessage(texts.get("forget_done"))
        )
    return ctx.stale_button()


class RetentionJob:
    """The sweep as a periodic job (every 6 hours, the first a minute after the start)."""

    def __init__(self, core: BotCore) -> None:
        self.core = core

    async def run(self) -> None:
        await sweep(self.core)

    def stop(self) -> None:
        """A sweep is one transaction: nothing to hand back."""


def register(registry: Registry) -> None:
    registry.periodic.append(
        PeriodicJob(
            "retention_sweep",
            timedelta(hours=6),
            lambda core, _sender, _worker: RetentionJob(core),
            first_after=timedelta(minutes=1),
        )
    )
    registry.scheduled[ASK_KIND] = ask_to_keep
    registry.buttons[BUTTONS.prefix] = on_button
