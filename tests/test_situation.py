"""Situation guides (/situatie): every guide walked in Dutch and English, short, naming who can
help and a way to a person; guides are data a content editor adds without Python; suggestions
after a heavy self-check, a heavier check-in trend or a respite answer, each only once; and the
talk with the employer prepared in typed steps, ending in a summary that holds what was typed."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.app.dispatch import BotCore, Context
from bot.clock import FakeClock
from bot.engine.output import OutMessage, Reply
from bot.engine.spec import DIALOGS_DIR, DialogError, load_yaml
from bot.features import load
from bot.features.situation.guides import GUIDE_KEY, Guides
from bot.features.situation.handlers import BUTTONS
from bot.features.situation.models import SituationOffer
from bot.text.extract import iter_translatable
from bot.transport.terminal import plain
from tests.conftest import core_for, features, settings_for
from tests.conversation import CoreUser
from tests.test_checkin import local, tick, with_checkins
from tests.test_scheduling import RecordingSender
from tests.test_short_first import ENGLISH, SELFCHECK_ANSWERS, check

CONTENT, REGISTRY = features()
GUIDES: Guides = REGISTRY.buttons[BUTTONS.prefix].__self__.guides  # type: ignore[attr-defined]
# The professions and lines of CONTENT.md ("Who is who", "National lines and sites"), as the
# guides name them in Dutch and English: every guide's "who can help" names at least one.
PROFESSIONS = (
    "casemanager dementie", "transferverpleegkundige", "wijkverpleegkundige", "ergotherapeut",
    "fysiotherapeut", "sociaal werker", "mantelzorgmakelaar", "mantelzorgconsulent",
    "huisarts", "evv'er", "contactverzorgende", "sociaal wijkteam", "gp", "case manager",
    "caregiver consultant", "care broker", "social worker", "district nurse", "transfer nurse",
    "occupational therapist", "contact person",
)  # fmt: skip
LANGUAGES = {"nl": ("Nederlands", "Ja, dat mag"), "en": ("English", "Yes")}
EN = {
    "Wat speelt er bij jou?": "What is going on for you?",
    "Wie kan helpen?": "Who can help?",
    "Wat zijn mijn rechten?": "What are my rights?",
    "Terug naar de uitleg": "Back to the guide",
    "Een andere situatie": "A different situation",
}


@pytest.fixture
async def lite(sqlite_url: str, clock: FakeClock) -> AsyncIterator[BotCore]:
    """A core on SQLite only: walking every guide twice needs no second backend."""
    bot_core = core_for(settings_for(sqlite_url), clock)
    yield bot_core
    await bot_core.db.dispose()


async def caregiver(core: BotCore, user_id: int, locale: str = "nl") -> CoreUser:
    user = CoreUser(core, user_id, language_code=locale)
    await user.says("/start")
    language, yes = LANGUAGES[locale]
    await user.taps(language)
    await user.taps(yes)
    return user


def measured(reply: Reply | None, where: str) -> list[OutMessage]:
    assert reply is not None, where
    check(reply.messages, where)
    return reply.messages


def label(locale: str, dutch: str) -> str:
    return EN.get(dutch, dutch) if locale == "en" else dutch


def button_data(messages: list[OutMessage]) -> list[str]:
    return [b.data for m in messages for row in m.buttons for b in row]


def test_every_guide_of_the_issue_is_there_with_who_can_help_and_rights() -> None:
    assert [g.key for g in GUIDES.guides] == [
        "dementia", "hospital", "care_home", "work", "young", "last_phase", "child",
    ]  # fmt: skip
    for guide in GUIDES.guides:
        assert guide.helpers and guide.rights and guide.next_steps, guide.key
        assert all(h.prompt for h in guide.helpers), guide.key


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_every_guide_walked_is_short_translated_and_names_a_profession_and_a_person(
    lite: BotCore, locale: str
) -> None:
    user = await caregiver(lite, 500, locale)
    listing = measured(await user.says("/situatie"), f"{locale}:/situatie")
    labels = [plain(b.label) for b in user.buttons]
    texts = lite.texts_for(locale)
    assert labels[:-1] == [texts.tr(g.label) for g in GUIDES.guides] and labels[-1] == "Menu"
    assert "Wat speelt er bij jou?" in plain(listing[0].text) or locale == "en"
    for guide in GUIDES.guides:
        where = f"{locale}:{guide.key}"
        await user.says("/situatie")
        (opening,) = measured(await user.taps(texts.tr(guide.label)), where)
        assert plain(texts.tr(guide.title)) in plain(opening.text)
        who = measured(await user.taps(label(locale, "Wie kan helpen?")), f"{where}:who")
        text = "\n".join(plain(m.text) for m in who).casefold()
        assert any(p in text for p in PROFESSIONS), f"{where}: no profession in {text}"
        # A way to a person: the steunpunt (a button to find it, no card saved) and a question.
        assert "m:steunpunt" in button_data(who), where
        assert text.count("“") >= len(guide.helpers), where
        rights = measured(await user.taps(label(locale, "Wat zijn mijn rechten?")), where)
        assert len(rights) == 1 and plain(texts.tr(guide.rights[0].title)) in plain(rights[0].text)
        back = measured(await user.taps(label(locale, "Terug naar de uitleg")), where)
        assert back[0].text == opening.text
        measured(await user.taps(label(locale, "Een andere situatie")), where)


async def test_who_can_help_shows_the_caregivers_own_steunpunt_when_it_is_known(
    lite: BotCore,
) -> None:
    async def saved(ctx: Context) -> OutMessage:
        return OutMessage("<b>Steunpunt Mantelzorg Voorbeeldstad</b> (voorbeeldgegevens)")

    lite.registry.help_cards.insert(0, saved)
    user = await caregiver(lite, 501)
    await user.says("/situatie")
    await user.taps("Mijn naaste heeft dementie")
    who = measured(await user.taps("Wie kan helpen?"), "nl:dementia:who:card")
    assert "Jouw steunpunt mantelzorg\nSteunpunt Mantelzorg Voorbeeldstad" in plain(who[-1].text)
    assert "Alzheimer Telefoon: 0800-5088" in plain(who[0].text)
    assert "m:steunpunt" not in button_data(who)
    await user.taps("Wat zijn mijn rechten?")
    assert "Onafhankelijke cliëntondersteuning" in user.last_text
    assert "geen belofte" in user.last_text


async def test_the_guides_are_in_the_menu_and_old_or_forged_buttons_are_refused(
    lite: BotCore,
) -> None:
    user = await caregiver(lite, 502)
    await user.says("/menu")
    assert "Wat speelt er bij jou?" in [plain(b.label) for b in user.buttons]
    await user.taps("Wat speelt er bij jou?")
    assert "Kies wat het meest past" in user.last_text
    for data in ("si:nothing", "si:dementia:pay", "si:dementia:who:x", "si"):
        await user.presses_data(data)
        assert user.last.toast == "Deze knop werkt niet meer.", data


# ---------------------------------------------------------------- content as data


def guide_file(key: str = "moving") -> dict:
    return {
        GUIDE_KEY: {
            "key": key,
            "order": 5,
            "label": "We verhuizen samen",
            "button": "Uitleg: verhuizen",
            "title": "Als jullie verhuizen",
            "summary": "Een verhuizing vraagt veel regelwerk.",
            "helpers": [{"title": "Mantelzorgmakelaar", "text": "Regelt.", "prompt": "Wat?"}],
            "links": ["zelftest"],
        }
    }


def test_a_content_editor_adds_a_guide_with_one_file(tmp_path: Path) -> None:
    directory = tmp_path / "dialogs"
    shutil.copytree(DIALOGS_DIR, directory)
    (directory / "situation_moving.yaml").write_text(yaml.safe_dump(guide_file()), "utf-8")
    _, registry = load(directory)
    guides = registry.buttons[BUTTONS.prefix].__self__.guides  # type: ignore[attr-defined]
    assert [g.key for g in guides.guides][:2] == ["moving", "dementia"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"links": ["nergens"]}, "situation.links: unknown links ['nergens']"),
        ({"helpers": []}, "situation.helpers: expected a list of who can help"),
        ({"summary": ""}, "situation.summary: expected a non-empty text"),
        (
            {"suggest": [{"after": "respite.advice", "when": {"home": ["boat"]}}]},
            "situation.suggest[0].when.home: expected answers from",
        ),
        ({"suggest": [{"after": "later"}]}, "situation.suggest[0].after: expected a moment"),
    ],
)
def test_a_broken_guide_stops_the_start_naming_file_and_path(
    tmp_path: Path, change: dict, problem: str
) -> None:
    directory = tmp_path / "dialogs"
    shutil.copytree(DIALOGS_DIR, directory)
    data = guide_file()
    data[GUIDE_KEY].update(change)
    (directory / "situation_moving.yaml").write_text(yaml.safe_dump(data), "utf-8")
    with pytest.raises(DialogError, match=r"situation_moving\.yaml: ") as error:
        load(directory)
    assert problem in str(error.value)


def test_every_text_of_every_guide_goes_through_the_extractor() -> None:
    for guide in GUIDES.guides:
        extracted = set(iter_translatable(load_yaml(DIALOGS_DIR / guide.source)))
        shown = {guide.label, guide.button, guide.title, guide.summary, *guide.next_steps}
        shown |= {t for h in guide.helpers for t in (h.title, h.text, h.prompt)}
        shown |= {t for r in guide.rights for t in (r.title, r.text)}
        assert shown <= extracted, (guide.source, shown - extracted)


# ---------------------------------------------------------------- suggested, once


async def self_check(user: CoreUser, case: str, locale: str = "nl") -> list[str]:
    """Do the self-check; the labels of the buttons under its result."""
    await user.says("/zelftest")
    for answer in SELFCHECK_ANSWERS[case]:
        await user.taps(answer if locale == "nl" else ENGLISH[answer])
    return [plain(b.label) for b in user.buttons]


async def offers(core: BotCore) -> list[tuple[int, str]]:
    async with core.db.transaction() as session:
        rows = await session.execute(select(SituationOffer.caregiver_id, SituationOffer.guide))
        return sorted((row[0], row[1]) for row in rows)


async def test_a_heavy_self_check_offers_the_fitting_guide_once_then_the_list_once(
    core: BotCore,
) -> None:
    user = await caregiver(core, 510)
    # "heavy": work is hard to combine ("Ja, vaak"), so the work guide fits.
    first = await self_check(user, "heavy")
    assert "Uitleg: zorg en werk combineren" in first
    assert first.index("Uitleg: zorg en werk combineren") == len(first) - 2  # before "Menu"
    measured(user.last, "nl:selfcheck:heavy:offer")
    await user.taps("Uitleg: zorg en werk combineren")
    assert "Zorg en werk combineren" in user.last_text
    second = await self_check(user, "heavy")
    assert "Uitleg: zorg en werk combineren" not in second
    assert "Wat speelt er bij jou? Korte uitleg" in second
    third = await self_check(user, "heavy")
    assert not [b for b in third if "Uitleg" in b or "Wat speelt" in b]
    assert [guide for _, guide in await offers(core)] == ["list", "work"]


async def test_withdrawing_consent_forgets_which_guides_were_offered(lite: BotCore) -> None:
    user = await caregiver(lite, 515)
    await self_check(user, "heavy")
    assert await offers(lite) != []
    await user.says("/privacy")
    await user.taps("Toestemming intrekken")
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    assert await offers(lite) == []


async def test_a_light_self_check_offers_no_guide(lite: BotCore) -> None:
    user = await caregiver(lite, 511)
    labels = await self_check(user, "light")
    assert not [b for b in labels if "Uitleg" in b or "Wat speelt" in b]
    assert await offers(lite) == []


async def respite(user: CoreUser, person: str, condition: str, home: str) -> list[str]:
    await user.says("/respijt")
    for answer in ("Ja, dat lukt wel", person, condition, home, "Nee", "Een paar uur, thuis"):
        await user.taps(answer)
    await user.taps("Ja, dat is goed")
    summary = user.last.messages[0]
    return [plain(b.label) for row in summary.buttons for b in row]


@pytest.mark.parametrize(
    ("person", "condition", "home", "guide"),
    [
        ("Een oudere", "Iets anders", "In een zorginstelling",
         "Uitleg: naaste in een zorginstelling"),
        ("Een volwassene", "Laatste levensfase (palliatief)", "Bij mij in huis",
         "Uitleg: de laatste levensfase"),
        ("Een kind (tot 18 jaar)", "Een beperking", "Bij mij in huis",
         "Uitleg: zorgen voor een kind"),
    ],
)  # fmt: skip
async def test_a_respite_answer_offers_the_guide_that_fits_once(
    lite: BotCore, person: str, condition: str, home: str, guide: str
) -> None:
    user = await caregiver(lite, 512)
    assert guide in await respite(user, person, condition, home)
    measured(user.last, f"nl:respite:{guide}")
    assert guide not in await respite(user, person, condition, home)


async def test_dementia_in_a_care_home_offers_one_guide_per_advice_in_their_order(
    lite: BotCore,
) -> None:
    user = await caregiver(lite, 513)
    answers = ("Een oudere", "Dementie", "In een zorginstelling")
    first = [b for b in await respite(user, *answers) if b.startswith("Uitleg")]
    second = [b for b in await respite(user, *answers) if b.startswith("Uitleg")]
    third = [b for b in await respite(user, *answers) if b.startswith("Uitleg")]
    assert (first, second, third) == (
        ["Uitleg: zorgen bij dementie"],
        ["Uitleg: naaste in een zorginstelling"],
        [],
    )


async def test_a_check_in_trend_getting_heavier_offers_the_guides_once(
    lite: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(lite)
    sender = RecordingSender()
    shown = []
    for week, score in enumerate(("2", "3", "6", "9")):
        clock.set(local(2026, 11, 24, 19, 30) + timedelta(weeks=week, minutes=5))
        await tick(lite, sender, user)
        await user.taps(score)
        reply = user.last.messages[-2]
        shown.append([plain(b.label) for row in reply.buttons for b in row])
        await user.taps("Overslaan")
    assert ["Wat speelt er bij jou? Korte uitleg" in labels for labels in shown] == [
        False, False, True, False,
    ]  # fmt: skip


async def test_without_consent_nothing_is_offered_or_stored(lite: BotCore) -> None:
    # Stored offers are what keeps a suggestion to once: without consent there are none.
    user = CoreUser(lite, 514)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    await user.says("/situatie")
    await user.taps("Ik combineer zorg en werk")
    assert "Zorg en werk combineren" in user.last_text
    async with lite.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(SituationOffer)) == 0


# ---------------------------------------------------------------- work and care


@pytest.mark.parametrize("locale", ["nl", "en"])
async def test_the_talk_with_the_employer_ends_in_a_summary_that_holds_what_was_typed(
    lite: BotCore, locale: str
) -> None:
    en = locale == "en"
    user = await caregiver(lite, 520, locale)
    await user.says("/situatie")
    await user.taps("I combine care and work" if en else "Ik combineer zorg en werk")
    measured(
        await user.taps("Prepare the talk" if en else "Gesprek met je werkgever voorbereiden"),
        f"{locale}:werkgesprek",
    )
    await user.taps("Leave" if en else "Verlof")
    await user.says("32 december")  # no such day: asked again, nothing lost
    assert "Vanaf wanneer" in user.last_text or "From when" in user.last_text
    await user.says("15 January" if en else "15 januari")
    await user.taps("I'll type it myself" if en else "Ik typ het zelf")
    await user.says("tot de zomer")
    note = "Mijn moeder komt uit het ziekenhuis & ik wil <b>op maandag</b> thuis zijn"
    summary, leave = measured(await user.says(note), f"{locale}:werkgesprek:summary")
    assert not summary.buttons  # one plain message to copy or forward
    assert "<b>" not in summary.text.replace("&lt;b&gt;", "")
    text = plain(summary.text)
    assert note in text and "tot de zomer" in text
    if en:
        assert "• What I need: leave" in text and "• From: Friday, 15 January 2027" in text
    else:
        assert "• Wat ik nodig heb: verlof" in text and "• Vanaf: vrijdag 15 januari 2027" in text
    leave_text = plain(leave.text)
    for kind in ("Calamiteitenverlof", "Kortdurend zorgverlof", "Langdurend zorgverlof"):
        assert kind.casefold() in leave_text.casefold(), kind
    assert "70%" in leave_text
    assert ("serious business reason" if en else "zwaarwegend bedrijfsbelang") in leave_text


async def test_a_quick_employer_summary_with_buttons_only_and_no_note(lite: BotCore) -> None:
    user = await caregiver(lite, 521)
    await user.says("/werkgesprek")
    await user.taps("Een combinatie hiervan")
    await user.taps("Zo snel mogelijk (vandaag)")
    await user.taps("Een paar maanden")
    await user.taps("Sla over")
    text = plain(user.last.messages[0].text)
    assert "flexibele werktijden, verlof en thuiswerken" in text
    assert "• Vanaf: maandag 23 november 2026" in text and "een paar maanden" in text
    assert "Toelichting" not in text
    await user.taps("Terug naar de uitleg")
    assert "Zorg en werk combineren" in user.last_text
