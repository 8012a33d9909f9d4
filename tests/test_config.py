"""Settings are validated at start, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE_URL, SettingsError, load_settings

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_defaults_use_sqlite_in_the_working_directory_and_telegram() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, dotenv=None)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("mantelzorgbot.sqlite3")
    assert settings.telegram_api_base_url == DEFAULT_API_BASE_URL
    assert settings.send_rate == 25


def test_api_base_url_is_honoured() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9999/bot"}
    assert load_settings(env, dotenv=None).telegram_api_base_url == "http://127.0.0.1:9999/bot"


def test_every_problem_is_reported_on_its_own_line() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "nonsense",
        "TELEGRAM_API_BASE_URL": "ftp://x",
        "DATABASE_URL": "postgresql://u@h/db",
        "PORT": "eighty",
        "WEBHOOK_URL": "http://insecure.example",
        "WEBHOOK_SECRET": "short",
        "SEND_RATE": "-1",
        "LOG_LEVEL": "LOUD",
    }
    with pytest.raises(SettingsError) as info:
        load_settings(env, dotenv=None)
    names = [line.split(":", 1)[0] for line in info.value.problems]
    assert names == [
        "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "DATABASE_URL",
        "WEBHOOK_URL", "WEBHOOK_SECRET", "PORT", "SEND_RATE", "LOG_LEVEL",
    ]  # fmt: skip
    assert "postgresql+asyncpg" in info.value.problems[2]


def test_missing_token_points_to_the_terminal_chat() -> None:
    with pytest.raises(SettingsError, match="python -m bot chat"):
        load_settings({}, dotenv=None)
    assert load_settings({}, require_token=False, dotenv=None).telegram_bot_token is None


def test_serve_needs_webhook_url_and_secret() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN}, require_webhook=True, dotenv=None)
    assert [p.split(":")[0] for p in info.value.problems] == ["WEBHOOK_URL", "WEBHOOK_SECRET"]


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"# comment\nexport TELEGRAM_BOT_TOKEN='{TOKEN}'\nPORT=9000\n")
    settings = load_settings({"PORT": "9100"}, dotenv=dotenv)
    assert settings.telegram_bot_token == TOKEN and settings.port == 9100


def test_retention_periods_are_configurable_and_checked() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "RETENTION_MONTHS": "36", "INACTIVE_MONTHS": "6"}
    policy = load_settings(env, dotenv=None).retention
    assert (policy.answers_months, policy.inactive_months, policy.grace_days) == (36, 6, 30)
    with pytest.raises(SettingsError, match="RETENTION_GRACE_DAYS: expected a whole number >= 7"):
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "RETENTION_GRACE_DAYS": "2"}, dotenv=None)
