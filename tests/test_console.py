"""The staff web console (bot/console): the Mini App initData check, sign-in and its cookie,
sessions, the form token, roles read on every request (a revoked member is out at the next
click), 404 for another steunpunt's or location's ids, the security headers, and the pages of
notices, family evenings and the steunpunt card working on the same rows as the chat."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.config import ConsoleSettings
from bot.console import initdata
from bot.console.initdata import InitDataError
from bot.console.web import COOKIE, mount
from bot.db.console import ConsoleSession
from bot.db.directory import Steunpunt
from bot.db.staff import StaffMember
from bot.features.broadcast.delivery import NoticeDeliverer
from bot.features.broadcast.models import Broadcast, BroadcastDelivery
from bot.features.evenings.models import FamilyEvening
from bot.features.staff.handlers import revoke
from bot.features.steunpunt.directory import import_example_if_empty
from bot.features.steunpunt.models import SteunpuntChange
from bot.jobs.scheduled import ScheduledMessage
from bot.logs import configure_logging
from tests.conversation import CoreUser, staff_user
from tests.test_broadcast import (
    BOXTEL,
    DEN_BOSCH,
    VUGHT,
    VUGHT_BOXTEL,
    RecordingSender,
    caregiver,
)
from tests.test_evenings import LINDE, add_locations, family, new_evening
from tests.test_evenings import evening_id as evening_id_of

TOKEN = "123456:TEST-token-for-the-fake-api-000"  # the token of tests.conftest.settings_for
OPERATOR = 4242
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def signed(user_id: int, at: datetime, token: str = TOKEN, **extra: str) -> str:
    """Mini App initData as Telegram hands it to the page, signed here like Telegram does."""
    user = {"id": user_id, "first_name": "Sanne", "last_name": "de Boer", "language_code": "nl"}
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(at.timestamp())),
        **extra,
    }
    return initdata.sign(fields, token)


# ---------------------------------------------------------------- the initData check


def test_initdata_signed_for_this_bot_names_the_user() -> None:
    user = initdata.verify(signed(77, NOW), TOKEN, NOW, timedelta(minutes=5))
    assert (user.id, user.display_name, user.language_code) == (77, "Sanne de Boer", "nl")
    assert user.auth_date == NOW


def test_the_documented_check_by_hand_matches() -> None:
    """secret = HMAC(key "WebAppData", bot token); hash = HMAC(secret, sorted key=value lines)."""
    import hashlib
    import hmac
    from urllib.parse import parse_qsl

    data = dict(parse_qsl(signed(77, NOW)))
    check = "\n".join(f"{k}={data[k]}" for k in sorted(data) if k != "hash")
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert hmac.new(secret, check.encode(), hashlib.sha256).hexdigest() == data["hash"]


@pytest.mark.parametrize(
    ("init_data", "reason"),
    [
        (signed(77, NOW).replace("Sanne", "Sannx"), "bad_hash"),  # tampered user
        (signed(77, NOW).replace("auth_date=", "auth_date=1"), "bad_hash"),  # tampered date
        (signed(77, NOW, token="654321:OTHER-bot-token-of-someone-000"), "bad_hash"),
        (signed(77, NOW - timedelta(minutes=6)), "expired"),
        (signed(77, NOW + timedelta(minutes=5)), "future"),
        ("user=%7B%22id%22%3A77%7D&auth_date=1", "no_hash"),
        (signed(77, NOW) + "&user=x", "malformed"),  # a key twice
        ("", "malformed"),
        ("x" * 5000, "malformed"),
    ],
    ids=["tampered", "tampered-date", "other-bot", "expired", "future", "no-hash", "twice",
         "empty", "long"],
)  # fmt: skip
def test_initdata_that_is_not_exactly_telegrams_for_this_bot_is_refused(
    init_data: str, reason: str
) -> None:
    with pytest.raises(InitDataError) as refused:
        initdata.verify(init_data, TOKEN, NOW, timedelta(minutes=5))
    assert refused.value.reason == reason


def test_initdata_without_a_user_is_refused() -> None:
    fields = {"auth_date": str(int(NOW.timestamp())), "query_id": "x"}
    with pytest.raises(InitDataError) as refused:
        initdata.verify(initdata.sign(fields, TOKEN), TOKEN, NOW, timedelta(minutes=5))
    assert refused.value.reason == "no_user"


# ---------------------------------------------------------------- a browser on the console


class Browser:
    """The console through aiohttp's test client, keeping the session cookie like a browser
    does (the test client would not send a Secure cookie over http) and the form token."""

    def __init__(self, client: TestClient, core: BotCore) -> None:
        self.client = client
        self.core = core
        self.cookie = ""
        self.csrf = ""
        self.last = ""

    async def sign_in(self, user_id: int, *, at: datetime | None = None) -> web.Response:
        init = signed(user_id, at or self.core.clock.now())
        response = await self.client.post("/console/signin", data={"init_data": init},
                                          allow_redirects=False)  # fmt: skip
        cookies = SimpleCookie(response.headers.get("Set-Cookie", ""))
        if COOKIE in cookies:
            self.cookie = cookies[COOKIE].value
        return response  # type: ignore[return-value]

    async def get(self, path: str, status: int = 200) -> str:
        response = await self.client.get(
            path, headers={"Cookie": f"{COOKIE}={self.cookie}"}, allow_redirects=False
        )
        text = await response.text()
        assert response.status == status, (response.status, text[:2000])
        self.last = text
        if found := re.search(r'name="csrf" value="([^"]+)"', text):
            self.csrf = found.group(1)
        return text

    async def post(
        self, path: str, data: dict[str, str | list[str]] | None = None, *, status: int = 303,
        csrf: bool = True,
    ) -> tuple[str, str]:  # fmt: skip
        """(where it redirects to, the body)."""
        form: list[tuple[str, str]] = []
        for key, value in (data or {}).items():
            form += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
        if csrf:
            form.append(("csrf", self.csrf))
        response = await self.client.post(
            path, data=form, headers={"Cookie": f"{COOKIE}={self.cookie}"},
            allow_redirects=False,
        )  # fmt: skip
        text = await response.text()
        assert response.status == status, (response.status, text[:2000])
        self.last = text
        return response.headers.get("Location", ""), text

    async def follow(self, path: str, data: dict[str, str | list[str]] | None = None) -> str:
        location, _ = await self.post(path, data)
        return await self.get(location)


@pytest.fixture
async def client(core: BotCore) -> AsyncIterator[TestClient]:
    await import_example_if_empty(core.db)
    await add_locations(core)
    core.bot_username = lambda: "mantelzorg_test_bot"
    app = web.Application()
    mount(app, core, ConsoleSettings(operators=(OPERATOR,), sign_ins_per_minute=5), TOKEN)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def signed_in(client: TestClient, core: BotCore, user_id: int) -> Browser:
    browser = Browser(client, core)
    response = await browser.sign_in(user_id)
    assert response.status == 303, await response.text()
    await browser.get("/console/")
    return browser


# ---------------------------------------------------------------- sign-in and sessions


async def test_staff_sign_in_with_signed_initdata_and_get_a_strict_session_cookie(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    browser = Browser(client, core)
    response = await browser.sign_in(601)
    assert response.status == 303 and response.headers["Location"] == "/console/"
    cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/" and int(cookie["max-age"]) == 60 * 60
    page = await browser.get("/console/")
    assert "Ingelogd als Sanne de Boer" in page and "Berichten" in page
    assert "Familieavonden" not in page  # steunpunt staff: no location pages
    async with core.db.transaction() as session:
        row = (await session.scalars(select(ConsoleSession))).one()
    assert row.id != browser.cookie and browser.cookie not in row.id  # only a hash is stored
    assert row.expires_at == core.clock.now() + timedelta(hours=1)


async def test_a_refused_sign_in_gives_no_cookie_and_says_what_to_do(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = Browser(client, core)
    tampered = signed(601, core.clock.now()).replace("Sanne", "Sannx")
    response = await client.post("/console/signin", data={"init_data": tampered})
    assert response.status == 403 and "Set-Cookie" not in response.headers
    assert "Inloggen lukte niet" in await response.text()
    old = await browser.sign_in(601, at=core.clock.now() - timedelta(minutes=10))
    assert old.status == 403 and "verlopen" in await old.text()
    assert not browser.cookie


async def test_a_caregiver_who_is_not_staff_cannot_sign_in(
    core: BotCore, client: TestClient
) -> None:
    await CoreUser(core, 700).says("/start")
    response = await Browser(client, core).sign_in(700)
    assert response.status == 403 and "alleen voor medewerkers" in await response.text()
    stranger = await Browser(client, core).sign_in(999999)  # never used the bot
    assert stranger.status == 403
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0


async def test_sign_in_is_rate_limited(core: BotCore, client: TestClient) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    for _ in range(5):
        refused = await client.post("/console/signin", data={"init_data": "nonsense"})
        assert refused.status == 403
    limited = await Browser(client, core).sign_in(601)
    assert limited.status == 429 and "Te veel pogingen" in await limited.text()
    core.clock.advance(timedelta(minutes=1, seconds=1))  # type: ignore[attr-defined]
    assert (await Browser(client, core).sign_in(601)).status == 303


async def test_pages_without_a_session_go_to_sign_in_and_an_ended_session_is_out(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    anonymous = Browser(client, core)
    await anonymous.get("/console/notices", status=303)
    browser = await signed_in(client, core, 601)
    await browser.get("/console/notices")
    core.clock.advance(timedelta(minutes=61))  # type: ignore[attr-defined]
    await browser.get("/console/notices", status=303)
    await browser.post("/console/notices/preview", {"text": "x"}, status=401)


async def test_signing_out_ends_the_session(core: BotCore, client: TestClient) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    location, _ = await browser.post("/console/signout")
    assert "console_signed_out" in location
    await browser.get("/console/notices", status=303)


async def test_security_headers_on_every_page(core: BotCore, client: TestClient) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    for path in ("/console/", "/console/notices", "/console/notices/99999"):
        response = await client.get(path, headers={"Cookie": f"{COOKIE}={browser.cookie}"})
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors https://web.telegram.org https://*.web.telegram.org" in csp
        assert "default-src 'none'" in csp and "script-src 'self' https://telegram.org" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    for made_up in ("?m=no_such_key", "?m=menu_title", "?notice=stale_button_toast"):
        page = await client.get("/console/" + made_up)  # only our own notices are shown
        assert page.status == 200 and "Inloggen" in await page.text()
    signin = await client.get("/console/")
    assert signin.headers["Cache-Control"] == "no-store"
    assert "https://telegram.org/js/telegram-web-app.js" in await signin.text()


async def test_a_form_without_its_token_changes_nothing(core: BotCore, client: TestClient) -> None:
    await caregiver(core, 7001, municipality=VUGHT)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    await browser.get("/console/notices/new")
    _, page = await browser.post("/console/notices/preview", {"text": "Hallo"}, status=403,
                                 csrf=False)  # fmt: skip
    assert "Er is niets veranderd" in page
    browser.csrf = "forged"
    await browser.post("/console/notices/send", {"text": "Hallo", "when": "now"}, status=403)
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0


async def test_a_revoked_member_is_out_at_the_next_click(core: BotCore, client: TestClient) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    await browser.get("/console/notices")
    async with core.db.transaction() as session:
        member = (await session.scalars(select(StaffMember))).one()
        assert await revoke(session, member.id, core.clock.now())
    page = await browser.get("/console/notices", status=403)
    assert "alleen voor medewerkers" in page
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    await browser.get("/console/notices", status=303)  # the session is gone


async def test_each_role_sees_only_its_pages_and_others_are_404(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    await staff_user(core, 602, location_key=LINDE)
    steunpunt = await signed_in(client, core, 601)
    await steunpunt.get("/console/evenings", status=404)
    await steunpunt.get("/console/operator/steunpunten", status=404)
    home = await steunpunt.get("/console/")
    assert "Kaart van het steunpunt" in home and "Zonder medewerkers" not in home
    location = await signed_in(client, core, 602)
    await location.get("/console/card", status=404)
    await location.get(f"/console/card/{VUGHT_BOXTEL}", status=404)
    assert "Familieavonden" in await location.get("/console/")
    await location.get("/console/no-such-page", status=404)


async def test_the_operator_sees_steunpunten_without_staff_and_card_changes(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    await CoreUser(core, OPERATOR).says("/start")
    operator = await signed_in(client, core, OPERATOR)
    page = await operator.get("/console/operator/steunpunten")
    async with core.db.transaction() as session:
        names = dict((await session.execute(select(Steunpunt.key, Steunpunt.name))).all())
    assert names[DEN_BOSCH] in page and names[VUGHT_BOXTEL] not in page
    await operator.get("/console/notices", status=404)  # an operator is not staff of one
    staff = await signed_in(client, core, 601)
    await staff.get(f"/console/card/{VUGHT_BOXTEL}")
    await staff.follow(f"/console/card/{VUGHT_BOXTEL}/save", {"phone": "073-1234567"})
    changes = await operator.get("/console/operator/changes")
    assert VUGHT_BOXTEL in changes and "+31731234567" in changes


# ---------------------------------------------------------------- notices


def hidden_fields(page: str) -> dict[str, str | list[str]]:
    """The hidden fields of the page's form, as the browser sends them back."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        if name != "csrf":
            fields.setdefault(name, []).append(html.unescape(value))
    return {k: v if len(v) > 1 or k == "municipality" else v[0] for k, v in fields.items()}


async def test_a_notice_composed_on_the_page_is_the_chats_notice_and_is_delivered(
    core: BotCore, client: TestClient
) -> None:
    for user_id, code in ((7001, VUGHT), (7002, VUGHT), (7003, BOXTEL)):
        await caregiver(core, user_id, municipality=code)
    chat = await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    browser = await signed_in(client, core, 601)
    form = await browser.get("/console/notices/new")
    assert 'for="text"' in form and "Vught (2)" in form and "Boxtel (1)" in form
    typed = "Cursus <omgaan met stress> op 1 december."
    _, preview = await browser.post(
        "/console/notices/preview",
        {"text": typed, "audience": "municipalities", "municipality": [VUGHT]},
        status=200,
    )
    assert "Cursus &lt;omgaan met stress&gt; op 1 december." in preview  # escaped, as typed
    assert "Een bericht voor je." in preview  # the neutral lock-screen lines caregivers get
    assert "<b>2</b> mantelzorgers" in preview
    async with core.db.transaction() as session:  # nothing is stored before "Versturen"
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
    _, again = await browser.post("/console/notices/new", hidden_fields(preview), status=200)
    assert "Cursus &lt;omgaan met stress&gt;" in again  # "Tekst aanpassen": the form, filled
    assert f'id="m-{VUGHT}" name="municipality" value="{VUGHT}" checked' in again
    send = hidden_fields(preview) | {"when": "now"}
    page = await browser.follow("/console/notices/send", send)
    assert "wordt nu verstuurd" in page
    await browser.post("/console/notices/send", send)  # pressed twice: still one notice
    async with core.db.transaction() as session:
        notice = (await session.scalars(select(Broadcast))).one()
        deliveries = await session.scalar(select(func.count()).select_from(BroadcastDelivery))
    assert (notice.status, notice.recipients, deliveries) == ("sending", 2, 2)
    assert notice.sender_name == "Sanne" and notice.audience_label == "Mantelzorgers in Vught"
    assert notice.text_length == len(typed)
    await chat.says("/berichten")
    assert "Cursus <omgaan met stress>" in chat.last_text  # the chat lists the same row
    listed = await browser.get("/console/notices")
    assert "bezig" in listed and "0 van 2" in listed
    core.clock.advance(timedelta(seconds=3))  # type: ignore[attr-defined]
    await NoticeDeliverer(core, RecordingSender(), "worker:1:a").run()  # type: ignore[arg-type]
    detail = await browser.get(f"/console/notices/{notice.id}")
    assert "Verstuurd: <b>2</b>" in detail and "Nog te gaan: <b>0</b>" in detail
    assert "<polyline" in detail and 'aria-label="Verstuurde berichten in de tijd' in detail
    assert "2 van 2" in await browser.get("/console/notices")


async def test_a_notice_that_does_not_fit_or_reaches_nobody_is_not_sent(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    await browser.get("/console/notices/new")
    _, long = await browser.post("/console/notices/preview", {"text": "x" * 5000}, status=422)
    assert "Dat is wat lang (5000 tekens)" in long
    _, none = await browser.post(
        "/console/notices/preview", {"text": "Hoi", "audience": "municipalities"}, status=422
    )
    assert "Kies eerst minstens één gemeente" in none
    _, preview = await browser.post("/console/notices/preview", {"text": "Hoi"}, status=200)
    assert "niemand die dit bericht kan krijgen" in preview  # nobody linked to the steunpunt
    _, refused = await browser.post(
        "/console/notices/send", hidden_fields(preview) | {"when": "now"}, status=422
    )
    assert "niemand" in refused
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0


async def test_a_notice_planned_for_later_can_be_cancelled_and_the_night_is_refused(
    core: BotCore, client: TestClient
) -> None:
    await caregiver(core, 7001, municipality=VUGHT)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    browser = await signed_in(client, core, 601)
    await browser.get("/console/notices/new")
    _, preview = await browser.post("/console/notices/preview", {"text": "Koffieochtend"},
                                    status=200)  # fmt: skip
    fields = hidden_fields(preview)
    _, night = await browser.post(
        "/console/notices/send", fields | {"when": "later", "later": "2026-11-25T23:30"},
        status=422,
    )  # fmt: skip
    assert "Tussen 22:00 en 08:00" in night and 'value="2026-11-25T23:30"' in night
    _, past = await browser.post(
        "/console/notices/send", fields | {"when": "later", "later": "2026-11-01T10:00"},
        status=422,
    )  # fmt: skip
    assert "al voorbij" in past
    page = await browser.follow(
        "/console/notices/send", fields | {"when": "later", "later": "2026-11-25T10:00"}
    )
    assert "gepland" in page and "woensdag 25 november 2026 om 10:00" in page
    cancel = re.search(r'action="(/console/notices/\d+/cancel)"', page)[1]
    assert "gestopt" in await browser.follow(cancel)
    async with core.db.transaction() as session:
        assert (await session.scalars(select(Broadcast.status))).one() == "cancelled"


async def test_another_steunpunts_notice_answers_404_and_stays_as_it_is(
    core: BotCore, client: TestClient
) -> None:
    await caregiver(core, 7001, municipality=VUGHT)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    await staff_user(core, 602, steunpunt_key=DEN_BOSCH)
    mine = await signed_in(client, core, 601)
    _, preview = await mine.post("/console/notices/preview", {"text": "Alleen voor Vught"},
                                 status=200)  # fmt: skip
    location = await mine.follow(
        "/console/notices/send",
        hidden_fields(preview) | {"when": "later", "later": "2026-11-25T10:00"},
    )
    notice_id = int(re.search(r"/console/notices/(\d+)/cancel", location)[1])
    member_601 = hidden_fields(preview)["scope"]
    other = await signed_in(client, core, 602)
    page = await other.get(f"/console/notices/{notice_id}", status=404)
    assert "Alleen voor Vught" not in page
    await other.get("/console/notices/new")
    await other.post(f"/console/notices/{notice_id}/cancel", status=404)
    await other.get("/console/notices/987654", status=404)
    # Another's membership in the form: not theirs, so nothing is sent on its behalf.
    await other.post("/console/notices/send",
                     {"scope": member_601, "text": "Namens Vught", "when": "now"},
                     status=404)  # fmt: skip
    await other.get(f"/console/notices/new?scope={member_601}", status=404)
    async with core.db.transaction() as session:
        statuses = list(await session.scalars(select(Broadcast.steunpunt_key)))
    assert statuses == [VUGHT_BOXTEL]


# ---------------------------------------------------------------- family evenings


async def test_staff_see_who_comes_change_the_evening_and_export_the_answers(
    core: BotCore, client: TestClient
) -> None:
    anna = await family(core, 611, "=Anna")
    staff = await staff_user(core, 610, location_key=LINDE)
    await new_evening(staff)
    await anna.presses_data(f"ev:a:{await evening_id_of(core)}:yes")  # the invitation's button
    await anna.taps("2")
    assert "Je komt met 2 personen" in anna.last_text
    browser = await signed_in(client, core, 610)
    listed = await browser.get("/console/evenings")
    assert "Familieavond met muziek" in listed
    evening_id = int(re.search(r"/console/evenings/(\d+)", listed)[1])
    page = await browser.get(f"/console/evenings/{evening_id}")
    assert "=Anna (2)" in page and 'for="f-title"' in page
    changed = await browser.follow(
        f"/console/evenings/{evening_id}/edit",
        {"title": "Familieavond met muziek", "starts_at": "2026-12-12T20:00",
         "place": "de grote zaal", "description": "Met koffie en een koor.", "max_guests": ""},
    )  # fmt: skip
    assert "De families krijgen een bericht" in changed
    async with core.db.transaction() as session:
        evening = await session.get(FamilyEvening, evening_id)
        assert evening is not None and evening.version == 2
        kinds = list(await session.scalars(select(ScheduledMessage.kind).where(
            ScheduledMessage.status == "pending")))  # fmt: skip
    assert "evening_changed" in kinds
    _, refused = await browser.post(
        f"/console/evenings/{evening_id}/edit",
        {"title": "", "starts_at": "gisteren", "place": "zaal", "max_guests": "veel"},
        status=422,
    )
    assert "Vul dit in." in refused and "Vul een getal van 1 tot 1000 in" in refused
    assert "Kies een datum en tijd." in refused
    response = await client.get(f"/console/evenings/{evening_id}/rsvps.csv",
                                headers={"Cookie": f"{COOKIE}={browser.cookie}"})  # fmt: skip
    csv = (await response.read()).decode("utf-8-sig")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "'=Anna,ja,2" in csv  # a formula-looking name stays text in a spreadsheet


async def test_cancelling_an_evening_needs_the_tick_and_tells_the_families(
    core: BotCore, client: TestClient
) -> None:
    await family(core, 611, "Anna")
    staff = await staff_user(core, 610, location_key=LINDE)
    await new_evening(staff)
    browser = await signed_in(client, core, 610)
    evening_id = int(re.search(r"/console/evenings/(\d+)", await browser.get(
        "/console/evenings"))[1])  # fmt: skip
    await browser.get(f"/console/evenings/{evening_id}")
    page = await browser.follow(f"/console/evenings/{evening_id}/cancel")
    assert "Vink eerst aan" in page
    page = await browser.follow(f"/console/evenings/{evening_id}/cancel", {"confirm": "yes"})
    assert "afgezegd" in page
    async with core.db.transaction() as session:
        evening = await session.get(FamilyEvening, evening_id)
        assert evening is not None and evening.status == "cancelled"


async def test_another_locations_evening_answers_404(core: BotCore, client: TestClient) -> None:
    await family(core, 611, "Anna")
    staff = await staff_user(core, 610, location_key=LINDE)
    await new_evening(staff)
    await staff_user(core, 620, location_key="de-eik")
    async with core.db.transaction() as session:
        evening_id = (await session.scalars(select(FamilyEvening.id))).one()
    other = await signed_in(client, core, 620)
    page = await other.get(f"/console/evenings/{evening_id}", status=404)
    assert "Anna" not in page
    await other.get(f"/console/evenings/{evening_id}/rsvps.csv", status=404)
    await other.post(f"/console/evenings/{evening_id}/cancel", {"confirm": "yes"}, status=404)
    async with core.db.transaction() as session:
        evening = await session.get(FamilyEvening, evening_id)
        assert evening is not None and evening.status == "active"


# ---------------------------------------------------------------- the steunpunt card


async def test_the_card_changes_through_a_preview_with_the_chats_checks(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    browser = await signed_in(client, core, 601)
    page = await browser.get("/console/card", status=303)
    page = await browser.get(f"/console/card/{VUGHT_BOXTEL}")
    assert "Zo zien mantelzorgers nu jullie kaart" in page and 'for="f-phone"' in page
    _, wrong = await browser.post(f"/console/card/{VUGHT_BOXTEL}/preview",
                                  {"phone": "112", "website": "http://x.nl"},
                                  status=422)  # fmt: skip
    assert "geen Nederlands telefoonnummer" in wrong and "begint met http://" in wrong
    _, preview = await browser.post(f"/console/card/{VUGHT_BOXTEL}/preview",
                                    {"phone": "073-1234567", "opening_hours": "ma t/m vr 9-17"},
                                    status=200)  # fmt: skip
    assert "073 123 4567 (+31 73 123 4567)" in preview and "Opslaan" in preview
    async with core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(SteunpuntChange)) == 0
    saved = await browser.follow(
        f"/console/card/{VUGHT_BOXTEL}/save",
        {"phone": "073-1234567", "opening_hours": "ma t/m vr 9-17"},
    )
    assert "Opgeslagen" in saved and "073 123 4567" in saved
    async with core.db.transaction() as session:
        changes = list(await session.scalars(select(SteunpuntChange).order_by(SteunpuntChange.id)))
    assert [(c.field, c.new_value, c.staff_name) for c in changes] == [
        ("phone", "+31731234567", "Sanne de Boer"),
        ("opening_hours", "ma t/m vr 9-17", "Sanne de Boer"),
    ]
    await browser.get(f"/console/card/{DEN_BOSCH}", status=404)
    await browser.post(f"/console/card/{DEN_BOSCH}/save", {"phone": "0737654321"}, status=404)


# ---------------------------------------------------------------- the staff menu button


async def test_the_staff_menu_opens_the_console_as_a_web_app_where_serve_has_an_address(
    core: BotCore,
) -> None:
    await import_example_if_empty(core.db)
    staff = await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL)
    await staff.says("/medewerker")
    assert not [b for b in staff.buttons if b.web_app]  # `run` has no web address
    core.web_url = "https://bot.example.nl"
    await staff.says("/medewerker")
    (button,) = [b for b in staff.buttons if b.web_app]
    assert button.web_app == "https://bot.example.nl/console/"
    assert "webconsole" in button.label


async def test_the_console_speaks_english_through_the_same_catalogs(
    core: BotCore, client: TestClient
) -> None:
    await staff_user(core, 602, location_key=LINDE)
    browser = await signed_in(client, core, 602)
    location, _ = await browser.post(
        "/console/language", {"locale": "en", "back": "/console/evenings"}
    )
    assert location == "/console/evenings"
    page = await browser.get(location)
    assert "Family evenings" in page and "No family evenings are planned." in page
    assert '<html lang="en">' in page
    away, _ = await browser.post("/console/language", {"locale": "nl", "back": "//evil.example"})
    assert away == "/console/"  # only back to a page of the console


def test_telegram_html_keeps_the_formatting_and_drops_everything_else() -> None:
    from bot.console.render import telegram_html

    shown = telegram_html(
        '<b>Vet</b> <i>schuin</i> <a href="javascript:alert(1)">link</a>'
        "<script>alert(2)</script><img src=x onerror=alert(3)>\nregel &amp; <u>twee</u><b>open"
    )
    assert shown == ("<b>Vet</b> <i>schuin</i> link<br>\nregel &amp; <u>twee</u><b>open</b>")


async def test_behind_a_proxy_the_rate_limit_counts_the_address_the_proxy_saw(
    core: BotCore,
) -> None:
    from bot.config import load_settings

    settings = load_settings(
        {"CONSOLE_BEHIND_PROXY": "true", "CONSOLE_SIGNINS_PER_MINUTE": "2",
         "CONSOLE_OPERATORS": "1, 2"}, require_token=False, dotenv=None,
    ).console  # fmt: skip
    assert settings.behind_proxy and settings.sign_ins_per_minute == 2
    assert settings.operators == (1, 2)
    app = web.Application()
    mount(app, core, settings, TOKEN)
    async with TestClient(TestServer(app)) as test_client:

        async def attempt(forwarded: str) -> int:
            response = await test_client.post(
                "/console/signin", data={"init_data": "x"},
                headers={"X-Forwarded-For": forwarded},
            )  # fmt: skip
            return response.status

        assert [await attempt("9.9.9.9, 10.0.0.1") for _ in range(3)] == [403, 403, 429]
        # Another caregiver behind the same proxy is not held up; a spoofed first entry counts
        # for nothing.
        assert await attempt("1.2.3.4, 10.0.0.2") == 403
        assert await attempt("10.0.0.1") == 429


def test_console_settings_are_checked() -> None:
    from bot.config import SettingsError, load_settings

    with pytest.raises(SettingsError) as refused:
        load_settings(
            {"CONSOLE_OPERATORS": "12,abc", "CONSOLE_SESSION_MINUTES": "1",
             "CONSOLE_BEHIND_PROXY": "maybe"}, require_token=False, dotenv=None,
        )  # fmt: skip
    problems = "\n".join(refused.value.problems)
    assert "CONSOLE_OPERATORS" in problems and "CONSOLE_SESSION_MINUTES" in problems
    assert "CONSOLE_BEHIND_PROXY" in problems


async def test_the_console_logs_no_content_of_pages_or_forms(
    core: BotCore, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG")  # as `serve` with LOG_LEVEL=DEBUG: libraries stay quiet
    caplog.set_level("DEBUG")
    await caregiver(core, 7001, municipality=VUGHT)
    await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    browser = await signed_in(client, core, 601)
    secret = "Geheime-tekst-7731 over mevrouw Jansen"
    _, preview = await browser.post("/console/notices/preview", {"text": secret}, status=200)
    await browser.follow("/console/notices/send", hidden_fields(preview) | {"when": "now"})
    await browser.get(f"/console/card/{VUGHT_BOXTEL}")
    await browser.follow(f"/console/card/{VUGHT_BOXTEL}/save",
                         {"services_text": "Eigen-woorden-5512"})  # fmt: skip
    await client.post("/console/signin", data={"init_data": signed(601, NOW) + "x"})
    logged = caplog.text
    assert "console sign-in refused: bad_hash" in logged  # reasons and ids are logged
    for content in ("Geheime-tekst-7731", "Jansen", "Eigen-woorden-5512", "Sanne", "de Boer"):
        assert content not in logged
