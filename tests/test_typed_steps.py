"""Typed steps in the dialog engine: text, number, date, time, date and time, location and
contact, each validated with a kind re-ask, with back, stop and skip; and the check-in set-up,
now a dialog file, with a time of one's own and a pause until a date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.engine.flow import (
    NO_HOOKS,
    Event,
    Hooks,
    Outcome,
    State,
    advance,
    button_data,
    question,
    render_question,
    start,
)
from bot.engine.flow import _valid as typed_answer
from bot.engine.output import OutMessage
from bot.engine.spec import Dialog, DialogError, parse_dialog
from bot.features import ACTIONS
from bot.features.checkin.models import CheckinSchedule
from bot.jobs.scheduled import ScheduledMessage
from bot.text.content import Texts
from bot.text.dates import local_date
from bot.text.fields import FieldError
from bot.text.i18n import MissingTranslation, get_translator
from bot.transport.terminal import plain
from tests.conftest import features
from tests.test_checkin import local
from tests.test_flows import onboarded

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # Monday 23 November 2026, 19:00 in Amsterdam


def form(*steps: dict, **top: object) -> Dialog:
    data = {
        "id": "form",
        "version": 1,
        "title": "Formulier",
        "steps": [*steps, {"id": "done", "type": "end", "action": "questionnaire.result"}],
        **top,
    }
    return parse_dialog(data, "form.yaml", ACTIONS, [])


class MadeUpDialogTexts:
    """The real Dutch catalog, and the texts of the made-up dialogs here as they are."""

    def __init__(self) -> None:
        self.real = get_translator("nl")

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def gettext(self, msgid: str) -> str:
        try:
            return self.real.gettext(msgid)
        except MissingTranslation:
            return msgid


@pytest.fixture(scope="module")
def texts() -> Texts:
    content, _ = features()
    return Texts(content, MadeUpDialogTexts())  # type: ignore[arg-type]


class Walk:
    """One caregiver in a dialog of typed steps, without a database."""

    def __init__(
        self,
        dialog: Dialog,
        texts: Texts,
        hooks: Hooks = NO_HOOKS,
        given: dict[str, str] | None = None,
    ) -> None:
        self.dialog, self.texts, self.hooks = dialog, texts, hooks
        self.state: State = start(dialog, given)
        self.outcome: Outcome | None = None

    def says(self, text: str) -> str:
        return self.send(Event("text", text))

    def taps(self, token: str) -> str:
        return self.send(Event("button", button_data(self.dialog, self.state, token)))

    def send(self, event: Event) -> str:
        self.outcome = advance(self.dialog, self.state, event, self.texts, NOW, self.hooks)
        self.state = self.outcome.state
        return "\n".join(plain(m.text) for m in self.outcome.reply.messages)


def test_a_number_step_asks_again_kindly_until_the_number_fits(texts: Texts) -> None:
    walk = Walk(form({"id": "guests", "type": "number", "text": "Hoeveel?", "min": 1, "max": 6}),
                texts)  # fmt: skip
    assert "Typ alleen een getal" in walk.says("twee")
    assert "van 1 tot en met 6" in walk.says("9")
    assert "Hoeveel?" in walk.says("9")  # the question again, nothing lost
    assert "Typ alleen een getal" in walk.says("2 of 3")
    walk.says("ongeveer 2 personen")
    assert walk.outcome is not None and walk.outcome.completed
    assert walk.state.answers == {"guests": "2"}


def test_a_number_typed_with_its_unit_counts(texts: Texts) -> None:
    walk = Walk(form({"id": "hours", "type": "number", "text": "Hoeveel uur?", "max": 168}), texts)
    walk.says("15 uur")
    assert walk.state.answers == {"hours": "15"}


def test_a_text_step_takes_what_is_typed_within_its_length(texts: Texts) -> None:
    walk = Walk(form({"id": "note", "type": "text", "text": "Wat wil je kwijt?", "max": 20}), texts)
    assert "Het kan in 20 tekens" in walk.says("x" * 21)
    walk.says("  Het gaat wel  ")
    assert walk.state.answers == {"note": "Het gaat wel"}


def test_date_and_time_steps_read_dutch_and_english_and_say_what_is_wrong(texts: Texts) -> None:
    walk = Walk(
        form(
            {"id": "day", "type": "date", "text": "Welke dag?", "min": 1, "max": 60},
            {"id": "at", "type": "time", "text": "Hoe laat?"},
            {"id": "when", "type": "datetime", "text": "Wanneer?"},
        ),
        texts,
    )
    assert "Kies een datum vanaf dinsdag 24 november 2026" in walk.says("vandaag")
    assert "tot en met" in walk.says("1 maart")
    assert "bestaat niet" in walk.says("31-11")
    assert "Typ een datum, geen tijd" in walk.says("10:30")
    walk.says("friday")
    assert walk.state.answers["day"] == "2026-11-27"
    assert "Die tijd begrijp ik niet" in walk.says("half elf")
    walk.says("10.30")
    assert walk.state.answers["at"] == "10:30"
    assert "al voorbij" in walk.says("vandaag 9:00")
    assert "Typ ook de tijd erbij" in walk.says("morgen")
    walk.says("morgen 9 uur")
    assert walk.state.answers["when"] == "2026-11-24T08:00:00+00:00"


def test_back_stop_and_skip_work_on_typed_steps(texts: Texts) -> None:
    walk = Walk(
        form(
            {"id": "name", "type": "text", "text": "Naam?"},
            {"id": "extra", "type": "text", "text": "Nog iets?", "optional": True},
        ),
        texts,
    )
    walk.says("Anna")
    assert "Naam?" in walk.taps("back")
    walk.says("Bert")
    walk.says("sla over")  # the skip button's label typed is the skip, not an answer
    assert walk.state.answers == {"name": "Bert", "extra": ""}
    walk = Walk(form({"id": "name", "type": "text", "text": "Naam?"}), texts)
    walk.taps("stop")
    assert walk.state.paused


def test_shortcut_buttons_on_a_typed_step_stand_for_a_typed_answer(texts: Texts) -> None:
    walk = Walk(
        form({"id": "at", "type": "time", "text": "Hoe laat?",
              "options": [{"value": "evening", "label": "Avond (19:30)", "typed": "19:30"}]}),
        texts,
    )  # fmt: skip
    walk.taps("0")
    assert walk.state.answers == {"at": "19:30"}


def test_location_and_contact_steps_take_what_is_shared(texts: Texts) -> None:
    walk = Walk(
        form(
            {"id": "where", "type": "location", "text": "Waar?", "button": "Deel locatie"},
            {"id": "phone", "type": "contact", "text": "Nummer?", "button": "Deel nummer"},
        ),
        texts,
    )
    question = walk.dialog.steps["where"]
    assert question.button == "Deel locatie"
    assert "knop onder het invoerveld" in walk.says("Utrecht")
    walk.send(Event("location", latitude=52.0907, longitude=5.1214))
    assert walk.state.answers["where"] == "52.09070,5.12140"
    assert walk.outcome is not None
    (ask,) = walk.outcome.reply.messages
    assert ask.contact_button == "Deel nummer" and ask.expects == "contact"
    walk.send(Event("contact", "+31612345678"))
    assert walk.state.answers["phone"] == "+31612345678"


def test_a_typed_step_with_a_bad_definition_is_refused() -> None:
    with pytest.raises(DialogError, match=r"min 5 is above max 2"):
        form({"id": "n", "type": "number", "text": "Hoeveel?", "min": 5, "max": 2})
    with pytest.raises(DialogError, match=r"typed: expected the typed answer"):
        form({"id": "at", "type": "time", "text": "Hoe laat?",
              "options": [{"value": "x", "label": "Avond"}]})  # fmt: skip
    with pytest.raises(DialogError, match=r"button: expected a non-empty text"):
        form({"id": "where", "type": "location", "text": "Waar?"})


def test_every_shortcut_of_the_shipped_dialogs_is_a_valid_typed_answer() -> None:
    content, _ = features()
    checked = 0
    for dialog in content.dialogs.values():
        for step in dialog.steps.values():
            for option in step.options if step.typed else ():
                typed_answer(step, option.typed, NOW)
                checked += 1
    assert checked >= 6  # the check-in times at least


# ---------------------------------------------------------------- the check-in set-up


async def test_a_time_of_ones_own_for_the_check_ins(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/checkin")
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.says("10:30")  # once, this threw the whole set-up away
    assert "op dinsdag om 10:30" in user.last_text
    async with core.db.transaction() as session:
        plan = (await session.scalars(select(CheckinSchedule))).one()
        assert (plan.weekday, plan.minute) == (1, 10 * 60 + 30)


async def test_a_mistyped_time_is_asked_again_and_stop_changes_nothing(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/checkin")
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.says("morgen")
    assert "Die tijd begrijp ik niet" in user.last_text and "Hoe laat?" in user.last_text
    await user.taps("◀ Vorige")
    assert "Op welke dag?" in user.last_text
    await user.says("stop")
    assert "Er is niets veranderd" in user.last_text
    async with core.db.transaction() as session:
        assert (await session.scalars(select(CheckinSchedule))).first() is None


async def test_check_ins_pause_until_a_date_and_then_go_on_as_before(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await user.says("/checkin")
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.taps("Avond (19:30)")
    await user.says("/checkin")
    await user.taps("Even pauzeren tot een datum")
    assert "Tot welke dag" in user.last_text
    await user.says("15 januari")  # a hospital stay
    assert "tot en met vrijdag 15 januari 2027" in user.last_text
    async with core.db.transaction() as session:
        due = list(await session.scalars(
            select(ScheduledMessage.due_at).where(ScheduledMessage.status == "pending")
        ))  # fmt: skip
        plan = (await session.scalars(select(CheckinSchedule))).one()
    assert plan.paused_until == date(2027, 1, 15)
    assert [local_date(d) for d in due] == [date(2027, 1, 19)]  # the first Tuesday after it
    assert due == [local(2027, 1, 19, 19, 30)]
    await user.says("/checkin")
    assert "gepauzeerd tot en met vrijdag 15 januari 2027" in user.last_text


# ---------------------------------------------------------------- what a feature adds


def labels(walk: Walk) -> list[str]:
    assert walk.outcome is not None
    return [plain(b.label) for row in walk.outcome.reply.messages[-1].buttons for b in row]


def test_a_step_text_says_an_earlier_answer_as_people_read_it(texts: Texts) -> None:
    walk = Walk(
        form(
            {"id": "when", "type": "datetime", "text": "Wanneer?"},
            {"id": "check", "text": "Dat is <b>{when}</b>. Klopt dat?",
             "options": [{"value": "yes", "label": "Ja, klopt"},
                         {"value": "no", "label": "Nee, andere datum", "next": "when"}]},
        ),
        texts,
    )  # fmt: skip
    assert "Dat is donderdag 24 december 2026 om 15:00. Klopt dat?" in walk.says("24-12 15:00")
    assert "Wanneer?" in walk.taps("1")  # no: asked again
    assert "Dat is vrijdag 25 december 2026 om 10:00" in walk.says("25-12 10:00")
    walk.taps("0")
    assert walk.outcome is not None and walk.outcome.completed
    assert walk.state.answers["when"] == "2026-12-25T09:00:00+00:00"


def test_given_facts_and_a_features_values_fill_texts_and_labels(texts: Texts) -> None:
    def values(state: State) -> dict[str, str]:
        return {"summary": f"<b>{len(state.answers.get('title', ''))}</b> tekens"}

    dialog = form(
        {"id": "title", "type": "text", "text": "Hoe heet het, bij {name}?"},
        {"id": "place", "type": "text", "text": "Waar? {summary}",
         "options": [{"value": "here", "label": "Hier ({name})", "typed": "{address}"}]},
        values=["name", "address", "summary"],
    )  # fmt: skip
    given = {"name": "De <Linde>", "address": "Lindelaan 1 & 2"}
    walk = Walk(dialog, texts, Hooks(values=values), given)
    first = render_question(dialog, walk.state, texts, walk.hooks)
    assert first.text == "Hoe heet het, bij De &lt;Linde&gt;?"  # given facts are escaped
    assert "Waar? 6 tekens" in walk.says("Borrel")  # the feature's HTML as it made it
    assert labels(walk)[0] == "Hier (De <Linde>)"
    walk.taps("0")
    assert walk.state.answers["place"] == "Lindelaan 1 & 2"  # as it is, not escaped


def test_a_name_used_in_a_text_must_be_a_step_or_a_declared_value() -> None:
    with pytest.raises(DialogError, match=r"\{summary\} is no step"):
        form({"id": "check", "text": "{summary}", "options": [{"value": "a", "label": "A"}]})
    with pytest.raises(DialogError, match=r"'count' is no step"):
        form({"id": "x", "text": "X?", "if": "count", "options": [{"value": "a", "label": "A"}]})
    with pytest.raises(DialogError, match=r"expected a feature's hook"):
        form({"id": "x", "type": "text", "text": "X?"}, fill="nodot")


def test_a_features_check_by_name_refuses_with_its_own_words_or_changes_the_value(
    texts: Texts,
) -> None:
    def weekday(value: str, state: State) -> str:
        if datetime.fromisoformat(value).astimezone(UTC).weekday() == 6:
            raise FieldError("stale_button")  # any message of the feature's own
        return value

    walk = Walk(
        form(
            {"id": "when", "type": "datetime", "text": "Wanneer?", "check": "demo.weekday",
             "max": 30, "errors": {"past": "Die is al geweest.", "too_far": "Te ver: {x}."}},
            {"id": "name", "type": "text", "text": "Naam?", "check": "demo.upper"},
        ),
        texts,
        Hooks(checks={"demo.weekday": weekday, "demo.upper": lambda value, state: value.upper()}),
    )  # fmt: skip
    assert "Die is al geweest." in walk.says("23-11 10:00")  # the step's own word for "past"
    assert "Te ver: ." in walk.says("1-3 10:00")
    assert "Die knop hoort bij een eerdere vraag" in walk.says("zondag 29 november 10:00")
    walk.says("maandag 30 november 10:00")
    walk.says("anna")
    assert walk.state.answers["name"] == "ANNA"


def test_a_step_or_a_button_is_there_only_if_its_value_is(texts: Texts) -> None:
    dialog = form(
        {"id": "text", "type": "text", "text": "Tekst?"},
        {"id": "audience", "text": "Voor wie?", "if": "steunpunt", "next": "confirm",
         "options": [{"value": "all", "label": "Iedereen"},
                     {"value": "pick", "label": "Kies", "if": "several"}]},
        {"id": "confirm", "text": "Versturen?", "options": [{"value": "ok", "label": "Ja"}]},
        values=["steunpunt", "several"],
    )  # fmt: skip
    location = Walk(dialog, texts, given={"steunpunt": "", "several": ""})
    assert "Versturen?" in location.says("Hallo")  # no audience step for a location
    steunpunt = Walk(dialog, texts, given={"steunpunt": "1", "several": ""})
    assert "Voor wie?" in steunpunt.says("Hallo")
    assert labels(steunpunt)[:1] == ["Iedereen"] and "Kies" not in labels(steunpunt)
    assert "Die knop hoort bij een eerdere vraag" in steunpunt.taps("1")  # a hidden button
    assert steunpunt.state.step == "audience"


def test_a_show_hook_puts_a_preview_before_the_question(texts: Texts) -> None:
    dialog = form(
        {"id": "text", "type": "text", "text": "Tekst?"},
        {"id": "confirm", "text": "Versturen?", "show": "demo.preview",
         "options": [{"value": "ok", "label": "Ja"}]},
    )  # fmt: skip
    hooks = Hooks(
        shows={"demo.preview": lambda state: [OutMessage(f"Zo: {state.answers['text']}")]}
    )
    walk = Walk(dialog, texts, hooks)
    walk.says("Koffie")
    assert walk.outcome is not None
    preview, confirm = walk.outcome.reply.messages
    assert preview.text == "Zo: Koffie" and "Versturen?" in confirm.text
    assert question(dialog, walk.state, texts, hooks)[0].text == "Zo: Koffie"


def test_a_choices_step_picks_several_and_wants_at_least_one(texts: Texts) -> None:
    dialog = form(
        {"id": "places", "type": "choices", "options_from": "areas", "button": "Klaar",
         "error": "Kies eerst minstens één gemeente.", "text": "Welke gemeenten?"},
        values=["areas"],
    )  # fmt: skip
    areas = '[["GM0865", "Vught (2)"], ["GM0757", "Boxtel (1)"]]'
    walk = Walk(dialog, texts, given={"areas": areas})
    walk.taps("done")
    assert walk.outcome is not None and walk.outcome.reply.toast == (
        "Kies eerst minstens één gemeente."
    )
    walk.taps("0")
    assert walk.outcome is not None and walk.outcome.reply.pressed_label == "Vught (2)"
    assert labels(walk)[:3] == ["✓ Vught (2)", "Boxtel (1)", "Klaar"]
    walk.taps("1")
    walk.taps("0")  # off again
    walk.taps("done")
    assert walk.outcome is not None and walk.outcome.completed
    assert walk.state.answers["places"] == "GM0757"


def test_a_text_step_keeps_formatting_and_takes_one_photo_or_document(texts: Texts) -> None:
    dialog = form(
        {"id": "text", "type": "text", "text": "Je bericht?", "formatted": True, "attach": True,
         "max": 50, "next": "confirm"},
        {"id": "confirm", "text": "Goed?", "options": [{"value": "edit", "label": "Anders",
                                                       "next": "text"}]},
    )  # fmt: skip
    walk = Walk(dialog, texts)
    assert "Typ nu de tekst die erbij hoort" in walk.send(Event("unsupported", "photo",
                                                                file_id="PHOTO-1"))  # fmt: skip
    assert walk.state.step == "text" and walk.state.answers["text_file"] == "photo:PHOTO-1"
    walk.send(Event("text", "Koffie om tien", html="Koffie om <b>tien</b>"))
    assert walk.state.answers["text"] == "Koffie om <b>tien</b>"
    walk.taps("0")  # back to the text
    assert "Het kan in 50 tekens" in walk.send(Event("unsupported", "document", args="x" * 51,
                                                     file_id="DOC-1"))  # fmt: skip
    assert walk.state.answers["text_file"] == "photo:PHOTO-1"  # nothing changed
    walk.send(Event("unsupported", "document", file_id="DOC-1"))  # no caption: the text stays
    assert walk.state.answers["text"] == "Koffie om <b>tien</b>"
    assert walk.state.answers["text_file"] == "document:DOC-1"
    walk.taps("0")
    walk.says("1 < 2")  # no formatting: escaped
    assert walk.state.answers["text"] == "1 &lt; 2"
    assert "Stuur" not in walk.send(Event("unsupported", "sticker"))  # asked again, kindly


def test_stopping_a_dialog_that_prepares_work_forgets_it_with_its_stop_action(
    texts: Texts,
) -> None:
    dialog = form(
        {"id": "title", "type": "text", "text": "Titel?", "optional": "Geen titel"},
        on_stop="questionnaire.result",
        messages={"button_pause": "Stoppen"},
    )
    walk = Walk(dialog, texts)
    first = render_question(dialog, walk.state, texts)
    assert [plain(b.label) for row in first.buttons for b in row] == ["Geen titel", "Stoppen"]
    walk.taps("stop")
    assert walk.outcome is not None and walk.outcome.completed
    assert walk.outcome.action == "questionnaire.result"
    assert walk.outcome.reply.pressed_label == "Stoppen"
