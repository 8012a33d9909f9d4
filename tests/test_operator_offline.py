"""Operator commands that need no live Telegram: the example region only on request, invitations
and the A4 poster with the bot's username from BOT_USERNAME or --bot-username.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bot.__main__ import main
from bot.app.runtime import prepare_database
from bot.db.session import Database
from bot.features.steunpunt.directory import directory_is_empty
from tests.conftest import settings_for


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An operator's shell without a bot token, on an SQLite file."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("BOT_USERNAME", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


async def test_run_and_serve_never_import_the_example_region(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    await prepare_database(settings_for(url))
    db = Database(url)
    try:
        async with db.transaction() as session:
            assert await directory_is_empty(session)
    finally:
        await db.dispose()


def test_the_poster_and_the_invitation_work_without_a_token(
    offline: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["staff", "invite", "--steunpunt", "voorbeeld-den-bosch"]) == 1
    assert "set BOT_USERNAME (or --bot-username)" in capsys.readouterr().out

    assert main(["directory", "import", "--example"]) == 0
    assert "EXAMPLE region" in capsys.readouterr().out
    argv = ["location", "add", "de-linde", "--name", "De Linde", "--address", "Lindelaan 1",
            "--organisation", "Zorggroep Voorbeeld", "--example"]  # fmt: skip
    assert main(argv) == 0
    base = tmp_path / "poster"
    assert main(["location", "qr", "de-linde", "--bot-username", "@zorg_test_bot",
                 "--out", str(base)]) == 0  # fmt: skip
    link = "https://t.me/zorg_test_bot?start=loc_de-linde"
    assert link in capsys.readouterr().out.splitlines()
    page = Image.open(io.BytesIO((tmp_path / "poster.png").read_bytes()))
    assert page.size == (1654, 2339)  # A4 at 200 dpi
    (found,) = zxingcpp.read_barcodes(page)
    assert found.format == zxingcpp.BarcodeFormat.QRCode and found.text == link
    pdf = (tmp_path / "poster.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Count 1" in pdf and b"/MediaBox [ 0 0 595" in pdf

    monkeypatch.setenv("BOT_USERNAME", "zorg_test_bot")
    assert main(["staff", "invite", "--steunpunt", "voorbeeld-den-bosch"]) == 0
    assert "https://t.me/zorg_test_bot?start=" in capsys.readouterr().out
    monkeypatch.setenv("BOT_USERNAME", "no spaces")
    with pytest.raises(SystemExit):
        main(["staff", "invite", "--steunpunt", "voorbeeld-den-bosch"])
    assert "BOT_USERNAME: expected the bot's @username" in capsys.readouterr().err
