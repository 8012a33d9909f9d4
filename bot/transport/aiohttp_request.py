"""aiohttp-backed transport for python-telegram-bot.

`AiohttpRequest` implements PTB's `BaseRequest` on an `aiohttp.ClientSession`, so the bot talks to
the Bot API over aiohttp instead of httpx (which costs most of the CPU in a busy bot).
"""

from __future__ import annotations

import asyncio
import io
from typing import cast

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import speedups

_POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)


class AiohttpRequest(BaseRequest):
    """Makes Bot API requests through one shared `aiohttp.ClientSession`.

    Timeouts map onto aiohttp as follows:

    * ``connect_timeout`` -> ``ClientTimeout.connect`` (DNS, TCP and TLS set-up).
    * ``read_timeout`` -> ``ClientTimeout.sock_read``: the longest silence while waiting for or
      reading the response. PTB raises it per call for ``getUpdates`` long polling.
    * ``pool_timeout`` -> how long to wait for a free slot among ``connection_pool_size``
      concurrent requests.
    * ``write_timeout``: aiohttp has no write timeout, and its ``sock_read`` clock only starts
      once the body is fully sent. So a stalled upload is bounded by a deadline of
      ``connect + write + read`` on getting the response headers. That deadline applies only
      when all three are finite.

    ``None`` means "no limit". ``BaseRequest.DEFAULT_NONE`` means "use the value given here".
    """

    __slots__ = (
        "_connect_timeout",
        "_connection_pool_size",
        "_fast_loads",
        "_pool_slots",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        fast_json: bool = True,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._fast_loads = speedups.json_loads(enabled=fast_json)
        # Both are created in initialize(): a ClientSession (and its connector) binds to the
        # running event loop, and the constructor usually runs before any loop exists.
        self._session: aiohttp.ClientSession | None = None
        self._pool_slots: asyncio.Semaphore | None = None

    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        """PTB's parsing of an answer, with orjson when it is installed and `fast_json` is on
        (bot/speedups.py); an answer orjson refuses goes to PTB's own parser, which decides (and
        maps the error). PTB calls it on the instance, so it need not be static here."""
        if self._fast_loads is not None:
            try:
                return cast("JSONDict", self._fast_loads(payload))
            except ValueError:  # orjson.JSONDecodeError is a ValueError
                pass
        return BaseRequest.parse_json_payload(payload)

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds, as passed to the constructor."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Create the HTTP session; does nothing if it is already open."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(limit=self._connection_pool_size)
        # The session-wide timeout is switched off on purpose: aiohttp's default has a 300 s
        # `total`, which would silently cap long polling and big downloads. Each request passes
        # its own ClientTimeout instead.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            headers={"User-Agent": self.USER_AGENT},
        )
        # aiohttp cannot tell "waiting for a pooled connection" apart from "connecting" (both
        # raise ConnectionTimeoutError). This semaphore has as many slots as the connector, so
        # the connector never queues and pool exhaustion shows up here, as its own error.
        self._pool_slots = asyncio.Semaphore(self._connection_pool_size)

    async def shutdown(self) -> None:
        """Close the HTTP session and its connections; does nothing if already closed."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return ``(status_code, body)``; see `BaseRequest.do_request`."""
        session, pool_slots = self._session, self._pool_slots
        if session is None or session.closed or pool_slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        # isinstance rather than `is DEFAULT_NONE`, like PTB's HTTPXRequest: any DefaultValue
        # means "the caller did not choose", while an explicit None means "no limit".
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._write_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout

        timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        headers_deadline = (
            None
            if read_timeout is None or write_timeout is None or connect_timeout is None
            else connect_timeout + write_timeout + read_timeout
        )

        if pool_slots.locked():  # a free slot is taken at once, without setting a timer
            try:
                async with asyncio.timeout(pool_timeout):
                    await pool_slots.acquire()
            except TimeoutError as err:
                raise TimedOut(_POOL_TIMEOUT_MESSAGE) from err
        else:
            await pool_slots.acquire()

        try:
            body, headers = _build_body(request_data)
            # A fresh body per call: an aiohttp FormData can be sent only once.
            async with asyncio.timeout(headers_deadline):
                response = await session.request(
                    method, url, data=body, headers=headers, timeout=timeout
                )
            try:
                body = await response.read()
            finally:
                response.release()
        # TimeoutError first: aiohttp's own timeouts subclass both it and ClientError.
        except TimeoutError as err:
            raise TimedOut from err
        except (aiohttp.ClientError, OSError) as err:
            # The class name helps when the aiohttp message is empty (e.g. ServerDisconnected).
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
        finally:
            pool_slots.release()

        return response.status, body


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Each byte as it stands in an urlencoded form (what urllib's quote_plus makes of it).
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_BYTES = [chr(b) if b in _SAFE else "+" if b == 32 else f"%{b:02X}" for b in range(256)]


def _form_quote(text: str) -> str:
    """`urllib.parse.quote_plus(text)` by table (urllib's runs a Python call per byte)."""
    return "".join(map(_FORM_BYTES.__getitem__, text.encode()))


def _build_body(
    request_data: RequestData | None,
) -> tuple[aiohttp.FormData | bytes | None, dict[str, str] | None]:
    """The body of a request and its headers, encoded the way PTB's HTTPXRequest does.

    Without files the JSON-encoded parameters go as an urlencoded form, made here in one go
    (measured: aiohttp's FormData took 64 µs for one question with its buttons, this 26 µs);
    with files everything goes as multipart/form-data.
    """
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        fields = request_data.json_parameters.items()
        encoded = "&".join(f"{_form_quote(k)}={_form_quote(v)}" for k, v in fields)
        return encoded.encode(), _FORM

    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        # PTB hands over file contents as raw bytes. aiohttp warns (ResourceWarning) about raw
        # bytes bodies over 1 MiB and asks for a file object, which it streams in chunks.
        # BytesIO over bytes does not copy the data.
        if isinstance(content, bytes):
            content = io.BytesIO(content)
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None
