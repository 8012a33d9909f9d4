"""Command line: `python -m bot` run, serve, chat, db, directory, webhook, staff, location,
notice, steunpunt."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bot import speedups
from bot.config import Settings, SettingsError, load_settings
from bot.engine.spec import DialogError

log = logging.getLogger("bot")


def _settings(*, require_token: bool, require_webhook: bool = False) -> Settings:
    try:
        return load_settings(require_token=require_token, require_webhook=require_webhook)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(level: str) -> None:
    from bot.logs import configure_logging

    configure_logging(level)


async def _until_stopped() -> asyncio.Event:
    """Wait for SIGTERM or SIGINT; the event returned is set by a second one (stop waiting)."""
    stop, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            hurry.set()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    return hurry


async def run_polling(settings: Settings) -> None:
    from bot.app.runtime import build_core, prepare_database
    from bot.jobs.scheduled import worker_name
    from bot.jobs.shutdown import Stopping, shutdown
    from bot.jobs.ticks import make_scheduler
    from bot.logs import asyncio_exception_handler
    from bot.transport.polling import Poller
    from bot.transport.telegram import build_application

    asyncio.get_running_loop().set_exception_handler(asyncio_exception_handler)
    await prepare_database(settings)
    core = build_core(settings)
    app = build_application(settings, core)
    worker = worker_name()
    scheduler = make_scheduler(core, app.bot_data["sender"], worker)
    try:
        await app.initialize()  # getMe: a refused token stops the start here
        speedups.settle()
        poller = Poller(app.bot, app.bot_data["adapter"])
        polling = poller.start()
        scheduler.start()
        log.info("bot is running (long polling)")
        signalled = asyncio.create_task(_until_stopped())
        await asyncio.wait({polling, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if polling.done():  # polling cannot go on (a revoked token): stop the rest, then exit
            signalled.cancel()
            stopping = Stopping(_nothing, scheduler, core.db, worker, core.registry.claimed_tables)
            await shutdown(stopping, settings.shutdown_timeout, asyncio.Event())
            polling.result()
            return
        # The poller stops fetching, handles the batch in hand and confirms it to Telegram.
        stopping = Stopping(poller.stop, scheduler, core.db, worker, core.registry.claimed_tables)
        await shutdown(stopping, settings.shutdown_timeout, signalled.result())
    finally:
        await _close(app, core.db)


async def _nothing() -> None:
    return None


async def serve(settings: Settings) -> None:
    from aiohttp import web

    from bot.app.runtime import build_core, prepare_database
    from bot.console.web import mount
    from bot.jobs.scheduled import worker_name
    from bot.jobs.shutdown import Stopping, shutdown
    from bot.jobs.ticks import make_scheduler
    from bot.logs import asyncio_exception_handler
    from bot.transport.telegram import build_application
    from bot.transport.web import make_web_app

    asyncio.get_running_loop().set_exception_handler(asyncio_exception_handler)
    await prepare_database(settings)
    core = build_core(settings)
    app = build_application(settings, core)
    worker = worker_name()
    scheduler = make_scheduler(core, app.bot_data["sender"], worker)
    assert settings.webhook_secret is not None
    # A request in flight at shutdown gets the whole shutdown budget to finish.
    web_app = make_web_app(app.bot, app.bot_data["adapter"].take, core.db, settings.webhook_secret)
    assert settings.telegram_bot_token is not None
    # The staff console under /console, signed in with Telegram's Mini App data (bot/console).
    mount(web_app, core, settings.console, settings.telegram_bot_token)
    runner = web.AppRunner(web_app, shutdown_timeout=settings.shutdown_timeout)
    try:
        await app.initialize()  # getMe: a refused token stops the start here
        await runner.setup()
        speedups.settle()
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()
        scheduler.start()
        log.info("bot is serving the webhook on port %d", settings.port)
        hurry = await _until_stopped()
        # runner.cleanup closes the listening socket at once (new connections are refused),
        # then waits for the requests in flight: each handles its update and sends its replies.
        stopping = Stopping(
            runner.cleanup, scheduler, core.db, worker, core.registry.claimed_tables
        )
        await shutdown(stopping, settings.shutdown_timeout, hurry)
    finally:
        await _close(app, core.db)


async def _close(app: Any, db: Any) -> None:
    """Release the Bot API connections and the database, whatever state the stop left."""
    try:
        if app.running:  # the start failed halfway, or the stop was cut off before PTB's stop
            await asyncio.wait_for(app.stop(), 2)
        await app.shutdown()
    except Exception as exc:
        log.error("closing the Telegram connection failed: %s", type(exc).__name__)
    await db.dispose()


async def chat(settings: Settings) -> None:
    from bot.app.runtime import build_core, prepare_database
    from bot.features.steunpunt.directory import import_example_if_empty
    from bot.jobs.ticks import make_scheduler
    from bot.jobs.ticks import stop as stop_scheduler
    from bot.text.i18n import choose_locale
    from bot.transport.terminal import TerminalChat, TerminalSender

    await prepare_database(settings)
    core = build_core(settings)
    if await import_example_if_empty(core.db):
        print("(empty steunpunt directory: loaded the EXAMPLE region, fictional steunpunten)")

    # LANG=en_US.UTF-8 -> English; C, POSIX or anything else -> Dutch.
    language = choose_locale(None, os.environ.get("LANG", "").split(".")[0].replace("_", "-"))
    terminal = TerminalChat(core, language_code=language)
    # The same ticks as `run`: due check-ins, reminders and follow-ups appear while chatting.
    scheduler = make_scheduler(core, TerminalSender(terminal))  # type: ignore[arg-type]
    scheduler.start()
    try:
        await terminal.run()
    finally:
        await stop_scheduler(scheduler)
        await core.db.dispose()


async def directory(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.runtime import prepare_database
    from bot.db.session import Database
    from bot.features.steunpunt.directory import directory_command

    await prepare_database(settings)
    db = Database(settings.database_url)
    try:
        return await directory_command(
            db, args.action, args.file, replace=args.replace, dry_run=args.dry_run,
            example=args.example,
        )  # fmt: skip
    finally:
        await db.dispose()


async def bot_username(settings: Settings, given: str | None) -> str:
    """The bot's @username (for deep links): `--bot-username`, else BOT_USERNAME, else asked
    from Telegram with getMe (needs the token and Telegram)."""
    from telegram import Bot

    from bot.config import USERNAME_RE
    from bot.features.staff.handlers import StaffError
    from bot.transport.aiohttp_request import AiohttpRequest

    if given is not None:
        if not USERNAME_RE.match(given.removeprefix("@")):
            raise StaffError(f"--bot-username: expected the bot's @username, got {given!r}")
        return given.removeprefix("@")
    if settings.bot_username is not None:
        return settings.bot_username
    if settings.telegram_bot_token is None:
        raise StaffError(
            "the links name the bot: set BOT_USERNAME (or --bot-username), or "
            "TELEGRAM_BOT_TOKEN to ask Telegram"
        )
    bot = Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        request=AiohttpRequest(connection_pool_size=1),
    )
    async with bot:
        return bot.username


async def operator(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.runtime import prepare_database
    from bot.cli import operator as staff_cli
    from bot.clock import SystemClock
    from bot.db.session import Database

    await prepare_database(settings)
    db = Database(settings.database_url)
    try:
        given = getattr(args, "bot_username", None)
        return await staff_cli.run(
            db, SystemClock(), args, lambda: bot_username(settings, given), sys.stdout
        )
    finally:
        await db.dispose()


async def webhook(settings: Settings, action: str) -> None:
    from telegram import Bot

    from bot.transport.aiohttp_request import AiohttpRequest
    from bot.transport.web import WEBHOOK_PATH

    assert settings.telegram_bot_token is not None
    bot = Bot(
        settings.telegram_bot_token,
        base_url=settings.telegram_api_base_url,
        request=AiohttpRequest(connection_pool_size=2),
    )
    async with bot:
        if action == "set":
            assert settings.webhook_url is not None
            url = settings.webhook_url.rstrip("/") + WEBHOOK_PATH
            await bot.set_webhook(
                url,
                secret_token=settings.webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
            print(f"webhook set to {url}")
        elif action == "delete":
            await bot.delete_webhook()
            print("webhook deleted")
        else:
            info = await bot.get_webhook_info()
            print(f"url={info.url!r} pending={info.pending_update_count}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("run", help="talk to Telegram with long polling (one instance)")
    sub.add_parser("serve", help="aiohttp server for Telegram's webhook, with GET /healthz")
    sub.add_parser("chat", help="the dialogs in this terminal, without Telegram")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"])
    steunpunten = sub.add_parser(
        "directory", help="steunpunt directory: import or export a file; build-places"
    )
    steunpunten.add_argument("action", choices=["import", "export", "build-places"])
    steunpunten.add_argument("file", nargs="?", type=Path, help="YAML or CSV (export: or stdout)")
    steunpunten.add_argument(
        "--replace", action="store_true", help="import: remove steunpunten not in the file"
    )
    steunpunten.add_argument(
        "--dry-run", action="store_true", help="import: show what would change, change nothing"
    )
    steunpunten.add_argument(
        "--example", action="store_true", help="import the example region (fictional)"
    )
    hook = sub.add_parser("webhook", help="register the webhook with Telegram (run once)")
    hook.add_argument("action", choices=["set", "delete", "info"])
    from bot.cli import operator as staff_cli

    staff_cli.add_parsers(sub)
    args = parser.parse_args(argv)

    try:
        if args.mode == "chat":
            settings = _settings(require_token=False)
            logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
            asyncio.run(chat(settings))
        elif args.mode == "db":
            from bot.db import migrate

            settings = _settings(require_token=False)
            _logging(settings.log_level)
            if args.action == "upgrade":
                migrate.upgrade(settings.database_url)
                print("database schema is up to date")
            else:
                print(asyncio.run(migrate.current_revision(settings.database_url)) or "empty")
        elif args.mode == "directory" and args.action == "build-places":
            from bot.features.steunpunt.places import build_places_csv

            print(build_places_csv(*([args.file] if args.file else [])))
        elif args.mode == "directory":
            settings = _settings(require_token=False)
            logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
            return asyncio.run(directory(settings, args))
        elif args.mode in ("staff", "location", "notice", "steunpunt"):
            # Links name the bot: by --bot-username, BOT_USERNAME, or the token (getMe).
            settings = _settings(require_token=False)
            logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
            return asyncio.run(operator(settings, args))
        elif args.mode == "webhook":
            settings = _settings(require_token=True, require_webhook=args.action == "set")
            _logging(settings.log_level)
            asyncio.run(webhook(settings, args.action))
        elif args.mode == "run":
            settings = _settings(require_token=True)
            _logging(settings.log_level)
            speedups.run(run_polling(settings), enabled=settings.speedups)
        else:
            settings = _settings(require_token=True, require_webhook=True)
            _logging(settings.log_level)
            speedups.run(serve(settings), enabled=settings.speedups)
    except DialogError as exc:
        for line in str(exc).splitlines():
            print(f"dialog error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from telegram.error import InvalidToken

        from bot.app.runtime import DatabaseUnavailable, NotMigrated

        if isinstance(exc, NotMigrated):
            print(f"configuration error: {exc}", file=sys.stderr)
            return 2
        # Fatal: exit non-zero so the platform restarts or alerts, with one line (no token).
        if isinstance(exc, InvalidToken):
            print("fatal: Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): the token is "
                  "wrong or was revoked", file=sys.stderr)  # fmt: skip
            return 3
        if isinstance(exc, DatabaseUnavailable):
            print(f"fatal: {exc}", file=sys.stderr)
            return 3
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
