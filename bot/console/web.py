"""The console's aiohttp application, mounted by `serve` under /console: sign-in with Telegram
Mini App data, server-side sessions with a form token, the security headers, and the pages the
features registered (`Registry.console_pages`), each checked for its role on every request.

Every request reads the user's staff memberships from the database (bot/app/roles.py), so a
revoked member is out at the next click; a page of someone else's steunpunt or location answers
404 (the handlers raise `NotFound`). Logs name caregiver ids and reasons, never page content.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import BotCore
from bot.app.registry import ConsolePage
from bot.app.roles import Scope, scopes_for
from bot.config import ConsoleSettings
from bot.console import initdata
from bot.console.render import telegram_html
from bot.console.request import ConsoleRequest, Download, NotFound, Page, Redirect
from bot.db.console import ConsoleSession
from bot.db.models import Caregiver
from bot.text.content import Texts
from bot.text.i18n import SUPPORTED_LOCALES, choose_locale

log = logging.getLogger(__name__)

PREFIX = "/console"
# __Host-: only over https, for this host, path / (no subdomain can set or read it).
COOKIE = "__Host-console"
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = {"console.css": "text/css", "signin.js": "text/javascript"}
TELEGRAM_JS = "https://telegram.org/js/telegram-web-app.js"
# Telegram's web clients frame Mini Apps; the apps open them as a page of their own.
FRAME_ANCESTORS = "https://web.telegram.org https://*.web.telegram.org"
CSP = (
    "default-src 'none'; script-src 'self' https://telegram.org; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    f"frame-ancestors {FRAME_ANCESTORS}"
)
# What the sign-in page may be asked to say (`?m=`), after signing out or an ended session.
SIGN_IN_MESSAGES = ("console_signed_out", "console_session_ended")
SIGN_INS_OVERALL = 20  # times the per-address limit: all addresses together, per minute
NOTICE_PREFIX = "console_notice_"

CORE_KEY = web.AppKey("core", BotCore)
SETTINGS_KEY = web.AppKey("console_settings", ConsoleSettings)
TOKEN_KEY = web.AppKey("bot_token", str)
JINJA_KEY = web.AppKey("jinja", jinja2.Environment)
LIMIT_KEY: web.AppKey[SignInLimit] = web.AppKey("sign_in_limit")


class SignInLimit:
    """Sign-in attempts per client address and in all, per minute, in this process (like
    FLOOD_LIMIT): enough to refuse guessing, and state that a restart may forget."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self.overall = per_address * SIGN_INS_OVERALL
        self._by_address: dict[str, deque[datetime]] = {}
        self._all: deque[datetime] = deque()

    def allow(self, address: str, now: datetime) -> bool:
        since = now - timedelta(minutes=1)
        for seen in (self._all, *self._by_address.values()):
            while seen and seen[0] <= since:
                seen.popleft()
        self._by_address = {k: v for k, v in self._by_address.items() if v}
        mine = self._by_address.setdefault(address, deque())
        if len(mine) >= self.per_address or len(self._all) >= self.overall:
            return False
        mine.append(now)
        self._all.append(now)
        return True


def client_address(request: web.Request, settings: ConsoleSettings) -> str:
    """Who is signing in, for the rate limit: the connection's address, or behind the
    platform's proxy the address it saw (the last entry of X-Forwarded-For: the proxy appends
    it; entries before it are whatever the client sent)."""
    if settings.behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return request.remote or "?"


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def allowed(role: str, scopes: list[Scope], operator: bool) -> bool:
    if role == "operator":
        return operator
    if role == "steunpunt":
        return any(s.steunpunt_key for s in scopes)
    if role == "location":
        return any(s.location_id is not None for s in scopes)
    return bool(scopes)


# ---------------------------------------------------------------- rendering


def environment(folders: list[Path]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, *folders]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["telegram_html"] = telegram_html
    return env


def texts_helpers(texts: Texts) -> dict[str, Any]:
    """Template functions: our own messages are trusted HTML (values escaped by `Texts.get`)."""

    def t(key: str, **values: Any) -> Markup:
        return Markup(texts.get(key, **values))

    def tn(key: str, n: int, **values: Any) -> Markup:
        return Markup(texts.get_n(key, n, **values))

    def when(moment: datetime | None) -> str:
        return texts.translator.format_datetime(moment) if moment is not None else "–"

    return {"t": t, "tn": tn, "when": when, "lang": texts.locale, "texts": texts}


def url(path: str = "") -> str:
    return f"{PREFIX}/{path}"


def see_other(target: str) -> web.Response:
    """303: after a form, the browser loads `target` with GET (a reload sends nothing twice)."""
    return web.Response(status=303, headers={"Location": target})


def render(
    request: web.Request,
    texts: Texts,
    template: str,
    title_key: str,
    values: dict[str, Any],
    status: int = 200,
) -> web.Response:
    env = request.app[JINJA_KEY]
    body = env.get_template(template).render(
        **texts_helpers(texts), url=url, title_key=title_key, **values
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def nav_of(core: BotCore, scopes: list[Scope], operator: bool, texts: Texts, current: str) -> list:
    pages = sorted(
        (p for p in core.registry.console_pages.values() if p.nav_key and p.method == "GET"),
        key=lambda p: p.order,
    )
    return [
        {"href": url(p.path), "label": texts.get(p.nav_key), "current": p.path == current}
        for p in pages
        if allowed(p.role, scopes, operator)
    ]


# ---------------------------------------------------------------- sessions


async def load_session(session: AsyncSession, token: str, now: datetime) -> ConsoleSession | None:
    if not token or len(token) > 100:
        return None
    row = await session.get(ConsoleSession, session_id(token), with_for_update=True)
    if row is None or row.expires_at <= now:
        return None
    return row


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")


# ---------------------------------------------------------------- middleware


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(request, exc)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith(f"{PREFIX}/static/"):
        # Pages hold names, answers and notices: no copy in any cache, nor the back button's.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"


# ---------------------------------------------------------------- sign-in, home, sign-out


def _plain_texts(request: web.Request) -> Texts:
    """Texts for someone not signed in: the browser's language if we have it, else Dutch."""
    accepted = request.headers.get("Accept-Language", "").split(",")[0].strip()
    return request.app[CORE_KEY].texts_for(choose_locale(None, accepted or None))


def _sign_in_page(
    request: web.Request, texts: Texts, message_key: str = "", status: int = 200
) -> web.Response:
    values = {"message_key": message_key, "telegram_js": TELEGRAM_JS}
    return render(request, texts, "signin.html", "console_signin_title", values, status)


async def home(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    now = core.clock.now()
    async with core.db.transaction() as session:
        row = await load_session(session, request.cookies.get(COOKIE, ""), now)
        if row is None:
            said = request.query.get("m", "")
            shown = said if said in SIGN_IN_MESSAGES else ""
            return _sign_in_page(request, _plain_texts(request), shown)
        found = await _who(request, session, row)
        texts = core.texts_for(row.locale)
        if found is None:
            await session.delete(row)
            return _no_access(request, texts)
        scopes, operator = found
        nav = nav_of(core, scopes, operator, texts, "")
        values = _frame(request, row, texts, nav) | {"pages": nav}
        return render(request, texts, "home.html", "console_home_title", values)


def _frame(
    request: web.Request, row: ConsoleSession, texts: Texts, nav: list, notice_key: str = ""
) -> dict[str, Any]:
    notice = notice_key or request.query.get("notice", "")
    shown = notice if notice.startswith(NOTICE_PREFIX) and notice in texts.content.messages else ""
    return {
        "csrf": row.csrf_token,
        "nav": nav,
        "user_name": row.display_name,
        "notice_key": shown,
        "locales": SUPPORTED_LOCALES,
        "here": request.path_qs,
    }


def _no_access(request: web.Request, texts: Texts) -> web.Response:
    response = _sign_in_page(request, texts, "console_no_access", 403)
    clear_cookie(response)
    return response


async def _who(
    request: web.Request, session: AsyncSession, row: ConsoleSession
) -> tuple[list[Scope], bool] | None:
    """The user's scopes and operator role now; None when they have neither (any more)."""
    scopes = await scopes_for(session, row.caregiver_id)
    operator = row.telegram_user_id in request.app[SETTINGS_KEY].operators
    if not scopes and not operator:
        log.info("console: caregiver %d has no staff role any more; signed out", row.caregiver_id)
        return None
    return scopes, operator


async def sign_in(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    settings = request.app[SETTINGS_KEY]
    now = core.clock.now()
    texts = _plain_texts(request)
    if not request.app[LIMIT_KEY].allow(client_address(request, settings), now):
        log.warning("console sign-in refused: too many attempts")
        return _sign_in_page(request, texts, "console_signin_too_many", 429)
    form = await request.post()
    raw = form.get("init_data", "")
    try:
        user = initdata.verify(
            raw if isinstance(raw, str) else "",
            request.app[TOKEN_KEY],
            now,
            timedelta(seconds=settings.init_data_max_age),
        )
    except initdata.InitDataError as error:
        log.warning("console sign-in refused: %s", error.reason)
        key = "console_signin_expired" if error.reason == "expired" else "console_signin_failed"
        return _sign_in_page(request, texts, key, 403)
    token = secrets.token_urlsafe(32)
    async with core.db.transaction() as session:
        caregiver = await session.scalar(
            select(Caregiver).where(Caregiver.telegram_user_id == user.id)
        )
        operator = user.id in settings.operators
        if caregiver is None or not (operator or await scopes_for(session, caregiver.id)):
            log.warning("console sign-in refused: not staff")
            return _no_access(request, texts)
        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        locale = choose_locale(caregiver.locale, user.language_code)
        session.add(
            ConsoleSession(
                id=session_id(token), caregiver_id=caregiver.id, telegram_user_id=user.id,
                csrf_token=secrets.token_urlsafe(32), display_name=user.display_name,
                locale=locale, created_at=now,
                expires_at=now + timedelta(minutes=settings.session_minutes), last_seen_at=now,
            )
        )  # fmt: skip
        caregiver_id = caregiver.id
    log.info("console sign-in: caregiver %d", caregiver_id)
    response = see_other(url())
    response.set_cookie(
        COOKIE, token, max_age=settings.session_minutes * 60, path="/", secure=True,
        httponly=True, samesite="Strict",
    )  # fmt: skip
    return response


async def _signed_in_post(
    request: web.Request, session: AsyncSession
) -> tuple[ConsoleSession, dict[str, str]] | web.Response:
    """The session of a POST whose form token matches, with the form; else the refusal."""
    core = request.app[CORE_KEY]
    row = await load_session(session, request.cookies.get(COOKIE, ""), core.clock.now())
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if row is None:
        return _sign_in_page(request, _plain_texts(request), "console_session_ended", 401)
    if not secrets.compare_digest(
        fields.get("csrf", "").encode("utf-8", "surrogateescape"), row.csrf_token.encode()
    ):
        log.warning("console: form without its token refused (caregiver %d)", row.caregiver_id)
        texts = core.texts_for(row.locale)
        return render(request, texts, "error.html", "console_error_title",
                      {"message_key": "console_form_refused"}, 403)  # fmt: skip
    return row, fields


async def sign_out(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    async with core.db.transaction() as session:
        found = await _signed_in_post(request, session)
        if isinstance(found, web.Response):
            return found
        await session.delete(found[0])
    response = see_other(url() + "?m=console_signed_out")
    clear_cookie(response)
    return response


async def language(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    async with core.db.transaction() as session:
        found = await _signed_in_post(request, session)
        if isinstance(found, web.Response):
            return found
        row, fields = found
        if fields.get("locale") in SUPPORTED_LOCALES:
            row.locale = fields["locale"]
        back = fields.get("back", "")
    # Only back to a page of the console itself.
    target = back if back.startswith(f"{PREFIX}/") and "//" not in back else url()
    return see_other(target)


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    response = web.Response(body=(HERE / "static" / name).read_bytes(), content_type=STATIC[name])
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# ---------------------------------------------------------------- the registered pages


def page_handler(page: ConsolePage) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        core = request.app[CORE_KEY]
        now = core.clock.now()
        texts = _plain_texts(request)
        # The page's frame (navigation, form token), read before the handler runs: a 404
        # rolls the transaction back and still shows where one can go.
        frame: dict[str, Any] = {}
        try:
            # Off the event loop: a page may count a whole area (insight) or list many rows;
            # the chat's short statements keep the loop (bot/db/sqlite_loop.py).
            async with core.db.transaction(off_loop=True) as session:
                if page.method == "POST":
                    found = await _signed_in_post(request, session)
                    if isinstance(found, web.Response):
                        return found
                    row, fields = found
                    form = await request.post()
                    lists = {k: [v for v in form.getall(k) if isinstance(v, str)] for k in form}
                else:
                    loaded = await load_session(session, request.cookies.get(COOKIE, ""), now)
                    if loaded is None:
                        return see_other(url() + "?m=console_session_ended")
                    row, fields, lists = loaded, {}, {}
                texts = core.texts_for(row.locale)
                who = await _who(request, session, row)
                if who is None:
                    await session.delete(row)
                    return _no_access(request, texts)
                scopes, operator = who
                frame = _frame(request, row, texts, nav_of(core, scopes, operator, texts, ""))
                if not allowed(page.role, scopes, operator):
                    raise NotFound
                caregiver = await session.get(Caregiver, row.caregiver_id)
                assert caregiver is not None  # the session row goes with the caregiver row
                row.last_seen_at = now
                console_request = ConsoleRequest(
                    session=session, core=core, texts=texts, now=now, caregiver=caregiver,
                    console_session=row, scopes=scopes, operator=operator, form=fields,
                    match=dict(request.match_info), query=dict(request.query), form_lists=lists,
                )  # fmt: skip
                answer = await page.handler(console_request)
                return _respond(request, console_request, page, answer)
        except NotFound:
            values = frame | {"message_key": "console_not_found", "notice_key": ""}
            return render(request, texts, "error.html", "console_not_found_title", values, 404)

    return handle


def _respond(
    request: web.Request, console: ConsoleRequest, page: ConsolePage, answer: object
) -> web.StreamResponse:
    if isinstance(answer, Redirect):
        target = url(answer.path)
        if answer.notice_key:
            target += ("&" if "?" in target else "?") + "notice=" + quote(answer.notice_key)
        return see_other(target)
    if isinstance(answer, Download):
        response = web.Response(body=answer.body, content_type=answer.content_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{answer.filename}"'
        return response
    assert isinstance(answer, Page), answer
    nav = nav_of(console.core, console.scopes, console.operator, console.texts, page.path)
    values = _frame(request, console.console_session, console.texts, nav) | dict(answer.values)
    return render(request, console.texts, answer.template, answer.title_key, values, answer.status)


def make_console(core: BotCore, settings: ConsoleSettings, bot_token: str) -> web.Application:
    """The console as an aiohttp application to mount at /console (`add_subapp`)."""
    app = web.Application(middlewares=[security_headers], client_max_size=256 * 1024)
    app[CORE_KEY] = core
    app[SETTINGS_KEY] = settings
    app[TOKEN_KEY] = bot_token
    app[JINJA_KEY] = environment(list(core.registry.console_templates))
    app[LIMIT_KEY] = SignInLimit(settings.sign_ins_per_minute)
    app.router.add_get("/", home)
    app.router.add_post("/signin", sign_in)
    app.router.add_post("/signout", sign_out)
    app.router.add_post("/language", language)
    app.router.add_get("/static/{name}", static)
    for page in core.registry.console_pages.values():
        app.router.add_route(page.method, "/" + page.path, page_handler(page))
    return app


def mount(app: web.Application, core: BotCore, settings: ConsoleSettings, token: str) -> None:
    """Serve the console under /console of `app` (the `serve` web application)."""
    app.add_subapp(PREFIX, make_console(core, settings, token))
