"""The webhook server: secret checked in constant time (and never failing on odd headers), bad
bodies refused, 200 only once the update is stored, 503 when it could not be, health check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from telegram import Bot, Update

from bot.db.session import Database
from bot.transport.telegram import NotStored
from bot.transport.web import SECRET_HEADER, UNREADABLE_KEY, WEBHOOK_PATH, make_web_app

SECRET = "s3cret-token-for-tests"


class Intake:
    """Stands in for `TelegramAdapter.take`: records what it stored; `down` = database outage."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.replied: list[int] = []
        self.down = False
        self.release_replies = asyncio.Event()
        self.release_replies.set()

    async def take(self, update: Update) -> Awaitable[None] | None:
        if self.down:
            raise NotStored(update.update_id)
        self.stored.append(update.update_id)
        return self._reply(update.update_id)

    async def _reply(self, update_id: int) -> None:
        await self.release_replies.wait()
        self.replied.append(update_id)


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[TestClient, Intake]]:
    intake = Intake()
    database = Database(sqlite_url)
    app = make_web_app(Bot("123:ABC"), intake.take, database, SECRET)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client, intake
    await database.dispose()


UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"}, "text": "/start",
    },
}  # fmt: skip


async def test_update_is_answered_once_stored_and_its_replies_follow(
    client: tuple[TestClient, Intake],
) -> None:
    test_client, intake = client
    intake.release_replies.clear()  # the replies are slow: Telegram does not wait for them
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    assert intake.stored == [7] and intake.replied == []
    intake.release_replies.set()
    for _ in range(100):
        if intake.replied:
            break
        await asyncio.sleep(0.01)
    assert intake.replied == [7]


async def test_update_the_database_cannot_take_is_refused_so_telegram_sends_it_again(
    client: tuple[TestClient, Intake],
) -> None:
    test_client, intake = client
    intake.down = True
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status == 503
    intake.down = False
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status == 200 and intake.stored == [7]


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    client: tuple[TestClient, Intake], headers: dict[str, str]
) -> None:
    test_client, intake = client
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers=headers)
    assert response.status == 401
    assert intake.stored == []


@pytest.mark.parametrize(
    "value",
    [b"", "sécret-ünïcode".encode(), b"\xff\xfe\x80 not utf-8", SECRET.encode() + b"\xe9",
     b"x" * 6000],
    ids=["empty", "non-ascii", "not-utf8", "secret-plus-latin1", "huge"],
)  # fmt: skip
async def test_any_secret_header_is_just_wrong_never_an_error(
    client: tuple[TestClient, Intake], value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    test_client, intake = client
    reader, writer = await asyncio.open_connection(test_client.host, test_client.port)
    body = json.dumps(UPDATE).encode()
    writer.write(
        b"POST " + WEBHOOK_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + SECRET_HEADER.encode() + b": " + value + b"\r\n"
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] == b"401"
    assert intake.stored == []
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"no": "update_id"}).encode()])
async def test_malformed_body_is_a_bad_request(
    client: tuple[TestClient, Intake], body: bytes
) -> None:
    test_client, intake = client
    response = await test_client.post(WEBHOOK_PATH, data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 400
    assert intake.stored == []


async def test_an_update_ptb_cannot_read_is_acknowledged_and_logged_by_id_only(
    client: tuple[TestClient, Intake], caplog: pytest.LogCaptureFixture
) -> None:
    test_client, intake = client
    body = {"update_id": 8, "message": 1.5, "note": "geheime-tekst-123"}
    response = await test_client.post(WEBHOOK_PATH, json=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 200  # Telegram must not send it again and again
    assert intake.stored == []
    assert test_client.app[UNREADABLE_KEY] == [1]
    assert "update 8 unreadable" in caplog.text and "geheime" not in caplog.text


async def test_oversized_body_is_refused(client: tuple[TestClient, Intake]) -> None:
    test_client, _ = client
    response = await test_client.post(
        WEBHOOK_PATH, data=b"x" * (300 * 1024), headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 413


async def test_health_check_reports_the_database(client: tuple[TestClient, Intake]) -> None:
    test_client, _ = client
    response = await test_client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"
