"""Lock screens: the first two lines of everything the bot pushes by itself (every registered
scheduled kind, and a staff notice) name no burden, no score, no care topic, no place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app.dispatch import BotCore, Context
from bot.db.models import Caregiver
from bot.db.staff import Location, LocationSubscription, StaffMember
from bot.features.broadcast.delivery import notice_message
from bot.features.broadcast.models import Broadcast
from bot.features.checkin.models import CheckinSchedule
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.features.handover.models import HandoverMessage, HandoverRequest
from bot.features.respite.models import RespiteAdvice
from bot.jobs.scheduled import ScheduledMessage
from bot.text.i18n import SUPPORTED_LOCALES
from bot.transport.terminal import plain
from tests.test_evenings import LINDE, add_locations

# Words of burden, scores and care, and of this place and evening (a care home's name or an
# evening "over dementie" tells what the message is about).
TOPIC_WORDS = (
    "zwaar", "zorg", "respijt", "uitslag", "score", "dementie", "mantelzorg", "linde",
    "familieavond", "steunpunt", "heavy", "care", "respite", "result", "dementia", "family evening",
)  # fmt: skip


def preview(text: str) -> str:
    """What a lock screen shows: the first two lines that are not empty."""
    return " ".join([line for line in plain(text).splitlines() if line.strip()][:2])


def assert_neutral(text: str, where: str) -> None:
    shown = preview(text).casefold()
    for word in TOPIC_WORDS:
        assert word not in shown, f"{where}: {shown!r} shows {word!r}"


async def scheduled_texts(core: BotCore, locale: str) -> dict[str, str]:
    """The real message of each scheduled kind, built by its registered handler."""
    await add_locations(core)
    now = core.clock.now()
    texts: dict[str, str] = {}
    async with core.db.transaction() as session:
        caregiver = Caregiver(
            telegram_user_id=4242, chat_id=4242, locale=locale, created_at=now, last_seen_at=now,
            consent_version=core.privacy_version, consent_at=now,
        )  # fmt: skip
        session.add(caregiver)
        await session.flush()
        location = await session.scalar(select(Location).where(Location.key == LINDE))
        assert location is not None
        session.add(
            LocationSubscription(
                caregiver_id=caregiver.id, location_id=location.id, subscribed_at=now
            )
        )
        evenings = {}
        for status in ("active", "cancelled"):
            evening = FamilyEvening(
                location_id=location.id, title="Familieavond over dementie",
                starts_at=now + timedelta(days=10), place="de grote zaal", status=status,
                created_at=now, updated_at=now, version=1,
            )  # fmt: skip
            session.add(evening)
            await session.flush()
            evenings[status] = evening.id
        session.add(
            EveningRsvp(
                evening_id=evenings["active"], caregiver_id=caregiver.id, answer="yes",
                party_size=2, answered_at=now,
            )
        )  # fmt: skip
        session.add(
            CheckinSchedule(
                caregiver_id=caregiver.id, cadence="weekly", weekday=0, minute=600,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        advice = RespiteAdvice(caregiver_id=caregiver.id, answers={}, option_ids=[], advised_at=now)
        session.add(advice)
        await session.flush()
        on_evening = {"evening_id": evenings["active"], "version": 1}
        # A request for contact from this caregiver, picked up by a staff member of its
        # steunpunt who is this caregiver as well (one row can play both sides here).
        member = StaffMember(
            caregiver_id=caregiver.id, steunpunt_key="voorbeeld", display_name="Sanne",
            granted_at=now,
        )  # fmt: skip
        session.add(member)
        await session.flush()
        request = HandoverRequest(
            caregiver_id=caregiver.id, steunpunt_key="voorbeeld", status="picked_up",
            caregiver_name="Anna", shared={}, created_at=now, sent_at=now,
            picked_up_by=member.id, picked_up_name="Sanne", reach="message",
        )  # fmt: skip
        session.add(request)
        await session.flush()
        message = HandoverMessage(
            request_id=request.id, caregiver_id=caregiver.id, from_staff=True,
            staff_name="Sanne", text="Het gaat zwaar, hoor ik. Zullen we bellen?", sent_at=now,
        )  # fmt: skip
        session.add(message)
        await session.flush()
        to_staff = {"request": request.id, "member": member.id}
        payloads = {
            "checkin": {},
            "respite_followup": {"advice_id": advice.id},
            "retention_ask": {},
            "evening_invite": on_evening,
            "evening_reminder": on_evening,
            "evening_changed": {**on_evening, "changes": {"place": "de kleine zaal"}},
            "evening_promoted": on_evening,
            "evening_cancelled": {"evening_id": evenings["cancelled"]},
            "handover_staff": {**to_staff, "event": "message", "message": message.id},
            "handover_news": {"request": request.id, "event": "message", "message": message.id},
        }
        # A kind added without a case here fails: every scheduled kind is checked.
        assert set(payloads) == set(core.registry.scheduled)
        ctx = Context(session, caregiver, core.texts_for(locale), now, core)
        for kind, handler in core.registry.scheduled.items():
            row = ScheduledMessage(
                kind=kind, caregiver_id=caregiver.id, due_at=now, payload=payloads[kind],
                created_at=now,
            )  # fmt: skip
            message = await handler(ctx, row)
            assert message is not None, kind
            texts[kind] = message.text
    return texts


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
async def test_the_first_two_lines_of_every_scheduled_message_reveal_no_topic(
    core: BotCore, locale: str
) -> None:
    for kind, text in (await scheduled_texts(core, locale)).items():
        assert_neutral(text, f"{locale}:{kind}")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_first_two_lines_of_a_staff_notice_do_not_name_its_source(
    core: BotCore, locale: str
) -> None:
    notice = Broadcast(
        source_name="Steunpunt Mantelzorg De Linde", text_html="Zwaar? Kom naar de zorgavond."
    )
    text = notice_message(core.texts_for(locale), notice).text
    assert_neutral(text, f"{locale}:notice")
    assert "Steunpunt Mantelzorg De Linde" in text  # said, below the preview
