"""Runs the real bot (PTB Application, aiohttp request backend, our core) against the fake Bot API.

`harness.processed(update_id)` waits until the bot has fully handled an update (replies sent), so
tests never sleep. `restart()` builds a new Application on the same database, like a new process.
"""

from __future__ import annotations

import asyncio

from telegram.ext import Application

from bot.app.dispatch import BotCore
from bot.clock import Clock
from bot.transport.polling import Poller
from bot.transport.telegram import build_application
from tests.conftest import core_for, settings_for
from tests.fakebotapi import FakeBotAPI


class BotHarness:
    def __init__(self, fake: FakeBotAPI, database_url: str, clock: Clock) -> None:
        self.fake = fake
        self.database_url = database_url
        self.clock = clock
        self.app: Application | None = None
        self.core: BotCore | None = None
        self.poller: Poller | None = None
        self._done: dict[int, asyncio.Event] = {}

    def _event(self, update_id: int) -> asyncio.Event:
        return self._done.setdefault(update_id, asyncio.Event())

    def _mark_done(self, update_id: int) -> None:
        self._event(update_id).set()

    async def processed(self, update_id: int, within: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self._event(update_id).wait(), within)
        except TimeoutError:
            calls = [c.method for c in self.fake.calls[-8:]]
            raise AssertionError(
                f"update {update_id} not handled in {within}s; last calls {calls}"
            ) from None
        self._done.pop(update_id, None)

    async def start(self) -> None:
        settings = settings_for(
            self.database_url,
            TELEGRAM_API_BASE_URL=self.fake.base_url,
            TELEGRAM_API_BASE_FILE_URL=self.fake.base_file_url,
        )
        self.core = core_for(settings, self.clock)
        self.app = build_application(settings, self.core)
        await self.app.initialize()
        # The poller of `run`; it reports an update once its replies are sent.
        self.poller = Poller(
            self.app.bot, self.app.bot_data["adapter"], timeout=1, on_handled=self._mark_done
        )
        self.poller.start()

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
            self.poller = None
        if self.app is not None:
            await self.app.shutdown()
            self.app = None
        if self.core is not None:
            await self.core.db.dispose()
            self.core = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()
