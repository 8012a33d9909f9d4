"""Settings of one bot process, read from the environment (and an optional `.env` file).

Everything is validated at start; each problem is reported as one line naming the variable, so an
operator sees all mistakes at once instead of one crash at a time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_API_BASE_FILE_URL = "https://api.telegram.org/file/bot"
DEFAULT_DB_FILE = "mantelzorgbot.sqlite3"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
# Telegram accepts 1-256 characters of this set in X-Telegram-Bot-Api-Secret-Token.
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Telegram usernames: 5-32 of letters, digits and _, starting with a letter.
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")


class SettingsError(Exception):
    """One or more settings are missing or malformed; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RetentionPolicy:
    """How long personal data is kept (AVG: no longer than needed)."""

    answers_months: int = 24  # answers and results older than this are removed
    inactive_months: int = 12  # no contact for this long: ask once whether to keep the data
    grace_days: int = 30  # no answer to that question within this time: remove everything
    handover_months: int = 12  # a closed request for contact (warm handover) is removed after this


@dataclass(frozen=True)
class ConsoleSettings:
    """The staff web console (`serve` only, under /console): how old a Mini App sign-in may be,
    how long a session lasts, the sign-in rate limit, and who is an operator."""

    init_data_max_age: int = 300  # seconds: Telegram's auth_date no older than this
    session_minutes: int = 60  # a session ends this long after sign-in
    sign_ins_per_minute: int = 10  # per client address, per process
    operators: tuple[int, ...] = ()  # Telegram user ids with the operator role
    # Behind the platform's proxy every request comes from the proxy: then the client's address
    # for the rate limit is the last one the proxy added to X-Forwarded-For.
    behind_proxy: bool = False


@dataclass(frozen=True)
class Settings:
    telegram_bot_token: str | None
    telegram_api_base_url: str
    telegram_api_base_file_url: str
    database_url: str
    webhook_url: str | None
    webhook_secret: str | None
    port: int
    send_rate: float
    log_level: str
    flood_limit: int = 30
    retention: RetentionPolicy = RetentionPolicy()
    shutdown_timeout: float = 20.0  # SIGTERM: seconds to finish the work in hand, then give up
    # For the links of operator commands when Telegram is not asked (no token, or offline).
    bot_username: str | None = None
    console: ConsoleSettings = ConsoleSettings()
    # uvloop and orjson when installed (bot/speedups.py); SPEEDUPS=0 does without them.
    speedups: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file; comments, blanks and `export ` prefixes allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _url_problem(name: str, value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"{name}: expected an http(s) URL, got {value!r}"
    return None


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    require_token: bool = True,
    require_webhook: bool = False,
    dotenv: Path | None = Path(".env"),
) -> Settings:
    """Build Settings from `environ` (default: os.environ over .env); raise SettingsError."""
    env: dict[str, str] = {}
    if dotenv is not None:
        env.update(read_dotenv(dotenv))
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    problems: list[str] = []

    token = get("TELEGRAM_BOT_TOKEN")
    if token is None:
        if require_token:
            problems.append(
                "TELEGRAM_BOT_TOKEN: missing; get one from @BotFather "
                "(or try the bot without Telegram: python -m bot chat)"
            )
    elif not _TOKEN_RE.match(token):
        problems.append("TELEGRAM_BOT_TOKEN: malformed; expected digits, ':' and the secret part")

    base_url = get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL
    file_url = get("TELEGRAM_API_BASE_FILE_URL") or DEFAULT_API_BASE_FILE_URL
    for name, value in (
        ("TELEGRAM_API_BASE_URL", base_url),
        ("TELEGRAM_API_BASE_FILE_URL", file_url),
    ):
        if problem := _url_problem(name, value):
            problems.append(problem)

    database_url = get("DATABASE_URL") or f"sqlite+aiosqlite:///{Path.cwd() / DEFAULT_DB_FILE}"
    if database_url.startswith("postgres://") or database_url.startswith("postgresql://"):
        problems.append(
            "DATABASE_URL: use the async driver, e.g. postgresql+asyncpg://user@host/db"
        )
    elif not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        problems.append(
            "DATABASE_URL: expected sqlite+aiosqlite:///path or postgresql+asyncpg://..., "
            f"got {database_url.split('://')[0]!r}"
        )

    webhook_url = get("WEBHOOK_URL")
    webhook_secret = get("WEBHOOK_SECRET")
    if webhook_url is not None:
        if problem := _url_problem("WEBHOOK_URL", webhook_url):
            problems.append(problem)
        elif not webhook_url.startswith("https://"):
            problems.append("WEBHOOK_URL: Telegram only delivers to https:// URLs")
    elif require_webhook:
        problems.append("WEBHOOK_URL: missing; the public https URL Telegram should post to")
    if webhook_secret is not None and not _SECRET_RE.match(webhook_secret):
        problems.append("WEBHOOK_SECRET: use 16-256 characters of A-Z, a-z, 0-9, _ and -")
    elif webhook_secret is None and require_webhook:
        problems.append("WEBHOOK_SECRET: missing; a random string Telegram sends with each update")

    port = 8080
    if (raw_port := get("PORT")) is not None:
        if raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            problems.append(f"PORT: expected a number from 1 to 65535, got {raw_port!r}")

    send_rate = 25.0
    if (raw_rate := get("SEND_RATE")) is not None:
        try:
            send_rate = float(raw_rate)
            if not 0 < send_rate <= 1000:
                raise ValueError
        except ValueError:
            problems.append(f"SEND_RATE: expected messages per second (0-1000), got {raw_rate!r}")

    flood_limit = 30
    if (raw_flood := get("FLOOD_LIMIT")) is not None:
        if raw_flood.isdigit() and int(raw_flood) >= 5:
            flood_limit = int(raw_flood)
        else:
            problems.append(
                f"FLOOD_LIMIT: expected messages per user per minute (>= 5), got {raw_flood!r}"
            )

    retention_values = {}
    for name, field, lowest in (
        ("RETENTION_MONTHS", "answers_months", 1),
        ("INACTIVE_MONTHS", "inactive_months", 1),
        ("RETENTION_GRACE_DAYS", "grace_days", 7),
        ("HANDOVER_RETENTION_MONTHS", "handover_months", 1),
    ):
        if (raw := get(name)) is not None:
            if raw.isdigit() and int(raw) >= lowest:
                retention_values[field] = int(raw)
            else:
                problems.append(f"{name}: expected a whole number >= {lowest}, got {raw!r}")

    shutdown_timeout = 20.0
    if (raw_shutdown := get("SHUTDOWN_TIMEOUT")) is not None:
        try:
            shutdown_timeout = float(raw_shutdown)
            if not 0 < shutdown_timeout <= 600:
                raise ValueError
        except ValueError:
            problems.append(f"SHUTDOWN_TIMEOUT: expected seconds (0-600), got {raw_shutdown!r}")

    bot_username = get("BOT_USERNAME")
    if bot_username is not None:
        bot_username = bot_username.removeprefix("@")
        if not USERNAME_RE.match(bot_username):
            problems.append(f"BOT_USERNAME: expected the bot's @username, got {bot_username!r}")

    console_values: dict[str, int] = {}
    for name, field, lowest, highest in (
        ("CONSOLE_INITDATA_MAX_AGE", "init_data_max_age", 30, 86400),
        ("CONSOLE_SESSION_MINUTES", "session_minutes", 5, 24 * 60),
        ("CONSOLE_SIGNINS_PER_MINUTE", "sign_ins_per_minute", 1, 1000),
    ):
        if (raw := get(name)) is not None:
            if raw.isdigit() and lowest <= int(raw) <= highest:
                console_values[field] = int(raw)
            else:
                problems.append(f"{name}: expected a whole number {lowest}-{highest}, got {raw!r}")
    operators: tuple[int, ...] = ()
    if (raw_operators := get("CONSOLE_OPERATORS")) is not None:
        ids = [part.strip() for part in raw_operators.split(",") if part.strip()]
        if all(part.isdigit() for part in ids):
            operators = tuple(int(part) for part in ids)
        else:
            problems.append(
                "CONSOLE_OPERATORS: expected Telegram user ids separated by commas, "
                f"got {raw_operators!r}"
            )

    behind_proxy = False
    if (raw_proxy := get("CONSOLE_BEHIND_PROXY")) is not None:
        if raw_proxy.lower() in ("1", "true", "yes", "0", "false", "no"):
            behind_proxy = raw_proxy.lower() in ("1", "true", "yes")
        else:
            problems.append(f"CONSOLE_BEHIND_PROXY: expected true or false, got {raw_proxy!r}")
    raw_speedups = get("SPEEDUPS") or "1"
    if raw_speedups not in ("0", "1"):
        problems.append(f"SPEEDUPS: expected 1 (use uvloop and orjson if installed) or 0, "
                        f"got {raw_speedups!r}")  # fmt: skip

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    if problems:
        raise SettingsError(problems)
    return Settings(
        telegram_bot_token=token,
        telegram_api_base_url=base_url,
        telegram_api_base_file_url=file_url,
        database_url=database_url,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        port=port,
        send_rate=send_rate,
        log_level=log_level,
        flood_limit=flood_limit,
        retention=RetentionPolicy(**retention_values),
        shutdown_timeout=shutdown_timeout,
        bot_username=bot_username,
        console=ConsoleSettings(**console_values, operators=operators, behind_proxy=behind_proxy),
        speedups=raw_speedups == "1",
    )
