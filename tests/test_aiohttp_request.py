"""Tests for the aiohttp transport, against a local aiohttp server playing the Bot API."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.transport.aiohttp_request import AiohttpRequest, _form_quote

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Mantelzorg", "username": "zorg_bot"}
LONG_POLL_HOLD = 0.5
CHAT = {"id": 42, "type": "private", "first_name": "Anna"}


@dataclass
class Received:
    """What the fake server saw for one request."""

    method: str
    path: str
    content_type: str
    user_agent: str
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


RECEIVED = web.AppKey("received", list[Received])


@dataclass
class FakeServer:
    base: str
    received: list[Received]


async def _record(request: web.Request) -> Received:
    received = Received(
        method=request.method,
        path=request.path,
        content_type=request.content_type,
        user_agent=request.headers.get("User-Agent", ""),
    )
    if request.can_read_body:
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                received.files[name] = (value.filename, value.file.read(), value.content_type)
            else:
                received.fields[name] = str(value)
    request.app[RECEIVED].append(received)
    return received


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _message(text: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": 7, "date": 1_700_000_000, "chat": CHAT, **extra}
    if text is not None:
        message["text"] = text
    return message


async def bot_api(request: web.Request) -> web.Response:
    """A tiny Bot API: answers the methods these tests call with valid Bot API JSON."""
    received = await _record(request)
    method = request.match_info["method"]
    if request.match_info["token"] != TOKEN:
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
        )
    if method == "getMe":
        return _ok(BOT_USER)
    if method == "sendMessage":
        return _ok(_message(received.fields["text"]))
    if method == "sendDocument":
        filename, content, mimetype = received.files["document"]
        document = {
            "file_id": "doc-1",
            "file_unique_id": "doc-u1",
            "file_name": filename,
            "mime_type": mimetype,
            "file_size": len(content),
        }
        return _ok(_message(document=document))
    if method == "getUpdates":
        # Hold the request open like real long polling does.
        await asyncio.sleep(LONG_POLL_HOLD)
        return _ok([])
    return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)


async def echo(request: web.Request) -> web.Response:
    received = await _record(request)
    return web.json_response({"fields": received.fields})


async def status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), body=b"\x00raw body\xff")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(1.0)
    return web.Response(text="too late")


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    app = web.Application()
    app[RECEIVED] = []
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    # A short shutdown_timeout so a still-sleeping /slow handler doesn't hold up teardown.
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield FakeServer(base=f"http://127.0.0.1:{port}", received=app[RECEIVED])
    finally:
        await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(read_timeout=0.3, connect_timeout=1.0)
    async with request:
        yield request


def _bot(server: FakeServer, **request_kwargs: float) -> Bot:
    return Bot(
        TOKEN,
        base_url=f"{server.base}/bot",
        request=AiohttpRequest(**request_kwargs),
        get_updates_request=AiohttpRequest(**request_kwargs),
    )


def _closed_port() -> int:
    # Bind to get a free port, then close it: nothing listens there afterwards.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_bot_get_me_and_send_message_work_end_to_end(server: FakeServer) -> None:
    async with _bot(server) as bot:
        me = await bot.get_me()
        message = await bot.send_message(chat_id=42, text="Hoi Anna")

    assert me.username == "zorg_bot"
    assert message.text == "Hoi Anna"
    assert message.chat.id == 42
    # Bot.initialize() calls getMe once itself, hence the extra leading call.
    paths = [r.path for r in server.received]
    assert paths == [f"/bot{TOKEN}/getMe", f"/bot{TOKEN}/getMe", f"/bot{TOKEN}/sendMessage"]


async def test_parameters_arrive_as_urlencoded_form_fields(server: FakeServer) -> None:
    async with _bot(server) as bot:
        await bot.send_message(
            chat_id=42, text="Zorg goed voor jezelf ☕", disable_notification=True
        )

    received = server.received[-1]
    assert received.method == "POST"
    assert received.content_type == "application/x-www-form-urlencoded"
    assert received.user_agent == AiohttpRequest.USER_AGENT
    # Like HTTPXRequest, every value is JSON-encoded except plain strings.
    assert received.fields["chat_id"] == "42"
    assert received.fields["text"] == "Zorg goed voor jezelf ☕"
    assert received.fields["disable_notification"] == "true"


async def test_document_upload_arrives_as_multipart_with_filename_and_content(
    server: FakeServer,
) -> None:
    content = b"Medicatie: 2x per dag\n" * 100
    async with _bot(server) as bot:
        message = await bot.send_document(
            chat_id=42, document=content, filename="zorgplan.txt", caption="Het plan"
        )

    received = server.received[-1]
    assert received.content_type == "multipart/form-data"
    filename, uploaded, _mimetype = received.files["document"]
    assert filename == "zorgplan.txt"
    assert uploaded == content
    # The non-file parameters travel in the same multipart body.
    assert received.fields["chat_id"] == "42"
    assert received.fields["caption"] == "Het plan"
    assert message.document is not None
    assert message.document.file_name == "zorgplan.txt"


async def test_long_polling_uses_the_larger_read_timeout_per_request(server: FakeServer) -> None:
    # The default read timeout (0.3 s) is shorter than the server holds getUpdates open (0.5 s).
    # PTB adds the polling timeout to it for the call, so a polling call must still succeed...
    async with _bot(server, read_timeout=0.3) as bot:
        updates = await bot.get_updates(timeout=1)
        # ...while the same call without a polling timeout gets only the 0.3 s.
        with pytest.raises(TimedOut):
            await bot.get_updates()

    assert updates == ()


async def test_status_code_and_body_pass_through_unchanged(
    server: FakeServer, request_: AiohttpRequest
) -> None:
    for code in (200, 404, 418, 502):
        status_code, body = await request_.do_request(f"{server.base}/status/{code}", "GET")
        assert status_code == code
        assert body == b"\x00raw body\xff"


async def test_no_request_data_sends_no_body(server: FakeServer, request_: AiohttpRequest) -> None:
    status_code, body = await request_.do_request(f"{server.base}/echo", "POST")

    assert status_code == 200
    assert json.loads(body) == {"fields": {}}


async def test_timeout_is_reported_as_timed_out(
    server: FakeServer, request_: AiohttpRequest
) -> None:
    with pytest.raises(TimedOut) as excinfo:
        await request_.do_request(f"{server.base}/slow", "GET")

    assert isinstance(excinfo.value.__cause__, asyncio.TimeoutError)


async def test_explicit_none_read_timeout_waits_for_slow_server(
    server: FakeServer, request_: AiohttpRequest
) -> None:
    status_code, body = await request_.do_request(f"{server.base}/slow", "GET", read_timeout=None)

    assert (status_code, body) == (200, b"too late")


async def test_stalled_upload_is_reported_as_timed_out() -> None:
    # A peer that accepts the connection but never reads: once the socket buffers are full the
    # upload stalls, and aiohttp's sock_read clock has not started yet (it starts after the body
    # is sent). Only the connect + write + read deadline can end this request.
    connections: list[asyncio.StreamWriter] = []

    async def never_read(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    stalled = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = stalled.sockets[0].getsockname()[1]
    upload = InputFile(b"x" * 64_000_000, filename="huge.bin")
    data = RequestData([RequestParameter.from_input("document", upload)])
    try:
        async with AiohttpRequest(
            read_timeout=0.2, write_timeout=0.2, connect_timeout=0.2
        ) as request:
            # The outer timeout turns a regression (hanging forever) into a plain failure.
            async with asyncio.timeout(10):
                with pytest.raises(TimedOut):
                    await request.do_request(f"http://127.0.0.1:{port}/upload", "POST", data)
    finally:
        for writer in connections:
            writer.close()
        stalled.close()
        await stalled.wait_closed()


async def test_exhausted_connection_pool_is_reported_as_timed_out(server: FakeServer) -> None:
    async with AiohttpRequest(connection_pool_size=1, pool_timeout=0.1) as request:
        hog = asyncio.create_task(request.do_request(f"{server.base}/slow", "GET"))
        await asyncio.sleep(0.1)  # let the first request take the only connection
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.do_request(f"{server.base}/status/200", "GET")
        assert (await hog)[0] == 200


async def test_closed_port_is_reported_as_network_error(request_: AiohttpRequest) -> None:
    with pytest.raises(NetworkError) as excinfo:
        await request_.do_request(f"http://127.0.0.1:{_closed_port()}/bot/getMe", "POST")

    assert not isinstance(excinfo.value, TimedOut)
    assert isinstance(excinfo.value.__cause__, aiohttp.ClientConnectorError)


async def test_initialize_and_shutdown_are_idempotent_without_unclosed_warnings(
    server: FakeServer,
) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    request = AiohttpRequest()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await request.shutdown()  # before initialize: nothing to close
        await request.initialize()
        await request.initialize()  # must not open (and leak) a second session
        assert (await request.do_request(f"{server.base}/status/204", "GET"))[0] == 204
        await request.shutdown()
        await request.shutdown()
        with pytest.raises(RuntimeError, match="not initialized"):
            await request.do_request(f"{server.base}/status/204", "GET")
        # Usable again after a restart, like PTB's HTTPXRequest.
        async with request:
            assert (await request.do_request(f"{server.base}/status/200", "GET"))[0] == 200
        del request
        gc.collect()

    unclosed = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    unclosed += [str(ctx.get("message")) for ctx in loop_errors]
    assert unclosed == []


@given(st.text())
def test_the_form_encoding_is_urllibs_for_any_text(text: str) -> None:
    try:
        expected = quote_plus(text)
    except UnicodeEncodeError:  # a lone surrogate: refused alike
        with pytest.raises(UnicodeEncodeError):
            _form_quote(text)
        return
    assert _form_quote(text) == expected
