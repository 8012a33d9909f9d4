"""A caregiver finds, compares and saves their steunpunt: on the core (fast) and end to end through
PTB with a shared location. Every test runs on SQLite and PostgreSQL with the example directory.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Caregiver
from bot.db.session import Database
from bot.engine.flow import Event
from bot.features.steunpunt.directory import (
    EXAMPLE_DIRECTORY,
    directory_command,
    import_example_if_empty,
    import_file,
)
from bot.transport.terminal import TerminalChat, plain
from tests.conftest import core_for, settings_for
from tests.conversation import CoreUser, TelegramUser, find_button
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

DEN_BOSCH = "Steunpunt Mantelzorg Den Bosch (voorbeeld)"
VUGHT_BOXTEL = "Mantelzorgpunt Vught en Boxtel (voorbeeld)"


@pytest.fixture
async def directory(database_url: str) -> None:
    db = Database(database_url)
    assert await import_example_if_empty(db)
    assert not await import_example_if_empty(db)  # only an empty directory gets the example
    await db.dispose()


async def onboarded(core: BotCore, consent: bool = True, user_id: int = 1000) -> CoreUser:
    user = CoreUser(core, user_id)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag" if consent else "Nee")
    return user


async def saved(core: BotCore, user_id: int = 1000) -> CaregiverSteunpunt | None:
    async with core.db.transaction() as session:
        return await session.scalar(
            select(CaregiverSteunpunt)
            .join(Caregiver, Caregiver.id == CaregiverSteunpunt.caregiver_id)
            .where(Caregiver.telegram_user_id == user_id)
        )


async def taps_on_card(user: CoreUser, label: str) -> None:
    """Press a button on any message of the last reply (cards come before the next question)."""
    buttons = [b for m in user.last.messages for row in m.buttons for b in row]
    await user.presses_data(find_button(buttons, label).data)


def card_texts(user: CoreUser) -> list[str]:
    return [plain(m.text) for m in user.last.messages if "(voorbeeldgegevens)" in m.text]


@pytest.mark.usefixtures("directory")
async def test_a_postcode_finds_the_steunpunt_and_saving_keeps_it(core: BotCore) -> None:
    user = await onboarded(core)
    await user.taps("Mijn steunpunt")
    ask = user.last_message
    assert "postcode" in plain(ask.text) and ask.location_button == "📍 Deel mijn locatie"

    await user.says("5211 ab")
    first, card, question = user.last.messages
    assert plain(first.text) == "Het steunpunt voor 's-Hertogenbosch:" and first.remove_keyboard
    text = plain(card.text)
    assert text.startswith(DEN_BOSCH) and "(voorbeeldgegevens)" in text
    assert "Telefoon: 073 000 0000 (+31 73 000 0000)" in text and "mantelzorgconsulent" in text
    assert "E-mail: mantelzorg-denbosch@example.org" in text and "Open: ma t/m vr" in text
    website = card.buttons[0][0]
    assert website.url == "https://example.org/steunpunt-den-bosch"
    assert plain(question.text) == "Woont degene voor wie je zorgt in een andere gemeente?"

    await taps_on_card(user, "Bewaar als mijn steunpunt")
    assert user.last.toast == "Bewaard"
    row = await saved(core)
    assert row is not None
    assert (row.steunpunt_key, row.municipality_code, row.postcode) == (
        "voorbeeld-den-bosch", "GM0796", "5211",
    )  # fmt: skip

    await user.taps("Nee, in dezelfde gemeente")
    await user.says("/steunpunt")
    assert user.last_text.startswith("Dit is jouw steunpunt:")
    assert DEN_BOSCH in user.last_text
    assert any("Zoek een ander steunpunt" in plain(b.label) for b in user.buttons)


@pytest.mark.usefixtures("directory")
async def test_without_consent_the_postcode_is_not_kept(core: BotCore) -> None:
    user = await onboarded(core, consent=False)
    await user.says("/steunpunt")
    await user.says("5262")
    assert card_texts(user)[0].startswith(VUGHT_BOXTEL)
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    row = await saved(core)
    assert row is not None and row.steunpunt_key == "voorbeeld-vught-boxtel"
    assert row.postcode is None and row.flow.get("own", {}).get("pc4") is None
    # The steunpunt serves Vught and Boxtel: the postcode alone does not tell which one.
    assert row.municipality_code is None


@pytest.mark.usefixtures("directory")
async def test_withdrawing_consent_forgets_the_postcode_but_not_the_steunpunt(
    core: BotCore,
) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("5241")
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    await user.says("/privacy")
    await user.taps("Toestemming intrekken")
    await user.taps("Ja")
    row = await saved(core)
    assert row is not None and row.postcode is None and row.steunpunt_key == "voorbeeld-den-bosch"


@pytest.mark.usefixtures("directory")
async def test_names_variants_and_typos_find_the_place(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("den BOSCH")
    assert card_texts(user)[0].startswith(DEN_BOSCH)

    await user.says("/steunpunt")
    await user.says("Sint Michielsgestel")
    assert user.last_text.startswith("Het steunpunt voor Sint-Michielsgestel:")

    await user.says("/steunpunt")
    await user.says("Vlymen")
    assert plain(user.last_message.text) == "Bedoel je een van deze plaatsen?"
    labels = [plain(b.label) for b in user.buttons]
    assert labels == ["Vlijmen (gemeente Heusden, Noord-Brabant)", "Nee, ik typ het opnieuw"]
    await user.taps("Vlijmen")
    assert user.last.pressed_label == "Heusden"
    assert user.last_text.startswith("Het steunpunt voor Heusden:")


@pytest.mark.usefixtures("directory")
async def test_mistyped_twice_then_retyped(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Boxtl")
    await user.taps("Nee, ik typ het opnieuw")
    assert user.last_text == "Typ je postcode of woonplaats nog een keer."
    await user.says("5281")
    assert card_texts(user)[0].startswith(VUGHT_BOXTEL)


@pytest.mark.usefixtures("directory")
async def test_caregiver_and_cared_for_in_different_municipalities_see_both(
    core: BotCore,
) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Rosmalen")
    await user.taps("Ja, in een andere gemeente")
    assert user.last_text.startswith("Waar woont degene voor wie je zorgt?")
    await user.says("Boxtel")
    texts = [plain(m.text) for m in user.last.messages]
    assert "regel je in de gemeente van degene voor wie je zorgt: Boxtel" in texts[0]
    assert texts[1] == "Jouw gemeente:"
    assert texts[2].startswith(DEN_BOSCH)
    assert texts[3] == "Gemeente van degene voor wie je zorgt (Boxtel):"
    assert texts[4].startswith(VUGHT_BOXTEL)
    # Either can be saved as "mijn steunpunt"; the caregiver's own municipality stays theirs.
    cared_card = user.last.messages[4]
    await user.presses_data(find_button(list(cared_card.buttons[1]), "Bewaar").data)
    row = await saved(core)
    assert row is not None and row.steunpunt_key == "voorbeeld-vught-boxtel"
    assert row.municipality_code == "GM0796"
    await user.presses_data("sp:other:yes")  # the question was answered already
    assert user.last.toast is not None


@pytest.mark.usefixtures("directory")
async def test_cared_for_in_the_same_municipality(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Vught")
    await user.taps("Ja, in een andere gemeente")
    await user.says("Helvoirt")
    assert user.last_text.startswith("Dat is dezelfde gemeente als jij.")


@pytest.mark.usefixtures("directory")
async def test_a_municipality_without_steunpunt_in_the_directory_gets_an_honest_answer(
    core: BotCore,
) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Heesch")  # Bernheze: in the example directory, but without a steunpunt
    named, answer = user.last.messages
    assert plain(named.text) == "Je woont in de gemeente Bernheze (Noord-Brabant)."
    assert named.remove_keyboard
    text = plain(answer.text)
    assert text.startswith("Het steunpunt mantelzorg van Bernheze staat nog niet in mijn lijst.")
    assert "Dat ligt aan mij, niet aan jou." in text
    assert "Het Wmo-loket of sociaal wijkteam van Bernheze" in text
    assert "website van je gemeente" in text and "mantelzorg.nl" in text
    assert "Je huisarts" in text and "De Luisterlijn: 088-0767000" in text
    labels = [plain(b.label) for b in user.buttons]
    assert labels == ["🔎 Zoek een andere plaats", "Hulp en contact", "Menu"]
    row = await saved(core)
    assert row is not None and row.municipality_code == "GM1721"  # its CBS code is known

    await user.taps("Zoek een andere plaats")
    assert user.last_text.startswith("Zorg je voor iemand?")
    await user.says("Vught")
    assert card_texts(user)[0].startswith(VUGHT_BOXTEL)


@pytest.mark.usefixtures("directory")
async def test_outside_the_directory_every_place_of_the_country_is_known(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("8232")  # a valid postcode the bot has no table for
    assert user.last_text == (
        "Postcode 8232 ken ik nog niet. Typ de naam van je woonplaats, dan zoek ik het zo op."
    )
    assert [plain(b.label) for b in user.buttons] == ["Stop met zoeken", "Hulp en contact"]
    await user.says("Lelystad")
    named, answer = user.last.messages
    assert plain(named.text) == "Je woont in de gemeente Lelystad (Flevoland)."
    assert "Het steunpunt mantelzorg van Lelystad staat nog niet in mijn lijst." in answer.text
    assert "(voorbeeldgegevens)" not in user.last_text
    row = await saved(core)
    assert row is not None and row.municipality_code is None  # the layer has no CBS codes

    await user.says("/steunpunt")
    await user.says("Amsterdm")
    assert plain(user.last_message.text) == "Bedoel je een van deze plaatsen?"
    first = plain(user.buttons[0].label)
    assert first == "Amsterdam (gemeente Amsterdam, Noord-Holland)"
    await user.taps("Amsterdam (gemeente Amsterdam")
    assert user.last.pressed_label == "Amsterdam"
    assert user.last_text.startswith("Je woont in de gemeente Amsterdam (Noord-Holland).")

    await user.says("/steunpunt")
    await user.says("den haag")
    assert user.last_text.startswith("Je woont in de gemeente 's-Gravenhage (Zuid-Holland).")

    await user.says("/steunpunt")
    await user.says("Hengelo")  # a town in Overijssel and a village in Bronckhorst
    assert user.last_text == "Die naam komt in meer gemeenten voor. Welke bedoel je?"
    await user.taps("Bronckhorst")
    assert user.last_text.startswith("Je woont in de gemeente Bronckhorst (Gelderland).")


@pytest.mark.usefixtures("directory")
async def test_what_is_no_place_is_asked_again_with_a_way_out(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Timboektoe")
    assert user.last_text == (
        "Ik kan Timboektoe niet vinden als plaats in Nederland. Kijk of het goed gespeld is, of "
        "typ je postcode (4 cijfers)."
    )
    await user.says("Vugt")  # still searching: the next try counts
    assert plain(user.last_message.text) == "Bedoel je een van deze plaatsen?"
    await user.says("Qwxzq")
    await user.taps("Stop met zoeken")
    assert user.last_text.startswith("Goed, ik ben gestopt met zoeken.")
    await user.says("5211")  # no longer searching: the bot does not take this for a postcode
    assert "(voorbeeldgegevens)" not in user.last_text


async def shares_location(user: CoreUser, lat: float, lon: float) -> None:
    await user.send(Event("location", latitude=lat, longitude=lon))


@pytest.mark.usefixtures("directory")
async def test_a_location_is_placed_in_its_municipality_never_far_away(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await shares_location(user, 52.5185, 5.4714)  # Lelystad, 90 km from every example steunpunt
    located, answer = user.last.messages
    assert plain(located.text).startswith(
        "Volgens je locatie ben je in of bij Lelystad, in de gemeente Lelystad."
    )
    assert located.remove_keyboard
    assert "Het steunpunt mantelzorg van Lelystad staat nog niet in mijn lijst." in answer.text
    assert "(voorbeeldgegevens)" not in user.last_text

    await user.says("/steunpunt")
    await shares_location(user, 50.8503, 4.3517)  # Brussels
    assert user.last_text.startswith("Deze locatie ligt niet in Nederland, lijkt het.")
    await shares_location(user, 51.7000, 5.3040)  # still searching: Den Bosch
    assert card_texts(user)[0].startswith(DEN_BOSCH)


@pytest.mark.usefixtures("directory")
async def test_the_search_survives_a_restart_and_expires_after_an_hour(
    core: BotCore, database_url: str, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    restarted = core_for(settings_for(database_url), clock)
    try:
        again = CoreUser(restarted, user.user_id)
        await again.says("Drunen")
        assert again.last_text.startswith("Het steunpunt voor Heusden:")
        await again.says("/steunpunt")
        clock.advance(timedelta(hours=2))
        await again.says("Drunen")
        assert "(voorbeeldgegevens)" not in again.last_text
    finally:
        await restarted.db.dispose()


@pytest.mark.usefixtures("directory")
async def test_old_buttons_are_answered_as_stale(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Vught")
    await user.taps("Nee, in dezelfde gemeente")
    await user.presses_data("sp:other:yes")
    assert user.last.toast is not None
    await user.presses_data("sp:pick:own:GM0796")
    assert user.last.toast is not None
    await user.presses_data("sp:save:bestaat-niet")
    assert user.last.toast is not None


# --- end to end through PTB ----------------------------------------------------------------


@pytest.fixture
async def harness(
    fake: FakeBotAPI, database_url: str, clock: FakeClock, directory: None
) -> AsyncIterator[BotHarness]:
    bot = BotHarness(fake, database_url, clock)
    await bot.start()
    yield bot
    await bot.stop()


async def test_a_shared_location_finds_the_steunpunt_of_its_municipality_through_telegram(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 4242)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/steunpunt")
    ask = user.messages()[-1]
    keyboard = ask["reply_markup"]["keyboard"]
    assert keyboard == [[{"text": "📍 Deel mijn locatie", "request_location": True}]]
    user.new_messages()

    # Vught station: in the municipality of Vught, served by the Vught/Boxtel steunpunt.
    await harness.processed(fake.user_shares_location(4242, 51.6537, 5.2936))
    heading, card, question = user.new_messages()
    assert heading["text"].startswith("Volgens je locatie ben je in of bij Vught, in de gemeente")
    assert heading["reply_markup"] == {"remove_keyboard": True}
    assert card["text"].startswith(VUGHT_BOXTEL) and "(voorbeeldgegevens)" in card["text"]
    buttons = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[0] == {
        "text": "🌐 Open de website",
        "url": "https://example.org/mantelzorgpunt-vught-boxtel",
    }
    assert question["text"] == "Woont degene voor wie je zorgt in een andere gemeente?"

    await user.presses(card["message_id"], buttons[1]["callback_data"])
    assert fake.calls_to("answerCallbackQuery")[-1].params.get("text") == "Bewaard"
    assert user.last_text.startswith("Bewaard als jouw steunpunt.")
    assert harness.core is not None
    row = await saved(harness.core, 4242)
    assert row is not None and row.steunpunt_key == "voorbeeld-vught-boxtel"


BERGEN_TWICE = """\
municipalities:
  - {code: GM0373, name: Bergen (NH), province: Noord-Holland, places: [Bergen]}
  - {code: GM0893, name: Bergen (L), province: Limburg, places: [Bergen]}
steunpunten:
  - {key: noord, name: Steunpunt Noord, organisation: O, municipalities: [GM0373]}
  - {key: zuid, name: Steunpunt Zuid, organisation: O, municipalities: [GM0893]}
"""


async def test_a_name_of_two_municipalities_asks_which_one(core: BotCore) -> None:
    async with core.db.transaction() as session:
        await import_file(session, "bergen.yaml", BERGEN_TWICE)
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("bergen")
    assert user.last_text == "Die naam komt in meer gemeenten voor. Welke bedoel je?"
    await user.taps("Limburg")
    assert user.last_text.startswith("Het steunpunt voor Bergen (L):")
    assert "Steunpunt Zuid" in user.last_text and "(voorbeeldgegevens)" not in user.last_text


@pytest.mark.usefixtures("directory")
async def test_the_terminal_asks_to_type_instead_of_sharing_a_location(core: BotCore) -> None:
    out = io.StringIO()
    chat = TerminalChat(core, out=out)
    for line in ("/start", "Nederlands", "Ja, dat mag", "/steunpunt", "5262"):
        await chat.say(line)
    shown = out.getvalue()
    assert "Locatie delen kan alleen in Telegram. Typ hier je postcode of woonplaats." in shown
    assert "🌐 Open de website: https://example.org/mantelzorgpunt-vught-boxtel" in shown
    assert "[1] ⭐ Bewaar als mijn steunpunt" in shown


@pytest.mark.usefixtures("directory")
async def test_the_municipality_is_remembered_without_saving_the_steunpunt(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("5211 ab")
    await user.taps("Nee, in dezelfde gemeente")  # answered before (or without) saving
    row = await saved(core)
    assert row is not None and row.municipality_code == "GM0796" and row.steunpunt_key is None


@pytest.mark.usefixtures("directory")
async def test_an_import_keeps_saved_steunpunten_unless_replacing_and_says_how_many_go(
    core: BotCore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("Vught")
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    other = tmp_path / "alleen-den-bosch.yaml"
    example = EXAMPLE_DIRECTORY.read_text(encoding="utf-8")
    other.write_text(example.split("  - key: voorbeeld-vught-boxtel")[0], encoding="utf-8")

    assert await directory_command(core.db, "import", other) == 0
    assert "(--replace removes them; 1 caregiver(s) saved one" in capsys.readouterr().out
    await user.says("/steunpunt")
    assert user.last_text.startswith("Dit is jouw steunpunt:")

    assert await directory_command(core.db, "import", other, replace=True) == 0
    assert (
        "removed: 3 (voorbeeld-gestel, voorbeeld-heusden, voorbeeld-vught-boxtel); 1 caregiver"
        in (capsys.readouterr().out)
    )
    await user.says("/steunpunt")
    assert user.last_text.startswith("Je bewaarde steunpunt staat niet meer in mijn lijst.")
