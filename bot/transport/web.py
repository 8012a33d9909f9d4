"""aiohttp web server for `serve`: the Telegram webhook and a health check.

A checked update is handled inside its request, and Telegram gets its 200 only once the
update's transaction has committed; when the database cannot take it the answer is 503 and
Telegram delivers it again (the claim by update_id recognises what was already done). The replies
are sent after the 200, still inside the request, so a stopping server waits for them.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text
from telegram import Bot

from bot.db.session import Database
from bot.transport.inbound import Inbound, read
from bot.transport.telegram import NotStored

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram updates are small; anything bigger is not from Telegram.
MAX_BODY = 256 * 1024
# Stores one update and returns the sending of its replies (`TelegramAdapter.take`).
Take = Callable[[Inbound], Awaitable[Awaitable[None] | None]]
BOT_KEY = web.AppKey("bot", Bot)
TAKE_KEY: web.AppKey[Take] = web.AppKey("take")
DB_KEY = web.AppKey("database", Database)
SECRET_KEY = web.AppKey("secret", bytes)
UNREADABLE_KEY = web.AppKey("unreadable", list)  # [count] of updates PTB could not parse


def _secret_matches(request: web.Request) -> bool:
    # Header values arrive as str with undecodable bytes as surrogates: encode them back instead
    # of failing, so any header (empty, non-ASCII, binary) is just a wrong secret.
    given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    return secrets.compare_digest(given, request.app[SECRET_KEY])


async def webhook(request: web.Request) -> web.StreamResponse:
    if not _secret_matches(request):
        log.warning("webhook call with a wrong or missing secret token")
        return web.json_response({"ok": False}, status=401)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"ok": False}, status=413)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        # Not from Telegram; log the kind of problem only: the body may hold typed text.
        log.warning("malformed webhook body (not an update)")
        return web.json_response({"ok": False}, status=400)
    try:
        update = read(data, request.app[BOT_KEY])
    except Exception as exc:  # any parse failure
        # An update PTB cannot read: acknowledged (Telegram would send it again and again),
        # counted and logged by id only.
        request.app[UNREADABLE_KEY][0] += 1
        log.error("update %s unreadable and skipped: %s", data["update_id"], type(exc).__name__)
        return web.json_response({"ok": True})
    try:
        replies = await request.app[TAKE_KEY](update)
    except NotStored:
        return web.json_response({"ok": False}, status=503)
    response = web.json_response({"ok": True})
    if replies is None:
        return response
    # Stored: Telegram has its answer now, the replies follow on this request's time.
    await response.prepare(request)
    await response.write_eof()
    await replies
    return response


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[DB_KEY].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: not healthy
        log.error("health check failed: %s", type(exc).__name__)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def make_web_app(bot: Bot, take: Take, database: Database, secret: str) -> web.Application:
    """The webhook for `take` (`TelegramAdapter.take`) and the health check."""
    app = web.Application(client_max_size=MAX_BODY)
    app[BOT_KEY] = bot
    app[TAKE_KEY] = take
    app[DB_KEY] = database
    app[SECRET_KEY] = secret.encode()
    app[UNREADABLE_KEY] = [0]
    app.router.add_post(WEBHOOK_PATH, webhook)
    app.router.add_get("/healthz", healthz)
    return app
