"""The keukentafelgesprek preparation: the conversation in Dutch and English, back, stop and skip,
the one-page PDF read back and drawn, and its privacy (consent, export, erase, retention)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Answer, DialogRun, DialogState
from bot.db.session import Database
from bot.engine.output import OutMessage
from bot.features.kitchentable.handlers import DIALOG_ID
from bot.features.kitchentable.models import KitchenTablePreparation
from bot.features.kitchentable.pdf import Paragraph, Section, Sheet, render
from bot.features.privacy.retention import sweep
from bot.features.steunpunt.directory import import_example_if_empty
from tests.conftest import core_for, features, settings_for
from tests.conversation import CoreUser
from tests.test_short_first import check

CONTENT, REGISTRY = features()
DUTCH = {
    "person": "Mijn vader (84) heeft Parkinson en is vaak in de war. Hij woont bij ons in huis.",
    "tasks": "Ik help hem met wassen, aankleden en medicijnen, en ik regel de afspraken.",
    "heavy": "Ik slaap slecht omdat hij 's nachts roept. Mijn zus in België helpt niet mee.",
    "helps": "Eén dag per week dagbesteding, zodat ik naar het café kan met vrienden.",
    "keep": "Samen eten en met hem naar de huisarts gaan.",
    "questions": "Kan iemand een weekend overnemen? Wat kost dat?",
}


@pytest.fixture
async def sqlite_core(sqlite_url: str, clock: FakeClock) -> AsyncIterator[BotCore]:
    """For the tests that are about the feature rather than the database."""
    bot_core = core_for(settings_for(sqlite_url), clock)
    yield bot_core
    await bot_core.db.dispose()


async def caregiver(core: BotCore, user_id: int, locale: str = "nl", consent: bool = True):
    user = CoreUser(core, user_id, language_code=locale)
    await user.says("/start")
    await user.taps("Nederlands" if locale == "nl" else "English")
    if locale == "nl":
        await user.taps("Ja, dat mag" if consent else "Nee, liever niet")
    else:
        await user.taps("Yes" if consent else "No")
    return user


async def count(core: BotCore, model: type) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def preparations(core: BotCore) -> list[KitchenTablePreparation]:
    async with core.db.transaction() as session:
        return list(await session.scalars(select(KitchenTablePreparation)))


def measured(user: CoreUser, where: str) -> None:
    check(user.last.messages, where)


def document(user: CoreUser) -> tuple[str, bytes]:
    (found,) = [m.document for m in user.last.messages if m.document is not None]
    return found


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


async def walk_in_dutch(user: CoreUser, skip_optional: bool = False) -> None:
    """The whole preparation, each answer measured for length."""
    await user.says("/keukentafel")
    if "Maak een nieuwe samenvatting" in str(user.buttons):
        await user.taps("Maak een nieuwe samenvatting")
    measured(user, "nl:/keukentafel")
    for step, action in [
        ("person", "says"),
        ("tasks", "says"),
        ("Ongeveer 20 uur", "taps"),
        ("heavy", "says"),
        ("helps", "says"),
        ("keep", "says"),
        ("Ja, maar het is moeilijk te combineren", "taps"),
        ("Ik heb klachten", "taps"),
        ("Een beetje", "taps"),
        ("questions", "says"),
    ]:
        if skip_optional and step in ("keep", "questions"):
            await user.taps("Sla over")
        elif action == "says":
            await user.says(DUTCH[step])
        else:
            await user.taps(step)
        measured(user, f"nl:{step}")


# ---------------------------------------------------------------- the conversation


async def test_the_preparation_in_dutch_gives_a_short_summary_and_a_pdf_with_the_answers(
    core: BotCore,
) -> None:
    user = await caregiver(core, 1801)
    await user.says("/keukentafel")
    intro = user.last_text
    assert "hoe zwaar de zorg voor jou is" in intro
    assert "alleen met de gemeente te praten" in intro
    assert "cliëntondersteuner helpt je gratis" in intro and "naast je zitten" in intro
    assert "Voor wie zorg je" in intro
    await walk_in_dutch(user)
    summary = user.last.messages[0].text
    assert summary.startswith("Je samenvatting is klaar.")  # a neutral lock-screen preview
    assert "ongeveer 20 uur per week" in summary and "Ik heb klachten" in summary
    assert "Ik heb je antwoorden bewaard" in summary
    assert "Wmo-loket" in user.last_text and "Zoek mijn steunpunt" in str(user.buttons)
    name, data = document(user)
    assert name.startswith("mijn-situatie-") and name.endswith(".pdf")
    text = pdf_text(data)
    assert "Mijn situatie als mantelzorger" in text
    for answer in DUTCH.values():
        assert answer in text, answer
    assert "Ongeveer 20 uur per week." in text and "Vrije tijd: Een beetje" in text
    (row,) = await preparations(core)
    assert row.answers == {
        **DUTCH,
        "hours": "20",
        "work": "hard",
        "health": "complaints",
        "free_time": "little",
    }
    assert row.locale == "nl" and row.dialog_version == CONTENT.dialogs[DIALOG_ID].version


async def test_the_preparation_in_english_makes_an_english_page(sqlite_core: BotCore) -> None:
    user = await caregiver(sqlite_core, 1802, locale="en")
    await user.says("/kitchentable")
    measured(user, "en:/kitchentable")
    assert "independent client supporter" in user.last_text
    for typed in ["My wife, she had a stroke.", "Everything at home.", "30", "The nights."]:
        await user.says(typed)
        measured(user, f"en:{typed}")
    for step in ["A day off now and then.", "Skip", "I work less", "It is all right", "No"]:
        await (user.taps(step) if step[0] in "SIN" else user.says(step))
        measured(user, f"en:{step}")
    await user.taps("Skip")
    measured(user, "en:end")
    assert "Your summary is ready." in user.last_text and "about 30 hours a week" in user.last_text
    name, data = document(user)
    assert name.startswith("my-situation-")
    text = pdf_text(data)
    assert "My situation as a caregiver" in text and "My wife, she had a stroke." in text
    assert "What I want to keep doing myself (not filled in)" in text
    assert "Work: I work less or stopped because of the care" in text


async def test_back_stop_and_skip_keep_what_was_given(sqlite_core: BotCore) -> None:
    user = await caregiver(sqlite_core, 1803)
    await user.says("/keukentafel")
    await user.says(DUTCH["person"])
    await user.says("Boodschappen")
    await user.taps("Vorige")
    assert "Wat doe je allemaal" in user.last_text
    await user.says(DUTCH["tasks"])
    await user.says("ongeveer vijftien")  # not a number: asked again, nothing lost
    assert "als getal van 1 tot 168" in user.last_text
    await user.taps("Stop")
    assert "Je antwoorden zijn bewaard" in user.last_text
    await user.says("/keukentafel")
    assert "We gaan verder" in user.last_text and "Hoeveel uur" in user.last_text
    await user.taps("Sla over")  # the hours are not known
    for typed in (DUTCH["heavy"], DUTCH["helps"]):
        await user.says(typed)
    await user.taps("Sla over")
    for label in ("Nee", "Goed", "Ja, genoeg", "Sla over"):
        await user.taps(label)
    text = pdf_text(document(user)[1])
    assert DUTCH["tasks"] in text and "Boodschappen" not in text
    assert "uur per week" not in text and "(niet ingevuld)" in text
    (row,) = await preparations(sqlite_core)
    assert row.answers["hours"] == "" and row.answers["keep"] == ""


async def test_an_exhausted_answer_gets_the_humans_first_and_the_question_waits(
    sqlite_core: BotCore,
) -> None:
    user = await caregiver(sqlite_core, 1804)
    await user.says("/keukentafel")
    await user.says(DUTCH["person"])
    await user.says(DUTCH["tasks"])
    await user.taps("Ongeveer 40 uur")
    await user.says("Ik ben uitgeput en kan het niet meer aan")
    assert "0800-0113" in user.last_text
    await user.says("Ik ben altijd moe.")
    assert "Wat zou jou helpen?" in user.last_text


async def test_a_stored_summary_can_be_sent_again_and_a_new_one_made(sqlite_core: BotCore) -> None:
    user = await caregiver(sqlite_core, 1805)
    await walk_in_dutch(user)
    await user.says("/keukentafel")
    assert "Je hebt al een samenvatting gemaakt op" in user.last_text
    await user.taps("Stuur die samenvatting opnieuw")
    assert DUTCH["heavy"] in pdf_text(document(user)[1])
    (row,) = await preparations(sqlite_core)
    stranger = await caregiver(sqlite_core, 1806)
    await stranger.presses_data(f"kk:pdf:{row.id}")  # forged: someone else's summary
    assert not any(m.document for m in stranger.last.messages)
    await user.says("/keukentafel")
    await user.taps("Maak een nieuwe samenvatting")
    assert "Voor wie zorg je" in user.last_text


# ---------------------------------------------------------------- privacy


async def test_without_consent_the_pdf_is_made_and_nothing_is_kept(core: BotCore) -> None:
    user = await caregiver(core, 1807, consent=False)
    await user.says("/keukentafel")
    assert "ik bewaar niets" in user.last_text
    measured(user, "nl:/keukentafel without consent")
    await user.says(DUTCH["person"])
    await user.taps("Stop")
    assert "niet bewaard" in user.last_text
    assert await count(core, DialogState) == await count(core, DialogRun) == 0
    await walk_in_dutch(user)
    assert "Ik heb niets bewaard" in user.last_text
    assert DUTCH["person"] in pdf_text(document(user)[1])
    for model in (KitchenTablePreparation, Answer, DialogRun, DialogState):
        assert await count(core, model) == 0, model.__name__


async def test_without_consent_an_unfinished_preparation_goes_after_a_day(
    sqlite_core: BotCore, clock: FakeClock
) -> None:
    user = await caregiver(sqlite_core, 1812, consent=False)
    await user.says("/keukentafel")
    await user.says(DUTCH["person"])
    await user.says("/menu")  # left halfway, without stopping
    await sweep(sqlite_core)
    assert await count(sqlite_core, DialogState) == 1  # the day is not over: it can go on
    clock.advance(timedelta(days=1, minutes=1))
    await sweep(sqlite_core)
    assert await count(sqlite_core, DialogState) == await count(sqlite_core, DialogRun) == 0


async def test_the_summary_is_in_the_export_and_erased_with_everything(core: BotCore) -> None:
    assert any(p.model is KitchenTablePreparation for p in REGISTRY.personal_data)
    user = await caregiver(core, 1808)
    await walk_in_dutch(user, skip_optional=True)
    await user.says("/mijngegevens")
    exported = json.loads(document(user)[1])
    (row,) = exported["kitchen_table_preparation"]
    assert row["answers"]["person"] == DUTCH["person"]
    await user.says("/vergeetmij")
    await user.taps("Ja, wis alles over mij")
    assert await count(core, KitchenTablePreparation) == 0


async def test_withdrawing_consent_erases_the_summary(sqlite_core: BotCore) -> None:
    user = await caregiver(sqlite_core, 1809)
    await walk_in_dutch(user, skip_optional=True)
    await user.says("/privacy")
    await user.taps("Toestemming intrekken en wissen")
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    assert await count(sqlite_core, KitchenTablePreparation) == 0


async def test_the_retention_sweep_removes_old_summaries(
    sqlite_core: BotCore, clock: FakeClock
) -> None:
    user = await caregiver(sqlite_core, 1810)
    await walk_in_dutch(user, skip_optional=True)
    clock.advance(timedelta(days=400))
    await walk_in_dutch(user, skip_optional=True)
    await user.taps("Menu")
    clock.advance(timedelta(days=400))  # the first is now over 24 months old
    await sweep(sqlite_core)
    (row,) = await preparations(sqlite_core)
    assert row.created_at > clock.now() - timedelta(days=401)


# ---------------------------------------------------------------- the page itself


def sheet(answer: str, sections: int = 6) -> Sheet:
    words = [Section(f"Kop {i}", (Paragraph(answer),)) for i in range(sections)]
    fixed = Section("Werk, gezondheid", (Paragraph("Werk: Nee\nGezondheid: Goed", False),))
    return Sheet(
        title="Mijn situatie als mantelzorger",
        subtitle="Gemaakt op 1 december 2026.",
        fields=("Naam:", "Datum:"),
        sections=(*words, fixed),
        know_title="Goed om te weten",
        know="De gemeente kijkt ook naar mij. " * 8,
        truncated_mark="(ingekort)",
        language="nl",
        created=datetime(2026, 12, 1, 12, tzinfo=UTC),
    )


def test_the_longest_answers_are_shortened_to_one_page_and_say_so() -> None:
    longest = ("Heel lang verhaal over de zorg, élke dag opnieuw, ook 's nachts. " * 8)[:500]
    data, truncated = render(sheet(longest))
    text = pdf_text(data)
    assert truncated and text.count("… (ingekort)") == 6
    assert "Werk: Nee Gezondheid: Goed" in text and "Goed om te weten" in text
    short, cut = render(sheet("Kort antwoord."))
    assert not cut and "ingekort" not in pdf_text(short)


def test_dutch_and_other_letters_print_and_what_the_font_lacks_shows_as_a_question_mark() -> None:
    data, _ = render(sheet("Geëmigreerde zoon, café, ruïne, Çiğdem, Zoë; 中\u200b", sections=1))
    text = pdf_text(data)
    assert "Geëmigreerde zoon, café, ruïne, Çiğdem, Zoë; ?" in text


def test_the_page_is_drawn_as_a_sheet_of_a4_with_ink_on_it(tmp_path: Path) -> None:
    data, _ = render(sheet("Mijn moeder (82) heeft dementie. Ze woont alleen."))
    page = pypdfium2.PdfDocument(data)[0]
    width, height = page.get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    image = page.render(scale=1).to_pil().convert("L")
    top, bottom = image.crop((0, 0, 595, 120)), image.crop((0, 760, 595, 842))
    assert top.getextrema()[0] < 80  # the title in dark ink
    assert bottom.getextrema()[0] < 250  # the shaded box at the foot of the page
    image.save(tmp_path / "keukentafel.png")


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_even_the_longest_answers_keep_the_end_short_with_the_own_steunpunt(
    sqlite_core: BotCore, sqlite_url: str, locale: str
) -> None:
    db = Database(sqlite_url)
    await import_example_if_empty(db)
    await db.dispose()
    user = await caregiver(sqlite_core, 1811, locale=locale)
    await user.says("/steunpunt")
    await user.says("5211 ab")
    save = [b for m in user.last.messages for row in m.buttons for b in row if ":save:" in b.data]
    await user.presses_data(save[0].data)
    await user.says("/keukentafel")
    longest = ("woord " * 100)[:500].strip()
    for _ in range(2):
        await user.says(longest)
    await user.says("168")
    for _ in range(3):
        await user.says(longest)
    for _ in range(3):
        await user.taps(user.buttons[0].label)
    await user.says(longest)
    messages: list[OutMessage] = user.last.messages
    check(messages, f"{locale}:end of the longest preparation")
    assert any("Den Bosch" in m.text for m in messages)  # the own steunpunt's card
    assert "ingekort" in messages[0].text or "shortened" in messages[0].text
