"""Checking Telegram Mini App `initData` exactly as Telegram documents it ("Validating data
received via the Mini App"): the data-check-string is every field but `hash`, sorted by key, as
`key=value` lines; secret_key = HMAC-SHA256(key "WebAppData", message bot token); the hash is the
hex HMAC-SHA256 of the data-check-string under secret_key, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

# Mini App data is a query string of a few fields; anything much longer is not from Telegram.
MAX_LENGTH = 4096
# A sign-in dated this far in the future is refused too (clocks differ by seconds, not minutes).
CLOCK_SKEW = timedelta(seconds=60)


class InitDataError(Exception):
    """`initData` that cannot sign anyone in; `reason` is safe to log (no content): malformed,
    no_hash, bad_hash, no_auth_date, expired, future, no_user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MiniAppUser:
    """Who opened the Mini App, as Telegram signed it."""

    id: int
    first_name: str
    last_name: str
    language_code: str | None
    auth_date: datetime

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)[:120]


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The `initData` query string Telegram would hand a Mini App with these fields (tests and
    the documentation's example use it; the bot itself only checks)."""
    digest = hmac.new(
        secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    return urlencode({**fields, "hash": digest})


def verify(init_data: str, bot_token: str, now: datetime, max_age: timedelta) -> MiniAppUser:
    """The user `init_data` was signed for by Telegram for this bot, no older than `max_age`;
    raises `InitDataError` otherwise."""
    if not init_data or len(init_data) > MAX_LENGTH:
        raise InitDataError("malformed")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("malformed") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("malformed")  # a key twice: which one was signed?
    given = fields.get("hash", "")
    if not given:
        raise InitDataError("no_hash")
    expected = hmac.new(
        secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape")):
        raise InitDataError("bad_hash")
    raw_date = fields.get("auth_date", "")
    if not raw_date.isdigit():
        raise InitDataError("no_auth_date")
    auth_date = datetime.fromtimestamp(int(raw_date), UTC)
    if auth_date > now + CLOCK_SKEW:
        raise InitDataError("future")
    if now - auth_date > max_age:
        raise InitDataError("expired")
    try:
        user = json.loads(fields.get("user", ""))
    except ValueError:
        raise InitDataError("no_user") from None
    uid = user.get("id") if isinstance(user, dict) else None
    if type(uid) is not int or uid <= 0:
        raise InitDataError("no_user")
    language = user.get("language_code")
    return MiniAppUser(
        id=uid,
        first_name=str(user.get("first_name") or ""),
        last_name=str(user.get("last_name") or ""),
        language_code=language if isinstance(language, str) else None,
        auth_date=auth_date,
    )
