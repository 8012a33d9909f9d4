"""The webhook server: secret checked in constant time, bad bodies refused, health check."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from telegram.ext import ApplicationBuilder

from bot.db.session import Database
from bot.transport.web import SECRET_HEADER, WEBHOOK_PATH, make_web_app

SECRET = "s3cret-token-for-tests"


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[TestClient, object]]:
    application = ApplicationBuilder().token("123:ABC").build()
    database = Database(sqlite_url)
    async with TestClient(TestServer(make_web_app(application, database, SECRET))) as test_client:
        yield test_client, application
    await database.dispose()


UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"}, "text": "/start",
    },
}  # fmt: skip


async def test_update_with_the_right_secret_is_queued(client: tuple[TestClient, object]) -> None:
    test_client, application = client
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    update = application.update_queue.get_nowait()  # type: ignore[attr-defined]
    assert update.update_id == 7


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}])
async def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    client: tuple[TestClient, object], headers: dict[str, str]
) -> None:
    test_client, application = client
    response = await test_client.post(WEBHOOK_PATH, json=UPDATE, headers=headers)
    assert response.status == 401
    assert application.update_queue.empty()  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"no": "update_id"}).encode()])
async def test_malformed_body_is_a_bad_request(
    client: tuple[TestClient, object], body: bytes
) -> None:
    test_client, application = client
    response = await test_client.post(WEBHOOK_PATH, data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 400
    assert application.update_queue.empty()  # type: ignore[attr-defined]


async def test_oversized_body_is_refused(client: tuple[TestClient, object]) -> None:
    test_client, _ = client
    response = await test_client.post(
        WEBHOOK_PATH, data=b"x" * (300 * 1024), headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 413


async def test_health_check_reports_the_database(client: tuple[TestClient, object]) -> None:
    test_client, _ = client
    response = await test_client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"
