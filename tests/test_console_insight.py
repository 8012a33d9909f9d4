"""The area insight and inspraak pages of the web console: the same protected tables and results
as the chat (k >= 10, hidden cells), filters that cannot single anyone out, a question written
on the page that is the chat's question and notice, and 404 for another steunpunt's area or
question."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app.dispatch import BotCore
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
)
from tests.test_console import client, signed_in  # noqa: F401 (the fixture)
from tests.test_evenings import LINDE
from tests.test_insight import OCTOBER, people, selfcheck


async def test_the_insight_page_shows_the_protected_tables_with_filters(
    core: BotCore,
    client: TestClient,  # noqa: F811
) -> None:
    for caregiver_id in await people(core, 8000, 12, VUGHT):
        await selfcheck(core, caregiver_id, "moderate", OCTOBER)
    (lonely,) = await people(core, 8100, 1, BOXTEL)
    await selfcheck(core, lonely, "heavy", OCTOBER)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    page = await browser.get("/console/insight")
    assert "Uitslag van de zelftest per maand" in page and "te weinig om te tonen" in page
    assert "<td>13</td>" in page  # the area's total, the one number that is safe
    assert "<td>12</td>" not in page  # 12 moderate of 13 would tell the 13th's band
    narrowed = await browser.get(f"/console/insight?m={BOXTEL}&from=2026-10&to=2026-10&band=heavy")
    assert "<td>1</td>" not in narrowed and "te weinig om te tonen" in narrowed
    await browser.get(f"/console/insight?s={DEN_BOSCH}", status=404)
    await staff_user(core, 604, location_key=LINDE)  # care-home staff: no area of their own
    location = await signed_in(client, core, 604)
    await location.get("/console/insight", status=404)
    await location.get("/console/inspraak", status=404)


async def test_a_question_written_on_the_page_is_the_chats_and_its_result_is_protected(
    core: BotCore,
    client: TestClient,  # noqa: F811
) -> None:
    for i in range(12):
        await caregiver(core, 7100 + i, municipality=VUGHT)
    await staff_user(core, 602, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 602)
    await browser.get("/console/inspraak/new")
    form = {"question": "Wat helpt jou het meest?", "options": "Meer informatie\nEen vrijwilliger",
            "allow_comment": "yes"}  # fmt: skip
    _, preview = await browser.post("/console/inspraak/preview", form, status=200)
    assert "De vraag gaat naar 12 mantelzorgers" in preview and "Meer informatie" in preview
    location, _ = await browser.post("/console/inspraak/send", form)
    assert location.startswith("/console/inspraak/")
    again, _ = await browser.post("/console/inspraak/send", form)  # pressed twice: one question
    assert again.startswith(location.split("?")[0])
    async with core.db.transaction() as session:
        assert len(list(await session.scalars(select(InspraakQuestion.id)))) == 1
    sender = RecordingSender()
    await deliver(core, sender)
    assert len(sender.bulk_chats()) == 12
    (notice,) = [m for chat, m, bulk in sender.sent if chat == 7100 and bulk]
    data = next(b.data for row in notice.buttons for b in row if b.label == "Meer informatie")
    for i in range(11):
        await CoreUser(core, 7100 + i).presses_data(data)
    page = await browser.get(location.split("?")[0])
    assert "Antwoorden: 11." in page and "De uitslag per keuze zie je" in page
    closed = await browser.follow(location.split("?")[0] + "/close")
    # 11 of 11 for one choice: the other (0) would be known too, so both are hidden.
    assert "Antwoorden: 11." in closed and closed.count("te weinig om te tonen") >= 2
    other = await staff_user(core, 603, steunpunt_key=DEN_BOSCH)
    assert other is not None
    elsewhere = await signed_in(client, core, 603)
    await elsewhere.get(location.split("?")[0], status=404)
