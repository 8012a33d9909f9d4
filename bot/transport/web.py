"""aiohttp web server for `serve`: the Telegram webhook and a health check.

The server only owns the HTTP side: a checked update is put on PTB's update queue, and the bot
logic never knows how it arrived.
"""

from __future__ import annotations

import json
import logging
import secrets

from aiohttp import web
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application

from bot.db.session import Database

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram updates are small; anything bigger is not from Telegram.
MAX_BODY = 256 * 1024
APP_KEY = web.AppKey("application", Application)
DB_KEY = web.AppKey("database", Database)
SECRET_KEY = web.AppKey("secret", str)


async def webhook(request: web.Request) -> web.Response:
    given = request.headers.get(SECRET_HEADER, "")
    if not secrets.compare_digest(given.encode(), request.app[SECRET_KEY].encode()):
        log.warning("webhook call with a wrong or missing secret token")
        return web.json_response({"ok": False}, status=401)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.json_response({"ok": False}, status=413)
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        application = request.app[APP_KEY]
        update = Update.de_json(data, application.bot)
    except (ValueError, TypeError, KeyError) as exc:
        # Log the kind of problem only: the body may hold what a caregiver typed.
        log.warning("malformed webhook body (%s)", type(exc).__name__)
        return web.json_response({"ok": False}, status=400)
    await application.update_queue.put(update)
    return web.json_response({"ok": True})


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[DB_KEY].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: not healthy
        log.error("health check failed: %s", type(exc).__name__)
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def make_web_app(application: Application, database: Database, secret: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[APP_KEY] = application
    app[DB_KEY] = database
    app[SECRET_KEY] = secret
    app.router.add_post(WEBHOOK_PATH, webhook)
    app.router.add_get("/healthz", healthz)
    return app
