"""The operator's inspraak: on the console the operator puts one question to the caregivers of
one municipality, checked and shown like a steunpunt's (k >= 10, preview, sent once, protected
results); it is sent only while they are operator; staff cannot reach these pages; and the
delivery rule under it: a notice starts only while its sender (staff or operator) may send."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from bot.app.dispatch import BotCore
from bot.app.roles import Scope
from bot.clock import FakeClock
from bot.db.staff import StaffMember
from bot.features.broadcast import delivery
from bot.features.broadcast.models import Broadcast
from bot.features.inspraak.models import InspraakQuestion
from tests.conversation import CoreUser, staff_user
from tests.test_broadcast import (
    BOXTEL,
    DEN_BOSCH,
    VUGHT,
    VUGHT_BOXTEL,
    RecordingSender,
    caregiver,
    deliver,
    local,
)
from tests.test_console import OPERATOR, client, signed_in  # noqa: F401 (the fixture)

FORM = {"municipality": "Vught", "question": "Wat helpt jou het meest?",
        "options": "Meer informatie\nEen vrijwilliger", "allow_comment": "yes"}  # fmt: skip


@pytest.fixture
def console(core: BotCore, client: TestClient) -> TestClient:  # noqa: F811
    """The console, with the process's operators the same setting as the console's."""
    core.operators = frozenset({OPERATOR})
    return client


async def questions(core: BotCore) -> list[InspraakQuestion]:
    async with core.db.transaction() as session:
        return list(await session.scalars(select(InspraakQuestion).order_by(InspraakQuestion.id)))


async def test_the_operator_asks_one_municipality_and_sees_the_protected_result(
    core: BotCore, console: TestClient
) -> None:
    for i in range(21):
        await caregiver(core, 7300 + i, municipality=VUGHT)
    await caregiver(core, 7400, municipality=BOXTEL)  # the same steunpunt, another municipality
    await caregiver(core, 7401, steunpunt=VUGHT_BOXTEL)  # saved the steunpunt, no municipality
    await CoreUser(core, OPERATOR).says("/start")
    operator = await signed_in(console, core, OPERATOR)
    assert "Inspraak per gemeente" in await operator.get("/console/")
    await operator.get("/console/operator/inspraak/new")
    unknown = FORM | {"municipality": "Atlantis"}
    _, refused = await operator.post("/console/operator/inspraak/preview", unknown, status=422)
    assert "Die gemeente ken ik niet" in refused
    small = FORM | {"municipality": BOXTEL}  # by its CBS code: one caregiver lives there
    _, too_small = await operator.post("/console/operator/inspraak/preview", small, status=200)
    assert "Versturen kan daarom niet" in too_small and "Versturen (" not in too_small
    await operator.post("/console/operator/inspraak/send", small, status=200)
    assert await questions(core) == []
    _, preview = await operator.post("/console/operator/inspraak/preview", FORM, status=200)
    assert "De vraag gaat naar 21 mantelzorgers" in preview and "Mantelzorgbot Vught" in preview
    location, _ = await operator.post("/console/operator/inspraak/send", FORM)
    assert location.startswith("/console/operator/inspraak/")
    again, _ = await operator.post("/console/operator/inspraak/send", FORM)  # pressed twice
    assert again.startswith(location.split("?")[0])
    (question,) = await questions(core)
    assert (question.steunpunt_key, question.municipality_codes) == (None, [VUGHT])
    assert (question.sender_operator_id, question.sender_member_id) == (OPERATOR, None)

    sender = RecordingSender()
    await deliver(core, sender)
    assert sorted(sender.bulk_chats()) == [7300 + i for i in range(21)]  # not 7400, not 7401
    (notice,) = [m for chat, m, bulk in sender.sent if chat == 7300 and bulk]
    assert "Bericht van Mantelzorgbot Vught" in notice.text
    data = {b.label: b.data for row in notice.buttons for b in row}
    assert "Wat gebeurt er met mijn antwoord?" in data
    # The progress and the report go to the operator's own chat with the bot.
    assert any(chat == OPERATOR and not bulk for chat, _, bulk in sender.sent)
    # The operator's questions can be switched off like a steunpunt's notices.
    muted = CoreUser(core, 7320)
    await muted.says("/meldingen")
    await muted.taps("🔔 Mantelzorgbot Vught: aan")
    assert "geen berichten meer van Mantelzorgbot Vught" in muted.last_text
    async with core.db.transaction() as session:
        assert await delivery.audience_size(session, None, [VUGHT]) == 20
    for i in range(21):
        person = CoreUser(core, 7300 + i)
        await person.presses_data(data["Meer informatie" if i < 11 else "Een vrijwilliger"])
        if i == 0:
            await person.says("graag meer uitleg over de regels")
    page_path = location.split("?")[0]
    page = await operator.get(page_path)
    assert "Antwoorden: 21." in page and "De uitslag per keuze zie je" in page
    assert "graag meer uitleg" not in page  # comments only once it is closed
    listing = await operator.get("/console/operator/inspraak")
    assert "Wat helpt jou het meest?" in listing
    closed = await operator.follow(page_path + "/close")
    assert "<td>11</td>" in closed and "<td>10</td>" in closed
    assert "graag meer uitleg over de regels" in closed

    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    staff = await signed_in(console, core, 601)
    await staff.get("/console/operator/inspraak", status=404)
    await staff.get(page_path, status=404)
    await staff.get(f"/console/inspraak/{question.id}", status=404)  # not their steunpunt's
    await staff.post("/console/operator/inspraak/send", FORM, status=404)
    assert "Wat helpt jou het meest?" not in await staff.get("/console/inspraak")
    assert len(await questions(core)) == 1


async def test_a_planned_question_is_not_sent_once_its_operator_is_removed_from_the_setting(
    core: BotCore, console: TestClient, clock: FakeClock
) -> None:
    for i in range(12):
        await caregiver(core, 7500 + i, municipality=VUGHT)
    await CoreUser(core, OPERATOR).says("/start")
    clock.set(local(2026, 11, 24, 23, 0))  # at night: held until 08:00
    operator = await signed_in(console, core, OPERATOR)
    await operator.get("/console/operator/inspraak/new")
    location, _ = await operator.post("/console/operator/inspraak/send", FORM)
    assert "console_notice_inspraak_morning" in location
    async with core.db.transaction() as session:
        (notice,) = list(await session.scalars(select(Broadcast)))
        assert (notice.status, notice.sender_operator_id) == ("scheduled", OPERATOR)
    core.operators = frozenset()  # CONSOLE_OPERATORS without them, after a restart
    clock.set(local(2026, 11, 25, 8, 5))
    await deliver(core, sender := RecordingSender())
    assert sender.sent == []
    async with core.db.transaction() as session:
        stopped = await session.get(Broadcast, notice.id)
        assert stopped is not None and (stopped.status, stopped.started_at) == ("cancelled", None)


async def test_a_notice_starts_only_while_its_sender_is_active_staff_or_still_operator(
    core: BotCore, console: TestClient
) -> None:
    ids = [await caregiver(core, 7600 + i, municipality=VUGHT) for i in range(3)]
    await staff_user(core, 602, steunpunt_key=DEN_BOSCH)
    now = core.clock.now()

    async def planned(scope: Scope | None, operator_id: int | None) -> int:
        async with core.db.transaction() as session:
            notice = await delivery.new_notice(
                session, scope, now, text_html="Hallo", text_length=5,
                audience="municipalities", municipality_codes=[VUGHT], audience_label="Vught",
                sender_caregiver_id=ids[0], sender_name="", report_chat_id=None,
                operator_id=operator_id, source_name="Mantelzorgbot Vught",
            )  # fmt: skip
            return notice.id

    async def started(notice_id: int, operators: frozenset[int]) -> int | None:
        async with core.db.transaction() as session:
            return await delivery.start(session, notice_id, now, operators)

    assert await started(await planned(None, OPERATOR), frozenset({OPERATOR})) == 3
    assert await started(await planned(None, OPERATOR), frozenset({OPERATOR + 1})) is None
    assert await started(await planned(None, OPERATOR), frozenset()) is None
    erased = await planned(None, OPERATOR)
    async with core.db.transaction() as session:  # as /vergeetmij of the operator leaves it
        await session.execute(
            update(Broadcast).where(Broadcast.id == erased).values(sender_operator_id=None)
        )
    assert await started(erased, frozenset({OPERATOR})) is None
    async with core.db.transaction() as session:
        member = (await session.scalars(select(StaffMember))).one()
    staff_notice = await planned(Scope(member.id, DEN_BOSCH, None), None)
    async with core.db.transaction() as session:
        await session.execute(update(StaffMember).values(revoked_at=now))
    # A revoked member's notice is not sent, whoever is operator.
    assert await started(staff_notice, frozenset({OPERATOR})) is None
    async with core.db.transaction() as session:
        statuses = list(await session.scalars(select(Broadcast.status).order_by(Broadcast.id)))
    assert statuses == ["sending", "cancelled", "cancelled", "cancelled", "cancelled"]
