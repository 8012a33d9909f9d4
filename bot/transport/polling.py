"""Long polling for `run`: fetch updates with getUpdates, handle them, confirm each once handled.

PTB's Updater confirms a batch (by asking for the next offset) as soon as it has put it on its
queue, before anything is stored, and fetches on without bound; a process killed meanwhile loses
everything it had fetched. Here the offset asked for is always the lowest update not yet handled
(committed and answered, or skipped for good), so nothing is confirmed before it is handled. The
next batch is fetched once half of those in hand are handled (or after `BUSY_FETCH`), not all:
Telegram hands the ones still in hand out again (recognised and left alone), so one getUpdates'
worth (100) at most is in hand, and the bot works on while the slowest of a batch finish.
"""

from __future__ import annotations

import asyncio
import functools
import logging
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
# Seconds: while updates are in hand and not half of them end, new ones are fetched this often
# anyway (a slow one must not hold up everybody else; sooner, the fetch would only bring back
# the ones in hand: Telegram hands out what is not confirmed at once).
BUSY_FETCH = 0.25
# Waits after a failed poll or an update the database could not take, doubling up to the last.
BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)


class Poller:
    """Fetches, handles and confirms updates until `stop()`.

    Updates are handled concurrently across caregivers and in order per caregiver (an update
    waits for the same caregiver's earlier one, across batches). Pitfalls: `run()` raises
    `InvalidToken` (the token was revoked: fatal, the caller exits); an update the database
    could not take stops that caregiver's later ones and new fetching until what is in hand is
    over, then, after a pause, everything not handled comes again (what was handled meanwhile
    is recognised by its claim); `on_handled` (tests) is called with each update id once its
    handling is over.
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
        self.unparseable = 0  # updates PTB could not read: skipped and confirmed
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Fetched and not handled (running, waiting for the caregiver's earlier one, or failed):
        # the lowest is the next offset, so none of them is confirmed.
        self._unhandled: set[int] = set()
        # Handled above the lowest unhandled: Telegram hands them out again until confirmed.
        self._handled: set[int] = set()
        self._running: dict[int, asyncio.Task[bool]] = {}
        self._last: dict[object, asyncio.Task[bool]] = {}  # per caregiver: their latest update
        self._next = 0  # above every update seen: the offset when nothing is unhandled
        self._failed = False  # an update was not stored since the last fetch
        self._low = 0  # `_until_half_handled` ends when no more than this many still run
        self._waiter: asyncio.Future[None] | None = None  # ... by this future's result

    @property
    def offset(self) -> int | None:
        """The offset of the next getUpdates: everything below it is handled."""
        if self._unhandled:
            return min(self._unhandled)
        return self._next or None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="poller")
        return self._task

    async def stop(self) -> None:
        """Take nothing new; what is in hand is handled and confirmed, then `run` returns."""
        self._stopping.set()
        self._wake()
        if self._task is not None:
            await self._task

    async def run(self) -> None:
        try:
            await self._poll()
            if self._running:
                await asyncio.wait(set(self._running.values()))
        except BaseException:  # cancelled (shutdown timeout) or fatal: nothing goes on
            for task in self._running.values():
                task.cancel()
            raise
        await self._confirm()

    async def _poll(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            await self._until_half_handled()
            if self._stopping.is_set():
                break
            if self._failed:  # what is in hand is over: everything not handled comes again
                self._failed = False
                self._last.clear()
                await self._pause(BACKOFF[min(failures, len(BACKOFF) - 1)])
                failures += 1
                continue
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
            if self._unhandled.issubset(self._running):  # no failed update waits to come again
                failures = 0
            self._take(raw)

    async def _until_half_handled(self) -> None:
        """Wait until at most half of the updates running after the last fetch still run (all
        of them over when it was one), `BUSY_FETCH` seconds at most; after a failure until all
        are over; or `stop()`."""
        self._low = len(self._running) // 2
        if self._wake():
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            if self._failed:
                await self._waiter
            else:
                await asyncio.wait({self._waiter}, timeout=BUSY_FETCH)
                if self._failed and not self._wake():  # failed meanwhile: wait for the rest
                    await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> bool:
        """Whether `_until_half_handled` may end now; ends its wait if so."""
        ready = self._stopping.is_set() or len(self._running) <= (0 if self._failed else self._low)
        if ready and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return ready

    async def _fetch(self) -> list[dict[str, Any]] | None:
        """The next updates (raw JSON), or None when `stop()` came while waiting for them."""
        data: dict[str, Any] = {"timeout": 0 if self._unhandled else self.timeout,
                                "limit": BATCH, "allowed_updates": ALLOWED_UPDATES}  # fmt: skip
        offset = self.offset
        if offset is not None:
            data["offset"] = offset
            # Confirmed by this fetch: one handed out again is a redelivery, to handle again.
            self._handled = {u for u in self._handled if u >= offset}
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

    def _take(self, raw: list[dict[str, Any]]) -> None:
        """Start handling the updates of a fetch that are not in hand or handled already."""
        for data in raw:
            update_id = data["update_id"]
            self._next = max(self._next, update_id + 1)
            if update_id in self._running or update_id in self._handled:
                continue  # handed out again: still in hand, or handled and not yet confirmed
            try:
                update = read(data, self.bot)
            except Exception as exc:  # any parse failure: skip this one, not the others
                self.unparseable += 1
                log.error("update %s unreadable and skipped: %s", update_id,
                          type(exc).__name__)  # fmt: skip
                self._done(update_id)
                continue
            user = update.user_id
            key = user if user is not None else ("update", update_id)
            self._unhandled.add(update_id)
            task = asyncio.create_task(self._handle(update, self._last.get(key)))
            self._running[update_id] = self._last[key] = task
            task.add_done_callback(functools.partial(self._ended, key, update_id))

    async def _handle(self, update: Inbound, earlier: asyncio.Task[bool] | None) -> bool:
        """Handle one update after the same caregiver's earlier one; False when it was not
        stored, or its earlier one was not (it comes again, in order, after a pause)."""
        if earlier is not None:
            await asyncio.wait({earlier})
            if not _stored(earlier):
                return False
        try:
            await self.adapter.process(update)
        except NotStored:
            return False
        return True

    def _ended(self, key: object, update_id: int, task: asyncio.Task[bool]) -> None:
        del self._running[update_id]
        error = None if task.cancelled() else task.exception()
        if error is not None:
            # `process` logs and skips what fails for a reason other than the database;
            # anything escaping it is skipped too: it must not block everybody behind it.
            log.error("update %s failed and is skipped: %s", update_id, describe(error))
        if _stored(task):
            if self._last.get(key) is task:
                del self._last[key]  # kept when not stored: the caregiver's next ones wait
            self._done(update_id)
        else:
            self._failed = True
        self._wake()

    def _done(self, update_id: int) -> None:
        """`update_id` is handled: confirmed by the next fetch once nothing below it is open."""
        self._unhandled.discard(update_id)
        self._handled.add(update_id)
        if self.on_handled is not None:
            self.on_handled(update_id)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _confirm(self) -> None:
        """Tell Telegram the handled updates are done (the next fetch would; there is none)."""
        offset = self.offset
        if offset is None:
            return
        try:
            await self.bot._post("getUpdates", {"offset": offset, "limit": 1, "timeout": 0})
        except TelegramError as exc:  # they come again after the restart, and are recognised
            log.warning("could not confirm the last updates: %s", describe(exc))


def _stored(task: asyncio.Task[bool]) -> bool:
    """Whether a finished update's handling is over for good (stored, or skipped for a bug)."""
    if task.cancelled():
        return False
    return task.exception() is not None or task.result()


def _seconds(retry_after: Any) -> float:
    return float(getattr(retry_after, "total_seconds", lambda: retry_after)())
