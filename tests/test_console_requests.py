"""Requests for contact (the warm handover) on the staff console: the queue, one request with
only what the caregiver shared, pick up, write and close through the same functions as
/verzoeken (the caregiver hears of each), 404 for another steunpunt's request, and the
operator's requests per steunpunt."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app.dispatch import BotCore
from bot.config import ConsoleSettings
from bot.console.web import mount
from bot.features.handover.models import HandoverMessage, HandoverRequest
from bot.features.steunpunt.directory import import_example_if_empty
from tests.conversation import CoreUser, staff_user
from tests.test_console import OPERATOR, TOKEN, signed_in
from tests.test_evenings import LINDE, add_locations
from tests.test_handover import DEN_BOSCH, VUGHT, ask, caregiver, deliver, rows_of


@pytest.fixture
async def client(core: BotCore) -> AsyncIterator[TestClient]:
    await import_example_if_empty(core.db)
    await add_locations(core)
    app = web.Application()
    mount(app, core, ConsoleSettings(operators=(OPERATOR,)), TOKEN)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_staff_pick_up_write_and_close_a_request_and_the_caregiver_hears(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 2021, steunpunt_key=DEN_BOSCH, display_name="Sanne Jansen")
    user = await caregiver(core, 2022)
    await ask(user, note="Mijn vader valt vaak")
    (request,) = await rows_of(core, HandoverRequest)
    await deliver(core)
    browser = await signed_in(client, core, 2021)
    queue = await browser.get("/console/requests")
    assert "Open: 1. Opgepakt: 0. Afgesloten: 0." in queue and f"#{request.id} Anna" in queue
    page = await browser.get(f"/console/requests/{request.id}")
    assert "Mijn vader valt vaak" in page and "nog niet opgepakt" in page
    assert "Ik pak dit op" in page and 'for="text"' not in page  # write once picked up
    page = await browser.follow(f"/console/requests/{request.id}/pick")
    assert "Je hebt dit verzoek opgepakt" in page and "opgepakt door Sanne" in page
    news = (await deliver(core))[user.user_id]
    picked_up = "Sanne van Steunpunt Mantelzorg Den Bosch (voorbeeld) heeft je verzoek opgepakt"
    assert picked_up in news[0]
    _, refused = await browser.post(f"/console/requests/{request.id}/reply", {"text": " "},
                                    status=422)  # fmt: skip
    assert "hoogstens 1000 tekens" in refused
    page = await browser.follow(f"/console/requests/{request.id}/reply",
                                {"text": "Hallo Anna, wanneer kan ik bellen?"})  # fmt: skip
    assert "Je bericht is verstuurd" in page and "Hallo Anna, wanneer kan ik bellen?" in page
    assert any("wanneer kan ik bellen" in text for text in (await deliver(core))[user.user_id])
    page = await browser.follow(f"/console/requests/{request.id}/close", {"outcome": "contact"})
    assert "afgesloten: er is contact geweest" in page
    assert "Ik pak dit op" not in page and "Afsluiten" not in page
    (closed,) = await rows_of(core, HandoverRequest)
    assert (closed.status, closed.outcome) == ("closed", "contact")
    (message,) = await rows_of(core, HandoverMessage)
    assert message.staff_name == "Sanne"  # the first name only, as in the chat
    await user.says("/mijnverzoeken")
    assert "afgesloten" in user.last_text.lower()


async def test_another_steunpunts_request_answers_404_and_stays_open(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 2021, steunpunt_key=DEN_BOSCH)
    await staff_user(core, 2031, steunpunt_key=VUGHT)
    await staff_user(core, 2041, location_key=LINDE)
    user = await caregiver(core, 2022)
    await ask(user, note="Alleen voor Den Bosch")
    (request,) = await rows_of(core, HandoverRequest)
    other = await signed_in(client, core, 2031)
    assert "Er zijn nog geen verzoeken" in await other.get("/console/requests")
    page = await other.get(f"/console/requests/{request.id}", status=404)
    assert "Alleen voor Den Bosch" not in page
    await other.post(f"/console/requests/{request.id}/pick", status=404)
    await other.post(f"/console/requests/{request.id}/close", {"outcome": "contact"}, status=404)
    location = await signed_in(client, core, 2041)
    await location.get("/console/requests", status=404)
    await location.get(f"/console/requests/{request.id}", status=404)
    (still,) = await rows_of(core, HandoverRequest)
    assert still.status == "sent"


async def test_the_operator_sees_the_requests_per_steunpunt(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 2021, steunpunt_key=DEN_BOSCH)
    await ask(await caregiver(core, 2022))
    await CoreUser(core, OPERATOR).says("/start")
    operator = await signed_in(client, core, OPERATOR)
    page = await operator.get("/console/operator/requests")
    assert "Steunpunt Mantelzorg Den Bosch (voorbeeld)" in page and DEN_BOSCH in page
    staff = await signed_in(client, core, 2021)
    await staff.get("/console/operator/requests", status=404)
