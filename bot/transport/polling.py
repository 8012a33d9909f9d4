"""Long polling for `run`: fetch a batch with getUpdates, handle it, only then confirm it.

PTB's Updater confirms a batch (by asking for the next offset) as soon as it has put it on its
queue, before anything is stored, and fetches on without bound; a process killed meanwhile loses
everything it had fetched. Here at most one batch is in hand, and its offset is confirmed only
when every update of it is handled (committed) or skipped for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.logs import describe
from bot.transport.inbound import Inbound, read
from bot.transport.telegram import NotStored, TelegramAdapter

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query"]
BATCH = 100
# Waits after a failed poll or an update the database could not take, doubling up to the last.
BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)


class Poller:
    """Fetches, handles and confirms batches of updates until `stop()`.

    Pitfalls: `run()` raises `InvalidToken` (the token was revoked: fatal, the caller exits);
    an update the database could not take makes the whole batch come again after a pause
    (the ones already handled are recognised by their claim); `on_handled` (tests) is called with
    each update id once its handling is over.
    """

    def __init__(
        self,
        bot: Bot,
        adapter: TelegramAdapter,
        timeout: int = 30,
        on_handled: Callable[[int], None] | None = None,
    ) -> None:
        self.bot = bot
        self.adapter = adapter
        self.timeout = timeout
        self.on_handled = on_handled
        self.offset: int | None = None
        self.unparseable = 0  # updates PTB could not read: skipped and confirmed
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="poller")
        return self._task

    async def stop(self) -> None:
        """Take nothing new; the batch in hand is handled and confirmed, then `run` returns."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                raw = await self._fetch()
            except InvalidToken:
                raise
            except RetryAfter as exc:
                log.warning("getUpdates: Telegram asked to wait (RetryAfter)")
                await self._pause(_seconds(exc.retry_after))
                continue
            except (TelegramError, OSError, TimeoutError) as exc:
                log.warning("getUpdates failed: %s", describe(exc))
                await self._pause(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1
                continue
            if raw is None:  # stopped while waiting
                break
            if await self._handle(raw):
                failures = 0
                if raw:
                    self.offset = max(int(u["update_id"]) for u in raw) + 1
            else:
                await self._pause(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1
        await self._confirm()

    async def _fetch(self) -> list[dict[str, Any]] | None:
        """The next batch (raw JSON), or None when `stop()` came while waiting for one."""
        data: dict[str, Any] = {"timeout": self.timeout, "limit": BATCH,
                                "allowed_updates": ALLOWED_UPDATES}  # fmt: skip
        if self.offset is not None:
            data["offset"] = self.offset
        # Raw JSON, not `get_updates`: PTB parses the whole batch at once, so one update it
        # cannot read would fail all the others with it.
        polling = asyncio.ensure_future(
            self.bot._post("getUpdates", data, read_timeout=self.timeout + 10)
        )
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not polling.done():
            polling.cancel()
            return None
        result = polling.result()
        return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    async def _handle(self, raw: list[dict[str, Any]]) -> bool:
        """Handle a batch: different users at once, each user's updates in order. False when
        one of them could not be stored (the batch must come again)."""
        chains: dict[object, list[Inbound]] = defaultdict(list)
        for data in raw:
            try:
                update = read(data, self.bot)
            except Exception as exc:  # any parse failure: skip this one, not the batch
                self.unparseable += 1
                log.error("update %s unreadable and skipped: %s", data["update_id"],
                          type(exc).__name__)  # fmt: skip
                self._handled(data["update_id"])
                continue
            user = update.user_id
            chains[user if user is not None else ("update", update.update_id)].append(update)

        async def chain(updates: list[Inbound]) -> bool:
            for update in updates:
                try:
                    await self.adapter.process(update)
                except NotStored:
                    return False
                self._handled(update.update_id)
            return True

        results = await asyncio.gather(*(chain(updates) for updates in chains.values()))
        return all(results)

    def _handled(self, update_id: int) -> None:
        if self.on_handled is not None:
            self.on_handled(update_id)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _confirm(self) -> None:
        """Tell Telegram the handled batches are done (the next poll would; there is none)."""
        if self.offset is None:
            return
        try:
            await self.bot._post("getUpdates", {"offset": self.offset, "limit": 1, "timeout": 0})
        except TelegramError as exc:  # they come again after the restart, and are recognised
            log.warning("could not confirm the last updates: %s", describe(exc))


def _seconds(retry_after: Any) -> float:
    return float(getattr(retry_after, "total_seconds", lambda: retry_after)())
