"""What can happen to a request for contact, as plain async functions of a session and ids, so the
chat handlers and a staff web console do exactly the same: start, send, withdraw (the caregiver);
list, pick up, write, close (staff of the request's steunpunt); the working-day reminders.

Every function checks who asks and returns None (or raises `NotAllowed`) for anyone else: staff
of another steunpunt, revoked staff, another caregiver. Whoever must hear of a change gets a
scheduled message (`bot.jobs.scheduled`), sent by the one tick through the one sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.directory import Steunpunt
from bot.db.staff import StaffMember
from bot.features.handover.models import (
    CLOSED,
    DRAFT,
    OPEN,
    OUTCOMES,
    PICKED_UP,
    SENT,
    WITHDRAWN,
    HandoverAudit,
    HandoverDemand,
    HandoverMessage,
    HandoverRequest,
)
from bot.features.handover.workdays import after_working_days, is_working_day
from bot.jobs.scheduled import schedule
from bot.text.i18n import DEFAULT_TIMEZONE

# Scheduled kinds: what staff get (new, reminder, message, withdrawn) and what the caregiver
# gets (picked up, message, closed). Payloads hold ids only.
STAFF_KIND = "handover_staff"
NEWS_KIND = "handover_news"
# A request nobody picked up reminds the staff from this many working days after it was sent.
REMIND_AFTER_WORKING_DAYS = 2
# Reminders go out in office hours only (Dutch time): a request sent late in the evening is not
# reminded about in the night, when it would wait for the morning beside the next day's.
REMIND_HOURS = (time(8, 0), time(18, 0))
# Staff lists show every open and picked-up request and the latest closed ones.
CLOSED_SHOWN = 10
MESSAGE_MAX = 1000


class NotAllowed(Exception):
    """The request is not there for whoever asks, or not in a state that allows this."""


def first_name(display_name: str) -> str:
    parts = display_name.split()
    return parts[0][:60] if parts else ""


# ---------------------------------------------------------------- who may


async def active_staff(session: AsyncSession, steunpunt_key: str) -> list[StaffMember]:
    result = await session.scalars(
        select(StaffMember)
        .where(StaffMember.steunpunt_key == steunpunt_key, StaffMember.revoked_at.is_(None))
        .order_by(StaffMember.id)
    )
    return list(result)


async def active_member(session: AsyncSession, member_id: int) -> StaffMember | None:
    member = await session.get(StaffMember, member_id)
    if member is None or member.revoked_at is not None or member.steunpunt_key is None:
        return None
    return member


async def member_for(
    session: AsyncSession, staff_caregiver_id: int, steunpunt_key: str
) -> StaffMember | None:
    """The active membership of this user for this steunpunt, if any."""
    return await session.scalar(
        select(StaffMember).where(
            StaffMember.caregiver_id == staff_caregiver_id,
            StaffMember.steunpunt_key == steunpunt_key,
            StaffMember.revoked_at.is_(None),
        )
    )


async def _request(session: AsyncSession, request_id: int, lock: bool) -> HandoverRequest | None:
    """The request; with `lock`, its row locked for this transaction and read afresh, so two
    staff members (or staff and the caregiver) acting at once go one after the other and the
    second sees what the first did (PostgreSQL; SQLite has one writer anyway)."""
    if not lock:
        return await session.get(HandoverRequest, request_id)
    return await session.get(
        HandoverRequest, request_id, with_for_update=True, populate_existing=True
    )


async def request_for_member(
    session: AsyncSession, request_id: int, member_id: int, *, lock: bool = False
) -> tuple[HandoverRequest, StaffMember] | None:
    """The request and the membership that may see it: an active member of the request's
    steunpunt, and a request that was sent (never a draft, never a withdrawn one)."""
    member = await active_member(session, member_id)
    request = await _request(session, request_id, lock)
    if member is None or request is None or request.steunpunt_key != member.steunpunt_key:
        return None
    if request.status not in (SENT, PICKED_UP, CLOSED):
        return None
    return request, member


async def request_of_caregiver(
    session: AsyncSession, request_id: int, caregiver_id: int, *, lock: bool = False
) -> HandoverRequest | None:
    request = await _request(session, request_id, lock)
    return request if request is not None and request.caregiver_id == caregiver_id else None


# ---------------------------------------------------------------- the caregiver


async def open_request(session: AsyncSession, caregiver_id: int) -> HandoverRequest | None:
    """The caregiver's request that is sent or picked up (at most one at a time)."""
    return await session.scalar(
        select(HandoverRequest)
        .where(HandoverRequest.caregiver_id == caregiver_id, HandoverRequest.status.in_(OPEN))
        .order_by(HandoverRequest.id.desc())
        .limit(1)
    )


async def draft_of(session: AsyncSession, caregiver_id: int) -> HandoverRequest | None:
    return await session.scalar(
        select(HandoverRequest).where(
            HandoverRequest.caregiver_id == caregiver_id, HandoverRequest.status == DRAFT
        )
    )


async def start_draft(
    session: AsyncSession,
    caregiver_id: int,
    steunpunt_key: str,
    now: datetime,
    *,
    caregiver_name: str = "",
    locale: str = "nl",
    asking: list[str] | None = None,
) -> HandoverRequest:
    """A new draft for this caregiver (an older draft goes): `asking` names the things there
    are to share now, asked about one by one; nothing is shared until the caregiver says yes."""
    old = await draft_of(session, caregiver_id)
    if old is not None:
        await session.delete(old)
        await session.flush()
    draft = HandoverRequest(
        caregiver_id=caregiver_id,
        steunpunt_key=steunpunt_key,
        status=DRAFT,
        caregiver_name=caregiver_name,
        asking=list(asking or []),
        shared={},
        locale=locale,
        created_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


async def send(
    session: AsyncSession, request_id: int, caregiver_id: int, now: datetime
) -> HandoverRequest:
    """The caregiver's yes: the draft goes to every active staff member of its steunpunt."""
    request = await request_of_caregiver(session, request_id, caregiver_id, lock=True)
    if request is None or request.status != DRAFT:
        raise NotAllowed
    if await open_request(session, caregiver_id) is not None:
        raise NotAllowed
    staff = await active_staff(session, request.steunpunt_key)
    if not staff:
        raise NotAllowed
    request.status, request.sent_at, request.asking = SENT, now, []
    request.remind_from = after_working_days(now, REMIND_AFTER_WORKING_DAYS)
    _audit(session, request, "sent", now)
    for member in staff:
        _tell_staff(session, member, request, "new", now)
    return request


async def withdraw(
    session: AsyncSession, request_id: int, caregiver_id: int, now: datetime
) -> HandoverRequest:
    """The caregiver takes an open request back; staff no longer see it or what was shared."""
    request = await request_of_caregiver(session, request_id, caregiver_id, lock=True)
    if request is None or request.status not in OPEN:
        raise NotAllowed
    told = (
        [m for m in [await active_member(session, request.picked_up_by)] if m is not None]
        if request.picked_up_by is not None
        else await active_staff(session, request.steunpunt_key)
    )
    request.status, request.closed_at = WITHDRAWN, now
    request.shared, request.note, request.phone = {}, None, None
    _audit(session, request, "withdrawn", now)
    for member in told:
        _tell_staff(session, member, request, "withdrawn", now)
    return request


async def caregiver_requests(session: AsyncSession, caregiver_id: int) -> list[HandoverRequest]:
    """The caregiver's requests (no drafts), newest first."""
    result = await session.scalars(
        select(HandoverRequest)
        .where(HandoverRequest.caregiver_id == caregiver_id, HandoverRequest.status != DRAFT)
        .order_by(HandoverRequest.id.desc())
    )
    return list(result)


async def caregiver_writes(
    session: AsyncSession, request_id: int, caregiver_id: int, text: str, now: datetime
) -> HandoverMessage:
    """A message from the caregiver about a picked-up request, to the staff member on it (or,
    when that person is no longer staff, to the steunpunt's staff)."""
    request = await request_of_caregiver(session, request_id, caregiver_id, lock=True)
    if request is None or request.status != PICKED_UP:
        raise NotAllowed
    message = await _message(session, request, text, now)
    picker = await active_member(session, request.picked_up_by) if request.picked_up_by else None
    if picker is not None and picker.steunpunt_key != request.steunpunt_key:
        picker = None
    told = [picker] if picker is not None else await active_staff(session, request.steunpunt_key)
    for member in told:
        _tell_staff(session, member, request, "message", now, message)
    return message


# ---------------------------------------------------------------- staff


@dataclass
class StaffQueue:
    """A steunpunt's requests as one member sees them: open, picked up, the latest closed."""

    steunpunt_key: str
    open: list[HandoverRequest] = field(default_factory=list)
    picked_up: list[HandoverRequest] = field(default_factory=list)
    closed: list[HandoverRequest] = field(default_factory=list)
    closed_count: int = 0


async def queue_for_member(session: AsyncSession, member_id: int) -> StaffQueue | None:
    member = await active_member(session, member_id)
    if member is None or member.steunpunt_key is None:
        return None
    key = member.steunpunt_key
    queue = StaffQueue(key)
    for request in await session.scalars(
        select(HandoverRequest)
        .where(HandoverRequest.steunpunt_key == key, HandoverRequest.status.in_(OPEN))
        .order_by(HandoverRequest.sent_at, HandoverRequest.id)
    ):
        (queue.open if request.status == SENT else queue.picked_up).append(request)
    closed = select(HandoverRequest).where(
        HandoverRequest.steunpunt_key == key, HandoverRequest.status == CLOSED
    )
    queue.closed = list(
        await session.scalars(
            closed.order_by(HandoverRequest.closed_at.desc(), HandoverRequest.id.desc()).limit(
                CLOSED_SHOWN
            )
        )
    )
    queue.closed_count = int(
        await session.scalar(select(func.count()).select_from(closed.subquery())) or 0
    )
    return queue


async def pick_up(
    session: AsyncSession, request_id: int, member_id: int, now: datetime, staff_name: str = ""
) -> tuple[HandoverRequest, bool]:
    """The member takes the request on (True), or it was already taken (False, unchanged); the
    caregiver hears who will contact them."""
    found = await request_for_member(session, request_id, member_id, lock=True)
    if found is None:
        raise NotAllowed
    request, member = found
    if request.status != SENT:
        if request.status == PICKED_UP:
            return request, False
        raise NotAllowed
    request.status, request.picked_up_at, request.picked_up_by = PICKED_UP, now, member.id
    request.picked_up_name = first_name(staff_name or member.display_name)
    _audit(session, request, "picked_up", now, member)
    _tell_caregiver(session, request, "picked_up", now)
    return request, True


async def staff_writes(
    session: AsyncSession,
    request_id: int,
    member_id: int,
    text: str,
    now: datetime,
    staff_name: str = "",
) -> HandoverMessage:
    """A message from staff to the caregiver of a picked-up request, labelled with their first
    name only."""
    found = await request_for_member(session, request_id, member_id, lock=True)
    if found is None or found[0].status != PICKED_UP:
        raise NotAllowed
    request, member = found
    name = first_name(staff_name or member.display_name)
    message = await _message(session, request, text, now, name)
    _tell_caregiver(session, request, "message", now, message)
    return message


async def close(
    session: AsyncSession, request_id: int, member_id: int, outcome: str, now: datetime
) -> HandoverRequest:
    """Close with an outcome (`OUTCOMES`), which the caregiver is told."""
    found = await request_for_member(session, request_id, member_id, lock=True)
    if found is None or found[0].status not in OPEN or outcome not in OUTCOMES:
        raise NotAllowed
    request, member = found
    request.status, request.closed_at, request.outcome = CLOSED, now, outcome
    _audit(session, request, "closed", now, member, outcome)
    _tell_caregiver(session, request, "closed", now)
    return request


async def thread(session: AsyncSession, request_id: int) -> list[HandoverMessage]:
    result = await session.scalars(
        select(HandoverMessage)
        .where(HandoverMessage.request_id == request_id)
        .order_by(HandoverMessage.sent_at, HandoverMessage.id)
    )
    return list(result)


# ---------------------------------------------------------------- reminders and the operator


async def remind(session: AsyncSession, now: datetime) -> int:
    """On a working day, in office hours: every request nobody picked up within two working
    days reminds all active staff of its steunpunt, once that day. Returns how many requests
    reminded."""
    local = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    today = local.date()
    if not is_working_day(today) or not REMIND_HOURS[0] <= local.time() < REMIND_HOURS[1]:
        return 0
    due = await session.scalars(
        select(HandoverRequest)
        .where(HandoverRequest.status == SENT, HandoverRequest.remind_from <= now)
        .with_for_update(skip_locked=True)
    )
    count = 0
    for request in list(due):
        if request.reminded_on is not None and request.reminded_on >= today:
            continue
        request.reminded_on = today
        for member in await active_staff(session, request.steunpunt_key):
            _tell_staff(session, member, request, "reminder", now)
        count += 1
    return count


async def record_demand(session: AsyncSession, steunpunt_key: str, now: datetime) -> None:
    session.add(HandoverDemand(steunpunt_key=steunpunt_key, asked_at=now))


@dataclass(frozen=True)
class ReportLine:
    steunpunt_key: str
    name: str
    staff: int
    asked_without_staff: int
    last_asked: datetime | None
    open: int
    picked_up: int
    closed: int


async def report(session: AsyncSession) -> list[ReportLine]:
    """Per steunpunt with any demand or request: active staff, how often caregivers asked while
    nobody was there, and the requests by state; steunpunten without staff first."""
    demand = {
        key: (int(n), last)
        for key, n, last in (
            await session.execute(
                select(
                    HandoverDemand.steunpunt_key,
                    func.count(),
                    func.max(HandoverDemand.asked_at),
                ).group_by(HandoverDemand.steunpunt_key)
            )
        ).all()
    }
    states: dict[str, dict[str, int]] = {}
    for key, status, n in (
        await session.execute(
            select(HandoverRequest.steunpunt_key, HandoverRequest.status, func.count())
            .where(HandoverRequest.status.in_((SENT, PICKED_UP, CLOSED)))
            .group_by(HandoverRequest.steunpunt_key, HandoverRequest.status)
        )
    ).all():
        states.setdefault(key, {})[status] = int(n)
    staff = {
        key: int(n)
        for key, n in (
            await session.execute(
                select(StaffMember.steunpunt_key, func.count())
                .where(StaffMember.revoked_at.is_(None), StaffMember.steunpunt_key.is_not(None))
                .group_by(StaffMember.steunpunt_key)
            )
        ).all()
    }
    keys = sorted(set(demand) | set(states))
    names = {
        key: name
        for key, name in (
            await session.execute(
                select(Steunpunt.key, Steunpunt.name).where(Steunpunt.key.in_(keys))
            )
        ).all()
    }
    lines = [
        ReportLine(
            key,
            names.get(key, "(not in the directory)"),
            staff.get(key, 0),
            demand.get(key, (0, None))[0],
            demand.get(key, (0, None))[1],
            states.get(key, {}).get(SENT, 0),
            states.get(key, {}).get(PICKED_UP, 0),
            states.get(key, {}).get(CLOSED, 0),
        )
        for key in keys
    ]
    return sorted(
        lines, key=lambda line: (line.staff > 0, -line.asked_without_staff, line.steunpunt_key)
    )


# ---------------------------------------------------------------- inside


async def _message(
    session: AsyncSession,
    request: HandoverRequest,
    text: str,
    now: datetime,
    staff_name: str | None = None,
) -> HandoverMessage:
    text = text.strip()[:MESSAGE_MAX]
    if not text:
        raise NotAllowed
    message = HandoverMessage(
        request_id=request.id,
        caregiver_id=request.caregiver_id,
        from_staff=staff_name is not None,
        staff_name=staff_name or "",
        text=text,
        sent_at=now,
    )
    session.add(message)
    await session.flush()
    return message


def _audit(
    session: AsyncSession,
    request: HandoverRequest,
    event: str,
    now: datetime,
    member: StaffMember | None = None,
    outcome: str | None = None,
) -> None:
    """Who did what when; never what was shared or written."""
    session.add(
        HandoverAudit(
            request_id=request.id,
            steunpunt_key=request.steunpunt_key,
            event=event,
            staff_member_id=member.id if member is not None else None,
            actor_caregiver_id=member.caregiver_id if member is not None else None,
            staff_name=first_name(member.display_name) if member is not None else "",
            outcome=outcome,
            at=now,
        )
    )


def _tell_staff(
    session: AsyncSession,
    member: StaffMember,
    request: HandoverRequest,
    event: str,
    now: datetime,
    message: HandoverMessage | None = None,
) -> None:
    payload: dict[str, object] = {"request": request.id, "member": member.id, "event": event}
    if message is not None:
        payload["message"] = message.id
    schedule(session, member.caregiver_id, STAFF_KIND, now, now, payload)


def _tell_caregiver(
    session: AsyncSession,
    request: HandoverRequest,
    event: str,
    now: datetime,
    message: HandoverMessage | None = None,
) -> None:
    payload: dict[str, object] = {"request": request.id, "event": event}
    if message is not None:
        payload["message"] = message.id
    schedule(session, request.caregiver_id, NEWS_KIND, now, now, payload)
