"""Inspraak in the core: staff write a question and send it as a notice with answer buttons (the
same delivery as staff notices); caregivers answer once, may add a comment (scrubbed) or stop;
staff see counts only when the question is closed and at least 10 answered, never who answered
what. Plus the scrubber of names and numbers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app.dispatch import BotCore
from bot.engine.output import Button, OutMessage
from bot.features.inspraak.models import (
    InspraakAnswered,
    InspraakComment,
    InspraakQuestion,
    InspraakTally,
)
from bot.features.inspraak.scrub import scrub
from bot.features.steunpunt.directory import import_example_if_empty
from bot.transport.terminal import plain
from tests.conversation import CoreUser, staff_user
from tests.test_broadcast import RecordingSender, caregiver, deliver

VUGHT_BOXTEL = "voorbeeld-vught-boxtel"
VUGHT, BOXTEL = "GM0865", "GM0757"
QUESTION = "Wat helpt jou het meest?"
OPTIONS = "Een vrijwilliger die even oppast\nMeer informatie\nContact met lotgenoten"


@pytest.fixture
async def directory(core: BotCore) -> BotCore:
    await import_example_if_empty(core.db)
    return core


async def area(core: BotCore, count: int = 12, first_id: int = 7100) -> list[int]:
    """Caregivers of Vught (the Vught-Boxtel steunpunt's area), by Telegram user id."""
    for i in range(count):
        await caregiver(core, first_id + i, municipality=VUGHT)
    return [first_id + i for i in range(count)]


async def ask(core: BotCore, staff: CoreUser) -> RecordingSender:
    """Staff write the question and send it; the deliverer sends the notices."""
    await staff.says("/inspraak")
    await staff.taps("Nieuwe vraag")
    assert "Typ je vraag" in staff.last_text
    await staff.says(QUESTION)
    assert "Typ nu de keuzes" in staff.last_text
    await staff.says(OPTIONS)
    await staff.taps("Versturen")
    sender = RecordingSender()
    await deliver(core, sender)
    return sender


def notice_to(sender: RecordingSender, chat_id: int) -> OutMessage:
    (message,) = [m for chat, m, bulk in sender.sent if chat == chat_id and bulk]
    return message


def button(message: OutMessage, label: str) -> Button:
    return next(b for row in message.buttons for b in row if plain(b.label) == label)


async def counts(core: BotCore) -> list[int]:
    async with core.db.transaction() as session:
        rows = await session.scalars(select(InspraakTally.count).order_by(InspraakTally.option))
        return list(rows)


async def test_the_question_arrives_as_a_notice_with_a_button_per_choice(
    directory: BotCore,
) -> None:
    await area(directory)
    staff = await staff_user(directory, 650, steunpunt_key=VUGHT_BOXTEL)
    await staff.says("/inspraak")
    await staff.taps("Nieuwe vraag")
    await staff.says(QUESTION)
    await staff.says(OPTIONS)
    intro, notice, confirm = staff.last.messages
    assert "met een knop voor elke keuze" in intro.text
    assert "De vraag gaat naar 12 mantelzorgers" in plain(confirm.text)
    await staff.taps("Opmerking erbij vragen: ja")
    assert "Opmerking erbij vragen: nee" in [b.label for b in staff.buttons]
    await staff.taps("Opmerking erbij vragen: nee")
    await staff.taps("Versturen (12)")
    assert "Je vraag gaat nu naar 12 mantelzorgers" in staff.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert len(sender.bulk_chats()) == 12
    message = notice_to(sender, 7100)
    lines = plain(message.text).splitlines()
    assert lines[0] == "Een bericht voor je."  # the lock screen says nothing of the topic
    assert QUESTION in message.text and "Antwoorden mag, het hoeft niet." in plain(message.text)
    assert "anoniem" in plain(message.text)
    labels = [plain(b.label) for row in message.buttons for b in row]
    assert labels == [*OPTIONS.splitlines(), "Wat gebeurt er met mijn antwoord?"]
    assert plain(notice.text) == plain(message.text)  # the preview is what arrives
    # The same notice as /bericht makes: in the staff member's list of notices.
    await staff.says("/berichten")
    assert "Inspraak: Wat helpt jou het meest?" in staff.last_text


async def test_answer_with_a_comment_once_and_what_happens_with_it(directory: BotCore) -> None:
    await area(directory)
    staff = await staff_user(directory, 651, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    notice = notice_to(sender, 7100)
    user = CoreUser(directory, 7100)

    await user.presses_data(button(notice, "Wat gebeurt er met mijn antwoord?").data)
    assert "Ik bewaar niet wat jij koos" in user.last_text and "minstens 10" in user.last_text

    await user.presses_data(button(notice, "Meer informatie").data)
    assert "Dank je! Je koos: Meer informatie." in user.last_text
    assert "Het hoeft niet." in user.last_text and "Nee, klaar" in [b.label for b in user.buttons]
    assert await counts(directory) == [0, 1, 0]
    await user.says("Jan de Vries helpt al veel, bel hem op 06-12345678 of mail jan@vries.nl")
    assert "Zo ziet het steunpunt hem" in user.last_text
    assert "[naam] helpt al veel, bel hem op [nummer] of mail [e-mail]" in user.last_text
    assert "Jan" not in user.last_text and "0612" not in user.last_text

    await user.presses_data(button(notice, "Contact met lotgenoten").data)
    assert "Je hebt deze vraag al beantwoord" in user.last_text
    assert await counts(directory) == [0, 1, 0]  # counted once
    await user.says("Nog een opmerking")  # the comment step is over: not kept
    async with directory.db.transaction() as session:
        comments = list(await session.scalars(select(InspraakComment.text)))
    assert comments == ["[naam] helpt al veel, bel hem op [nummer] of mail [e-mail]"]


async def test_stop_or_no_comment_keeps_the_answer_and_nothing_typed_after(
    directory: BotCore,
) -> None:
    await area(directory)
    staff = await staff_user(directory, 652, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    first, second = CoreUser(directory, 7101), CoreUser(directory, 7102)
    await first.presses_data(button(notice_to(sender, 7101), "Meer informatie").data)
    await first.says("stop")
    assert "Dank je wel voor je antwoord." in first.last_text
    await first.says("Dit is geen opmerking meer")
    await second.presses_data(button(notice_to(sender, 7102), "Meer informatie").data)
    await second.taps("Nee, klaar")
    assert "Dank je wel voor je antwoord." in second.last_text
    async with directory.db.transaction() as session:
        assert list(await session.scalars(select(InspraakComment.text))) == []
    assert await counts(directory) == [0, 2, 0]


async def test_staff_see_counts_only_when_closed_and_from_ten_answers(directory: BotCore) -> None:
    users = await area(directory, 14)
    staff = await staff_user(directory, 653, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    choices = ["Meer informatie"] * 11 + ["Een vrijwilliger die even oppast"] * 2
    for user_id, choice in zip(users, choices, strict=False):
        user = CoreUser(directory, user_id)
        await user.presses_data(button(notice_to(sender, user_id), choice).data)
        await user.says(f"Het is fijn dat Piet komt, mijn nummer is {user_id}")

    await staff.says("/inspraak")
    assert "Antwoorden: 13." in staff.last_text and "Open tot" in staff.last_text
    await staff.taps("Uitslag")
    assert "De uitslag per keuze zie je als de vraag gesloten is" in staff.last_text
    assert "Meer informatie: 11" not in staff.last_text and "Opmerkingen" not in staff.last_text

    await staff.says("/inspraak")
    await staff.taps("Sluiten")
    text = staff.last_text
    assert "Antwoorden: 13." in text
    # 2 for the volunteer alone is too few, and 13 - 11 would give it back: both hidden.
    assert "Een vrijwilliger die even oppast: te weinig om te tonen" in text
    assert "Meer informatie: te weinig om te tonen" in text
    assert "Contact met lotgenoten: te weinig om te tonen" in text
    assert text.count("Het is fijn dat [naam] komt, mijn nummer is [nummer]") == 13
    # Nothing of who answered: no caregiver's id, chat or name reaches staff.
    for user_id in users:
        assert str(user_id) not in text
    closed = CoreUser(directory, users[-1])
    await closed.presses_data(button(notice_to(sender, users[-1]), "Meer informatie").data)
    assert "Deze vraag is gesloten" in closed.last_text


async def test_fewer_than_ten_answers_show_no_result_and_no_comments(directory: BotCore) -> None:
    users = await area(directory, 12)
    staff = await staff_user(directory, 654, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    for user_id in users[:9]:
        user = CoreUser(directory, user_id)
        await user.presses_data(button(notice_to(sender, user_id), "Meer informatie").data)
        await user.says("Meer uitleg graag")
    await staff.says("/inspraak")
    await staff.taps("Sluiten")
    assert "Antwoorden: minder dan 10" in staff.last_text
    assert "Meer informatie: te weinig om te tonen" in staff.last_text
    assert "Meer uitleg graag" not in staff.last_text


async def test_an_area_of_fewer_than_ten_cannot_be_asked(directory: BotCore) -> None:
    await area(directory, 9)
    staff = await staff_user(directory, 655, steunpunt_key=VUGHT_BOXTEL)
    await staff.says("/inspraak")
    await staff.taps("Nieuwe vraag")
    await staff.says(QUESTION)
    await staff.says(OPTIONS)
    assert "minder dan 10" in staff.last_text and "Versturen kan daarom niet" in staff.last_text
    assert not [b for b in staff.buttons if b.label.startswith("Versturen")]


async def test_only_recipients_answer_and_buttons_cannot_be_forged(directory: BotCore) -> None:
    await area(directory)
    await caregiver(directory, 7190, municipality=BOXTEL)
    staff = await staff_user(directory, 656, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    data = button(notice_to(sender, 7100), "Meer informatie").data
    outsider = CoreUser(directory, 7500)  # never got the notice
    await outsider.says("/start")
    await outsider.presses_data(data)
    assert outsider.last.toast == "Deze knop werkt niet meer."
    await CoreUser(directory, 7101).presses_data(data.rsplit(":", 1)[0] + ":9")  # no option 9
    assert await counts(directory) == [0, 0, 0]


async def test_staff_visible_tables_hold_no_caregiver(directory: BotCore) -> None:
    # Only the answered-set names a caregiver; counts and comments have no column for one.
    for model in (InspraakTally, InspraakComment, InspraakQuestion):
        columns = {c.name for c in model.__table__.columns}
        assert not {"caregiver_id", "answered_at", "created_at"} & columns - {
            "created_at" if model is InspraakQuestion else ""
        }
    answered = {c.name for c in InspraakAnswered.__table__.columns}
    assert answered == {"question_id", "caregiver_id", "answered_at", "commented"}


async def test_writing_the_question_checks_what_is_typed(directory: BotCore) -> None:
    await area(directory)
    staff = await staff_user(directory, 657, steunpunt_key=VUGHT_BOXTEL)
    await staff.says("/inspraak")
    await staff.taps("Nieuwe vraag")
    await staff.says("x" * 201)
    assert "hoogstens 200 tekens" in staff.last_text
    await staff.says(QUESTION)
    await staff.says("Alleen één keuze")
    assert "Typ 2 tot 6 verschillende keuzes" in staff.last_text
    await staff.says("Ja\nja")
    assert "verschillende keuzes" in staff.last_text
    await staff.says("stop")
    assert "Er is niets verstuurd" in staff.last_text
    async with directory.db.transaction() as session:
        assert list(await session.scalars(select(InspraakQuestion.id))) == []


async def test_a_caregiver_does_not_reach_inspraak_for_staff(directory: BotCore) -> None:
    user = CoreUser(directory, 7600)
    await user.says("/start")
    await user.says("/inspraak")
    assert "inspraak" not in user.last_text.casefold()


# ---------------------------------------------------------------- scrubbing comments


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Jan van der Berg helpt mij", "[naam] helpt mij"),
        ("Bel 06-12345678 of +31 73 123 4567", "Bel [nummer] of [nummer]"),
        ("Mail naar piet@example.nl of @piet", "Mail naar [e-mail] of [naam]"),
        ("Ik woon op de Kerkstraat 12a, 5211 AB", "Ik woon op de [naam] [nummer], [postcode]"),
        ("zie www.steunpunt.nl/hulp", "zie [link]"),
        ("Mijn moeder Ria (82) heeft dementie.", "Mijn moeder [naam] ([nummer]) heeft dementie."),
        ("Meer respijt en minder regels. De Wmo duurt lang.", "Meer respijt en minder regels. "
         "De Wmo duurt lang."),
    ],
)  # fmt: skip
def test_comments_lose_names_and_numbers(typed: str, kept: str) -> None:
    assert scrub(typed) == kept


async def test_that_i_answered_stays_through_withdrawal_and_goes_with_forget_me(
    directory: BotCore,
) -> None:
    await area(directory)
    staff = await staff_user(directory, 658, steunpunt_key=VUGHT_BOXTEL)
    sender = await ask(directory, staff)
    user = CoreUser(directory, 7100)
    data = button(notice_to(sender, 7100), "Meer informatie").data
    await user.presses_data(data)
    await user.taps("Nee, klaar")
    await user.says("/privacy")
    await user.taps("Toestemming intrekken en wissen")
    assert (
        "1 inspraakvraag die je beantwoordde (alleen dát je antwoordde, niet wat)"
        in (user.last_text.split("Dit blijft:")[1])
    )
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    async with directory.db.transaction() as session:
        assert len(list(await session.scalars(select(InspraakAnswered.caregiver_id)))) == 1
    await user.says("/vergeetmij")
    await user.taps("Ja, wis alles over mij")
    async with directory.db.transaction() as session:
        assert list(await session.scalars(select(InspraakAnswered.caregiver_id))) == []
    assert await counts(directory) == [0, 1, 0]  # the count of the answer stays: it names nobody
