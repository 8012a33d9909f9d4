"""Delivering staff notices: the audience, the notice as caregivers see it, and the deliverer.

A broadcast starts (at "Nu versturen", or when its scheduled time comes) by computing its audience
once and storing one `BroadcastDelivery` row per recipient in the same transaction; the count the
staff member sees at that moment is exactly the rows created. (The count in the preview is
computed the same way; a scheduled notice recomputes it when it starts, so whoever subscribed or
opted out in between is respected.)

The deliverer claims pending rows in chunks, sends them through the one sender (bulk, rate
limited; replies to chatting caregivers go first), and records each outcome. It keeps claiming
while work exists, with at most `WINDOW` rows claimed and not yet recorded at any moment.

Crash window: rows are claimed (committed) before they are sent and recorded after; a process
killed in between leaves at most `WINDOW` claimed rows. Those of them that Telegram had already
accepted are sent again after the restart: at most one window (200 messages), in practice only
the requests in flight and the outcomes of the last `FLUSH_SECONDS`. Claims of a dead worker are
taken back at once when it ran on this host (its process id no longer exists), otherwise when its
heartbeat is older than `DEAD_AFTER`; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from html import escape
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import BotCore
from bot.app.roles import Scope, scope_name
from bot.db.directory import CaregiverSteunpunt, Municipality, Steunpunt, SteunpuntMunicipality
from bot.db.models import Caregiver
from bot.db.session import dialect_of, rowcount, upsert_insert
from bot.db.staff import LocationSubscription, StaffMember
from bot.engine.output import Button, OutMessage
from bot.features.broadcast.models import (
    Broadcast,
    BroadcastDelivery,
    NoticeOptOut,
    WorkerHeartbeat,
)
from bot.jobs.scheduled import in_quiet_hours
from bot.text.content import Texts
from bot.text.dates import at_local, local_date
from bot.text.i18n import SUPPORTED_LOCALES, choose_locale
from bot.transport.sender import Sender, SendOutcome
from bot.transport.terminal import plain

log = logging.getLogger(__name__)

WINDOW = 200  # rows claimed and not yet recorded, per worker: the most a crash can send twice
CHUNK = 50  # claim when at least this many slots are free (fewer, larger claims)
FLUSH_SECONDS = 0.25  # outcomes are recorded at least this often
HEARTBEAT_SECONDS = 5.0
DEAD_AFTER = timedelta(seconds=30)
PROGRESS_SECONDS = 5.0
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024
FINISHED = ("sent", "blocked", "failed", "skipped", "cancelled")
# How far ahead a notice may be planned, and when one sent "now" at night goes out instead.
SCHEDULE_AHEAD = timedelta(days=366)
MORNING = clock_time(8, 0)


# ---------------------------------------------------------------- sources and audience


# The opt-out key of the operator's notices (questions to a municipality): one source.
OPERATOR_SOURCE = "o:operator"


def source_of(steunpunt_key: str | None, location_id: int | None) -> str:
    """The opt-out key of a notice's source: "s:<steunpunt key>", "l:<location id>", or
    `OPERATOR_SOURCE` for a notice of neither (the operator's)."""
    if steunpunt_key:
        return f"s:{steunpunt_key}"
    return f"l:{location_id}" if location_id is not None else OPERATOR_SOURCE


def served_codes(steunpunt_key: str) -> Select[Any]:
    return (
        select(SteunpuntMunicipality.municipality_code)
        .join(Steunpunt, Steunpunt.id == SteunpuntMunicipality.steunpunt_id)
        .where(Steunpunt.key == steunpunt_key)
    )


def reachable(source: str) -> list:
    """Caregivers who gave consent, have not blocked the bot and did not opt out of `source`."""
    opted_out = exists().where(
        NoticeOptOut.caregiver_id == Caregiver.id, NoticeOptOut.source == source
    )
    return [Caregiver.consent_version.is_not(None), Caregiver.unreachable_at.is_(None), ~opted_out]


def audience_query(
    *,
    steunpunt_key: str | None,
    location_id: int | None,
    audience: str,
    municipality_codes: list[str] | None = None,
) -> Select[Any]:
    """The caregiver ids a notice goes to.

    Steunpunt: caregivers who saved it as theirs or whose municipality it serves ("all"), or
    those of the chosen municipalities it serves ("municipalities"). Location: its subscribers.
    Neither (the operator's): the caregivers whose municipality is one of the chosen.
    """
    query = select(Caregiver.id).where(*reachable(source_of(steunpunt_key, location_id)))
    if location_id is not None:
        subscribers = select(LocationSubscription.caregiver_id).where(
            LocationSubscription.location_id == location_id
        )
        return query.where(Caregiver.id.in_(subscribers))
    if steunpunt_key is None:
        living_there = select(CaregiverSteunpunt.caregiver_id).where(
            CaregiverSteunpunt.municipality_code.in_(municipality_codes or [])
        )
        return query.where(Caregiver.id.in_(living_there))
    codes = served_codes(steunpunt_key)
    if audience == "municipalities":
        linked = select(CaregiverSteunpunt.caregiver_id).where(
            CaregiverSteunpunt.municipality_code.in_(codes),
            CaregiverSteunpunt.municipality_code.in_(municipality_codes or []),
        )
    else:
        linked = select(CaregiverSteunpunt.caregiver_id).where(
            or_(
                CaregiverSteunpunt.steunpunt_key == steunpunt_key,
                CaregiverSteunpunt.municipality_code.in_(codes),
            )
        )
    return query.where(Caregiver.id.in_(linked))


def broadcast_audience(broadcast: Broadcast) -> Select[Any]:
    return audience_query(
        steunpunt_key=broadcast.steunpunt_key,
        location_id=broadcast.location_id,
        audience=broadcast.audience,
        municipality_codes=list(broadcast.municipality_codes or []),
    )


async def count_audience(session: AsyncSession, broadcast: Broadcast) -> int:
    query = broadcast_audience(broadcast).subquery()
    return int(await session.scalar(select(func.count()).select_from(query)) or 0)


async def municipality_counts(
    session: AsyncSession, steunpunt_key: str
) -> list[tuple[str, str, int]]:
    """(code, name, reachable caregivers) of every municipality the steunpunt serves."""
    result = await session.execute(
        select(Municipality.code, Municipality.name)
        .join(SteunpuntMunicipality, SteunpuntMunicipality.municipality_code == Municipality.code)
        .join(Steunpunt, Steunpunt.id == SteunpuntMunicipality.steunpunt_id)
        .where(Steunpunt.key == steunpunt_key)
        .order_by(Municipality.name)
    )
    served = result.all()
    counted = dict(
        (
            await session.execute(
                select(CaregiverSteunpunt.municipality_code, func.count())
                .where(
                    CaregiverSteunpunt.caregiver_id.in_(
                        audience_query(
                            steunpunt_key=steunpunt_key,
                            location_id=None,
                            audience="municipalities",
                            municipality_codes=[code for code, _ in served],
                        )
                    )
                )
                .group_by(CaregiverSteunpunt.municipality_code)
            )
        ).all()
    )
    return [(code, name, int(counted.get(code, 0))) for code, name in served]


async def audience_label(texts: Texts, session: AsyncSession, broadcast: Broadcast) -> str:
    """Who a notice goes to, in words (the preview's and the audit's description)."""
    if broadcast.location_id is not None:
        return texts.get("notice_audience_label_location", source=broadcast.source_name)
    if broadcast.audience == "municipalities" and broadcast.steunpunt_key is not None:
        chosen = set(broadcast.municipality_codes or [])
        names = [
            name
            for code, name, _ in await municipality_counts(session, broadcast.steunpunt_key)
            if code in chosen
        ]
        return texts.get("notice_audience_label_municipalities", names=", ".join(names))
    return texts.get("notice_audience_label_all", source=broadcast.source_name)


async def new_notice(
    session: AsyncSession,
    scope: Scope | None,
    now: datetime,
    *,
    text_html: str,
    text_length: int,
    audience: str,
    municipality_codes: list[str],
    audience_label: str,
    sender_caregiver_id: int,
    sender_name: str,
    report_chat_id: int | None,
    extra: dict[str, Any] | None = None,
    operator_id: int | None = None,
    source_name: str = "",
) -> Broadcast:
    """A composed notice as its row, to be started (`send_now`) or planned (`schedule`) in the
    same transaction: of the staff member of `scope` (the sender's name is the membership's
    display name when it has one), or with `scope` None of the operator `operator_id` (their
    Telegram user id; the audience is "municipalities" and `source_name` names the sender)."""
    if scope is None:
        assert operator_id is not None and audience == "municipalities" and source_name
        member: StaffMember | None = None
    else:
        member = await session.get(StaffMember, scope.member_id)
        source_name = await scope_name(session, scope.steunpunt_key, scope.location_id)
    notice = Broadcast(
        status="scheduled",
        steunpunt_key=scope.steunpunt_key if scope else None,
        location_id=scope.location_id if scope else None,
        source_name=source_name,
        sender_member_id=scope.member_id if scope else None,
        sender_operator_id=None if scope else operator_id,
        sender_caregiver_id=sender_caregiver_id,
        sender_name=(member.display_name if member else "") or sender_name,
        text_html=text_html,
        text_length=text_length,
        audience=audience,
        municipality_codes=municipality_codes,
        audience_label=audience_label[:400],
        recipients=0,
        created_at=now,
        report_chat_id=report_chat_id,
        extra=extra or {},
    )
    session.add(notice)
    await session.flush()
    return notice


def time_problem(moment: datetime, now: datetime) -> str | None:
    """Why a notice cannot be planned at `moment`: "past", "too_far", "quiet" (the night), or
    None when it can."""
    if moment <= now:
        return "past"
    if moment > now + SCHEDULE_AHEAD:
        return "too_far"
    if in_quiet_hours(moment):
        return "quiet"
    return None


async def schedule(session: AsyncSession, broadcast: Broadcast, moment: datetime) -> None:
    """The composed notice waits for `moment` (checked with `time_problem` first)."""
    broadcast.status, broadcast.scheduled_for = "scheduled", moment
    broadcast.recipients = await count_audience(session, broadcast)


async def send_now(
    session: AsyncSession, broadcast: Broadcast, now: datetime, operators: Collection[int] = ()
) -> tuple[int | None, datetime | None]:
    """Start the composed notice now: (recipients, None); at night it is held until 08:00
    instead: (None, that morning). `operators`: see `start`."""
    if in_quiet_hours(now):
        local_day = local_date(now)
        morning = at_local(local_day, MORNING)
        moment = morning if morning > now else at_local(local_day + timedelta(days=1), MORNING)
        broadcast.status, broadcast.scheduled_for = "scheduled", moment
        return None, moment
    broadcast.status, broadcast.scheduled_for = "scheduled", now
    await session.flush()
    return await start(session, broadcast.id, now, operators) or 0, None


def sender_may_send(operators: Collection[int]) -> ColumnElement[bool]:
    """The notice's sender may still send it: the staff member who composed it still holds the
    role it was composed under, or the operator who composed it is still one of `operators`
    (the CONSOLE_OPERATORS setting, `BotCore.operators`)."""
    staff = exists().where(
        StaffMember.id == Broadcast.sender_member_id, StaffMember.revoked_at.is_(None)
    )
    operator = and_(  # never NULL: `~` of this must be true for a notice of nobody
        Broadcast.sender_member_id.is_(None),
        Broadcast.sender_operator_id.is_not(None),
        Broadcast.sender_operator_id.in_(sorted(set(operators))),
    )
    return or_(staff, operator)


async def start(
    session: AsyncSession, broadcast_id: int, now: datetime, operators: Collection[int] = ()
) -> int | None:
    """Scheduled -> sending: store one pending delivery per recipient; None if already started
    (by another instance) or cancelled. Returns the number of recipients.

    A notice whose sender may no longer send (a staff member revoked, or erased by
    `/vergeetmij`; an operator no longer in `operators`) is cancelled here instead: the right to
    send is checked when sending starts, not only when it was planned.
    """
    dropped = await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.status == "scheduled",
            ~sender_may_send(operators),
        )
        .values(status="cancelled", cancelled_at=now, finished_at=now)
    )
    if rowcount(dropped):
        log.warning("broadcast %d cancelled at its start: its sender may no longer send",
                    broadcast_id)  # fmt: skip
        return None
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
        .values(status="sending", started_at=now)
    )
    if not rowcount(result):
        return None
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    assert broadcast is not None
    ids = broadcast_audience(broadcast).subquery()
    await session.execute(
        insert(BroadcastDelivery).from_select(
            ["caregiver_id", "broadcast_id", "status", "attempts"],
            select(ids.c.id, literal(broadcast.id), literal("pending"), literal(0)),
        )
    )
    counted = await session.scalar(
        select(func.count()).where(BroadcastDelivery.broadcast_id == broadcast_id)
    )
    broadcast.recipients = int(counted or 0)
    return broadcast.recipients


async def audience_size(
    session: AsyncSession, steunpunt_key: str | None, municipality_codes: list[str]
) -> int:
    """How many caregivers a notice of the steunpunt (to these municipalities, or all) reaches;
    without a steunpunt (the operator's), the caregivers of these municipalities."""
    query = audience_query(
        steunpunt_key=steunpunt_key,
        location_id=None,
        audience="municipalities" if municipality_codes else "all",
        municipality_codes=municipality_codes,
    ).subquery()
    return int(await session.scalar(select(func.count()).select_from(query)) or 0)


async def was_sent_to(session: AsyncSession, broadcast_id: int, caregiver_id: int) -> bool:
    """Whether the notice went (or is going) to this caregiver: buttons on a notice answer only
    its recipients."""
    found = await session.scalar(
        select(BroadcastDelivery.id).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.caregiver_id == caregiver_id,
        )
    )
    return found is not None


async def cancel(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    """Stop a scheduled or running notice: nothing more goes out (rows in flight still finish)."""
    broadcast.status, broadcast.cancelled_at, broadcast.finished_at = "cancelled", now, now
    await session.execute(
        update(BroadcastDelivery)
        .where(
            BroadcastDelivery.broadcast_id == broadcast.id, BroadcastDelivery.status == "pending"
        )
        .values(status="cancelled", finished_at=now)
    )


async def cancel_planned_of(session: AsyncSession, member_id: int, now: datetime) -> list[int]:
    """Cancel the scheduled notices of a staff membership that ends; their ids."""
    planned = await session.scalars(
        select(Broadcast).where(
            Broadcast.sender_member_id == member_id, Broadcast.status == "scheduled"
        )
    )
    cancelled = []
    for broadcast in planned:
        await cancel(session, broadcast, now)
        cancelled.append(broadcast.id)
    return cancelled


# ---------------------------------------------------------------- what caregivers see


def notice_parts(texts: Texts, source_name: str) -> tuple[str, str]:
    """The notice's own header and footer. The header starts with two neutral lines: a lock
    screen shows no source (a steunpunt's or care home's name tells what it is about)."""
    source = "<b>" + texts.get("notice_header", source=source_name) + "</b>"
    header = f"{texts.get('notice_preview')}\n\n{source}"
    footer = "<i>" + texts.get("notice_footer", source=source_name) + "</i>"
    return header, footer


def notice_message(texts: Texts, broadcast: Broadcast) -> OutMessage:
    """The notice exactly as a caregiver gets it (the preview shows this too)."""
    return notice_of(
        texts,
        broadcast.source_name,
        broadcast.text_html,
        broadcast.extra or {},
        broadcast.media_kind,
        broadcast.media_file_id,
    )


def notice_of(
    texts: Texts,
    source_name: str,
    text_html: str,
    extra: Mapping[str, Any],
    media_kind: str | None = None,
    media_file_id: str | None = None,
) -> OutMessage:
    """A notice from its parts, for a preview before there is a row (`notice_message`).

    `extra` may give a notice more than its text, the same for every recipient and read in
    each one's language: "note", a message key shown under the text (with `{source}`), and
    "buttons", rows of {"data": button data, "label": text as typed | "key": a message key};
    a feature that puts buttons on a notice also handles their prefix (an inspraak question's
    answers). See `extras`."""
    header, footer = notice_parts(texts, source_name)
    note = extra.get("note")
    body = f"{text_html}\n\n{texts.get(note, source=source_name)}" if note else text_html
    text = f"{header}\n\n{body}\n\n{footer}"
    buttons = tuple(
        tuple(
            Button(texts.get(b["key"]) if "key" in b else escape(b["label"]), b["data"])
            for b in row
        )
        for row in extra.get("buttons") or ()
    )
    if media_kind == "photo":
        return OutMessage(text, buttons, photo_id=media_file_id or "")
    if media_kind == "document":
        return OutMessage(text, buttons, document_id=media_file_id or "")
    return OutMessage(text, buttons)


def extras(
    note: str | None = None, buttons: Iterable[Iterable[tuple[str, str, bool]]] = ()
) -> dict[str, Any]:
    """`Broadcast.extra` for a notice with a note and buttons: rows of (data, text, is_key)."""
    extra: dict[str, Any] = {"note": note} if note else {}
    extra["buttons"] = [
        [{"data": data, "key" if is_key else "label": text} for data, text, is_key in row]
        for row in buttons
    ]
    return extra


def text_limit(core: BotCore, source_name: str, with_media: bool) -> int:
    """How long the staff member's own text may be: Telegram's limit minus header and footer
    (in the longest of the languages caregivers get it in)."""
    overhead = 0
    for locale in SUPPORTED_LOCALES:
        header, footer = notice_parts(core.texts_for(locale), source_name)
        overhead = max(overhead, len(plain(header)) + len(plain(footer)) + 4)
    return (CAPTION_LIMIT if with_media else TEXT_LIMIT) - overhead


# ---------------------------------------------------------------- counts and reports


@dataclass
class Counts:
    sent: int = 0
    pending: int = 0
    blocked: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.pending + self.blocked + self.failed + self.skipped + self.cancelled


async def counts_of(session: AsyncSession, broadcast_id: int) -> Counts:
    result = await session.execute(
        select(BroadcastDelivery.status, func.count())
        .where(BroadcastDelivery.broadcast_id == broadcast_id)
        .group_by(BroadcastDelivery.status)
    )
    counts = Counts()
    for status, number in result.all():
        name = "pending" if status == "claimed" else status
        setattr(counts, name, getattr(counts, name) + int(number))
    return counts


def counts_text(texts: Texts, counts: Counts) -> str:
    line = texts.get(
        "notice_counts",
        sent=counts.sent,
        pending=counts.pending,
        blocked=counts.blocked,
        failed=counts.failed,
    )
    if counts.skipped or counts.cancelled:
        line += "\n" + texts.get(
            "notice_counts_more", skipped=counts.skipped, cancelled=counts.cancelled
        )
    return line


def progress_text(texts: Texts, broadcast: Broadcast, counts: Counts) -> str:
    key = {
        "sending": "notice_progress",
        "done": "notice_progress_done",
        "cancelled": "notice_progress_cancelled",
    }.get(broadcast.status, "notice_progress")
    title = texts.get_n(
        key, broadcast.recipients, total=broadcast.recipients, audience=broadcast.audience_label
    )
    return f"{title}\n{counts_text(texts, counts)}"


# ---------------------------------------------------------------- workers


def _host_and_pid(worker: str) -> tuple[str, int | None]:
    parts = worker.split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        return worker, None
    return parts[0], int(parts[1])


def died_on_this_host(worker: str) -> bool:
    """A worker of this machine whose process is gone (a `kill -9`, a crash)."""
    host, pid = _host_and_pid(worker)
    if pid is None or host != socket.gethostname()[:32]:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def beat(session: AsyncSession, worker: str, now: datetime) -> None:
    await session.execute(
        upsert_insert(dialect_of(session))(WorkerHeartbeat)
        .values(worker=worker, beat_at=now)
        .on_conflict_do_update(index_elements=["worker"], set_={"beat_at": now})
    )


async def take_back_dead_claims(session: AsyncSession, worker: str, now: datetime) -> int:
    """Claimed rows of workers that died go back to pending; returns how many."""
    claimers = set(
        await session.scalars(
            select(BroadcastDelivery.claimed_by)
            .where(BroadcastDelivery.status == "claimed", BroadcastDelivery.claimed_by != worker)
            .distinct()
        )
    )
    if not claimers:
        return 0
    alive = set(
        await session.scalars(
            select(WorkerHeartbeat.worker).where(
                WorkerHeartbeat.worker.in_(claimers), WorkerHeartbeat.beat_at > now - DEAD_AFTER
            )
        )
    )
    dead = [w for w in claimers if w is not None and (w not in alive or died_on_this_host(w))]
    if not dead:
        return 0
    result = await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.status == "claimed", BroadcastDelivery.claimed_by.in_(dead))
        .values(status="pending", claimed_by=None, claimed_at=None)
    )
    await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker.in_(dead)))
    log.warning(
        "took back %d notice deliveries of %d stopped worker(s)", rowcount(result), len(dead)
    )
    return rowcount(result)


# ---------------------------------------------------------------- the deliverer


@dataclass
class Claimed:
    delivery_id: int
    broadcast_id: int
    chat_id: int
    message: OutMessage


@dataclass
class DeliveryReport:
    started: int = 0
    claimed: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    skipped: int = 0
    taken_back: int = 0
    finished: list[int] = field(default_factory=list)


class NoticeJob:
    """Notice delivery as a periodic job (`Registry.periodic`): a run sends everything pending,
    rate limited by the sender; `stop()` claims nothing more."""

    def __init__(self, deliverer: NoticeDeliverer) -> None:
        self.deliverer = deliverer

    async def run(self) -> None:
        report = await self.deliverer.run()
        if report.claimed or report.started or report.taken_back:
            log.info("notices: %s", report)

    def stop(self) -> None:
        self.deliverer.stop()


class NoticeDeliverer:
    """Sends the pending deliveries of running broadcasts; one per process, `run()` per tick."""

    def __init__(
        self,
        core: BotCore,
        sender: Sender,
        worker: str,
        *,
        window: int = WINDOW,
        progress_seconds: float = PROGRESS_SECONDS,
    ) -> None:
        self.core = core
        self.sender = sender
        self.worker = worker
        self.window = window
        self.chunk = min(CHUNK, window)
        self.progress_seconds = progress_seconds
        self._done: list[tuple[int, SendOutcome]] = []
        self._wake = asyncio.Event()
        self._in_flight = 0
        self._last_beat = float("-inf")
        self._last_progress: dict[int, float] = {}
        self._messages: dict[tuple[int, str], OutMessage] = {}
        self._stopping = False

    def stop(self) -> None:
        """Claim nothing more; `run()` returns once what is in flight is recorded."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> DeliveryReport:
        """Start due broadcasts, then deliver until no pending row is left (or `stop()`)."""
        report = DeliveryReport()
        report.started = await self.start_due()
        await self._heartbeat(force=True)
        async with self.core.db.transaction() as session:
            report.taken_back = await take_back_dead_claims(
                session, self.worker, self.core.clock.now()
            )
        await self._open_progress()
        touched: set[int] = set()
        tasks: set[asyncio.Task[None]] = set()  # referenced until done
        exhausted = False
        last_flush = time.monotonic()
        while True:
            await self._heartbeat()
            room = self.window - self._in_flight
            if not exhausted and not self._stopping and room >= self.chunk:
                claimed, batch = await self._claim(room, report)
                # Fewer than asked: nothing more is pending now; what arrives later (a new
                # broadcast, rows taken back) is for the next run, a tick later.
                exhausted = claimed < room
                for item in batch:
                    touched.add(item.broadcast_id)
                    self._in_flight += 1
                    task = asyncio.create_task(self._send(item))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if self._in_flight == 0 and (exhausted or self._stopping):
                break
            since = time.monotonic() - last_flush
            if self._done and (since >= FLUSH_SECONDS or len(self._done) >= self.chunk):
                await self._record(report)
                last_flush = time.monotonic()
                await self._progress(touched)
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.01, FLUSH_SECONDS - since))
            except TimeoutError:
                pass
        if self._done:
            await self._record(report)
        report.finished = await self._finish(touched)
        await self._progress(touched, force=True)
        return report

    async def _heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = time.monotonic()
        async with self.core.db.transaction() as session:
            await beat(session, self.worker, self.core.clock.now())

    async def start_due(self) -> int:
        now = self.core.clock.now()
        async with self.core.db.transaction() as session:
            due = list(
                await session.scalars(
                    select(Broadcast.id)
                    .where(Broadcast.status == "scheduled", Broadcast.scheduled_for <= now)
                    .order_by(Broadcast.scheduled_for)
                )
            )
        started = 0
        for broadcast_id in due:
            async with self.core.db.transaction(off_loop=True) as session:
                if await start(session, broadcast_id, now, self.core.operators) is not None:
                    started += 1
        return started

    async def _open_progress(self) -> None:
        """Send the one progress message of each broadcast that started without one."""
        async with self.core.db.transaction() as session:
            result = await session.execute(
                update(Broadcast)
                .where(
                    Broadcast.status == "sending",
                    Broadcast.progress_message_id.is_(None),
                    Broadcast.report_chat_id.is_not(None),
                )
                .values(progress_message_id=0)
                .returning(Broadcast.id)
            )
            opened = list(result.scalars())
        for broadcast_id in opened:
            text, chat_id = await self._progress_text(broadcast_id)
            if chat_id is None:
                continue
            outcome = await self.sender.send(chat_id, OutMessage(text))
            if outcome.message_id is not None:
                async with self.core.db.transaction() as session:
                    await session.execute(
                        update(Broadcast)
                        .where(Broadcast.id == broadcast_id)
                        .values(progress_message_id=outcome.message_id)
                    )
            self._last_progress[broadcast_id] = time.monotonic()

    async def _progress_text(self, broadcast_id: int) -> tuple[str, int | None]:
        async with self.core.db.transaction() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.report_chat_id is None:
                return "", None
            texts = await self._staff_texts(session, broadcast)
            counts = await counts_of(session, broadcast_id)
            return progress_text(texts, broadcast, counts), broadcast.report_chat_id

    async def _staff_texts(self, session: AsyncSession, broadcast: Broadcast) -> Texts:
        locale = None
        if broadcast.sender_caregiver_id is not None:
            locale = await session.scalar(
                select(Caregiver.locale).where(Caregiver.id == broadcast.sender_caregiver_id)
            )
        return self.core.texts_for(choose_locale(locale, None))

    async def _progress(self, broadcast_ids: set[int], force: bool = False) -> None:
        for broadcast_id in sorted(broadcast_ids):
            last = self._last_progress.get(broadcast_id, float("-inf"))
            if not force and time.monotonic() - last < self.progress_seconds:
                continue
            self._last_progress[broadcast_id] = time.monotonic()
            async with self.core.db.transaction() as session:
                message_id = await session.scalar(
                    select(Broadcast.progress_message_id).where(Broadcast.id == broadcast_id)
                )
            if not message_id:
                continue
            text, chat_id = await self._progress_text(broadcast_id)
            if chat_id is not None:
                await self.sender.edit(chat_id, message_id, OutMessage(text))

    async def _claim(self, limit: int, report: DeliveryReport) -> tuple[int, list[Claimed]]:
        """Claim up to `limit` pending rows; (how many were claimed, those to send)."""
        now = self.core.clock.now()
        ids = (
            select(BroadcastDelivery.id)
            .where(BroadcastDelivery.status == "pending")
            .order_by(BroadcastDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self.core.db.transaction() as session:
            result = await session.execute(
                update(BroadcastDelivery)
                .where(BroadcastDelivery.id.in_(ids))
                .values(
                    status="claimed",
                    claimed_by=self.worker,
                    claimed_at=now,
                    attempts=BroadcastDelivery.attempts + 1,
                )
                .returning(BroadcastDelivery.id)
            )
            claimed_ids = list(result.scalars())
            if not claimed_ids:
                return 0, []
            report.claimed += len(claimed_ids)
            opted_out = exists().where(
                NoticeOptOut.caregiver_id == Caregiver.id,
                NoticeOptOut.source
                == func.coalesce(
                    "s:" + Broadcast.steunpunt_key,
                    "l:" + func.cast(Broadcast.location_id, NoticeOptOut.source.type),
                    literal(OPERATOR_SOURCE),
                ),
            )
            rows = (
                await session.execute(
                    select(
                        BroadcastDelivery.id,
                        BroadcastDelivery.broadcast_id,
                        Caregiver.chat_id,
                        Caregiver.locale,
                        Caregiver.unreachable_at.is_not(None),
                        opted_out,
                    )
                    .join(Caregiver, Caregiver.id == BroadcastDelivery.caregiver_id)
                    .join(Broadcast, Broadcast.id == BroadcastDelivery.broadcast_id)
                    .where(BroadcastDelivery.id.in_(claimed_ids))
                    .order_by(BroadcastDelivery.id)
                )
            ).all()
            batch: list[Claimed] = []
            unreachable: list[int] = []
            skipped: list[int] = []
            for delivery_id, broadcast_id, chat_id, locale, blocked, out in rows:
                if blocked:
                    unreachable.append(delivery_id)
                elif out:
                    skipped.append(delivery_id)
                else:
                    message = await self._message(session, broadcast_id, locale)
                    batch.append(Claimed(delivery_id, broadcast_id, chat_id, message))
            for status, error, done in (
                ("blocked", "unreachable", unreachable),
                ("skipped", "opted_out", skipped),
            ):
                if done:
                    await session.execute(
                        update(BroadcastDelivery)
                        .where(BroadcastDelivery.id.in_(done))
                        .values(status=status, error=error, finished_at=now)
                    )
                    setattr(report, status, getattr(report, status) + len(done))
            return len(claimed_ids), batch

    async def _message(
        self, session: AsyncSession, broadcast_id: int, locale: str | None
    ) -> OutMessage:
        chosen = choose_locale(locale, None)
        key = (broadcast_id, chosen)
        message = self._messages.get(key)
        if message is None:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            message = notice_message(self.core.texts_for(chosen), broadcast)
            self._messages[key] = message
        return message

    async def _send(self, item: Claimed) -> None:
        try:
            outcome = await self.sender.send(item.chat_id, item.message, bulk=True)
        except Exception as exc:  # one delivery's surprise must not stop the others
            log.exception("notice delivery %d failed", item.delivery_id)
            outcome = SendOutcome("failed", error=type(exc).__name__[:200])
        self._done.append((item.delivery_id, outcome))
        self._wake.set()

    async def _record(self, report: DeliveryReport) -> None:
        done, self._done = self._done, []
        now = self.core.clock.now()
        by_outcome: dict[tuple[str, str | None], list[int]] = {}
        for delivery_id, outcome in done:
            by_outcome.setdefault((outcome.status, outcome.error), []).append(delivery_id)
            setattr(report, outcome.status, getattr(report, outcome.status) + 1)
        async with self.core.db.transaction() as session:
            for (status, error), ids in by_outcome.items():
                await session.execute(
                    update(BroadcastDelivery)
                    .where(
                        BroadcastDelivery.id.in_(ids),
                        BroadcastDelivery.claimed_by == self.worker,
                        BroadcastDelivery.status == "claimed",
                    )
                    .values(status=status, finished_at=now, error=error)
                )
        self._in_flight -= len(done)

    async def _finish(self, broadcast_ids: set[int]) -> list[int]:
        """Mark broadcasts without open rows done and send each its final report, once."""
        finished: list[int] = []
        now = self.core.clock.now()
        candidates = set(broadcast_ids)
        async with self.core.db.transaction() as session:
            candidates |= set(
                await session.scalars(select(Broadcast.id).where(Broadcast.status == "sending"))
            )
        for broadcast_id in sorted(candidates):
            open_rows = exists().where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.status.in_(("pending", "claimed")),
            )
            async with self.core.db.transaction() as session:
                result = await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast_id, Broadcast.status == "sending", ~open_rows)
                    .values(status="done", finished_at=now)
                )
                if not rowcount(result):
                    continue
                broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
                assert broadcast is not None
                texts = await self._staff_texts(session, broadcast)
                counts = await counts_of(session, broadcast_id)
                chat_id = broadcast.report_chat_id
                report = texts.get("notice_report", audience=broadcast.audience_label)
                report += "\n" + counts_text(texts, counts)
            finished.append(broadcast_id)
            log.info("broadcast %d finished: %s", broadcast_id, counts)
            if chat_id is not None:
                await self.sender.send(chat_id, OutMessage(report))
        return finished
