"""The one date and time reader: what staff and caregivers type, in Dutch and English, read in
Amsterdam time; and every example a prompt gives parses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.engine.flow import Hooks, start
from bot.engine.flow import _valid as typed_answer
from bot.engine.spec import Dialog, Step
from bot.text.content import Texts
from bot.text.dates import WhenError, parse_date, parse_datetime, parse_time
from bot.text.fields import FieldError
from bot.text.i18n import get_translator
from tests.conftest import features

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # Monday 23 November 2026, 19:00 in Amsterdam


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12-12 19:30", local(2026, 12, 12, 19, 30)),
        ("12 december 19:30", local(2026, 12, 12, 19, 30)),
        ("za 12/12 19.30", local(2026, 12, 12, 19, 30)),
        ("vrijdag 11 december 2026 om 19:30", local(2026, 12, 11, 19, 30)),
        ("12.12.26 19u30", local(2026, 12, 12, 19, 30)),
        ("morgen 19 uur", local(2026, 11, 24, 19)),
        ("zaterdag 14:00", local(2026, 11, 28, 14)),
        ("1-1 19:30", local(2027, 1, 1, 19, 30)),  # no year: the next 1 January
        ("29 maart 2027 19:30", local(2027, 3, 29, 19, 30)),  # summer time
        ("25-11 14:00", local(2026, 11, 25, 14)),
        ("vrijdag 9.30", local(2026, 11, 27, 9, 30)),
        ("10 november om 11 uur", local(2027, 11, 10, 11)),  # passed this year: next year
        ("24-12 10:00", local(2026, 12, 24, 10)),
        ("ma 30/11 10:00", local(2026, 11, 30, 10)),
        ("friday 10:00", local(2026, 11, 27, 10)),
        ("tomorrow 9am", local(2026, 11, 24, 9)),
        ("Friday 27 November at 7.30pm", local(2026, 11, 27, 19, 30)),
        ("December 12 19:30", local(2026, 12, 12, 19, 30)),
        ("maandag 20:00", local(2026, 11, 23, 20)),  # today, still to come
        ("maandag 18:00", local(2026, 11, 30, 18)),  # today's has gone: next week
    ],
)
def test_days_and_times_are_read_the_dutch_and_english_ways(typed: str, expected: datetime) -> None:
    assert parse_datetime(typed, NOW) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("23-11 10:00", "past"),
        ("19:00", "past"),
        ("vr 12/12 19:30", "weekday_mismatch"),  # 12 December 2026 is a Saturday
        ("31-02 19:30", "no_such_date"),
        ("12-12", "no_time"),
        ("morgen", "no_time"),
        ("volgende week", "not_understood"),
        ("ooit 10:00", "not_understood"),
        ("12-12 25:00", "not_understood"),
        ("13pm", "not_understood"),
        ("", "not_understood"),
    ],
)
def test_what_cannot_be_a_moment_says_why(typed: str, reason: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_datetime(typed, NOW)
    assert caught.value.reason == reason


def test_a_moment_too_far_ahead_is_refused_when_asked() -> None:
    with pytest.raises(WhenError) as caught:
        parse_datetime("12-12-2030 19:30", NOW, max_ahead=timedelta(days=366))
    assert caught.value.reason == "too_far"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("10:30", time(10, 30)), ("10.30", time(10, 30)), ("19 uur", time(19)), ("om 7 uur", time(7)),
     ("9am", time(9)), ("12pm", time(12)), ("12am", time(0)), ("7.45 pm", time(19, 45))],
)  # fmt: skip
def test_times_alone(typed: str, expected: time) -> None:
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["25:00", "10:61", "half acht", "morgen"])
def test_what_is_not_a_time(typed: str) -> None:
    with pytest.raises(WhenError):
        parse_time(typed)


def test_days_alone() -> None:
    today = date(2026, 11, 23)  # a Monday
    assert parse_date("12 december", today) == date(2026, 12, 12)
    assert parse_date("maandag", today) == today
    assert parse_date("maandag", today, weekday_today=False) == date(2026, 11, 30)
    assert parse_date("tomorrow", today) == date(2026, 11, 24)
    assert parse_date("1-3", today) == date(2027, 3, 1)
    with pytest.raises(WhenError) as caught:
        parse_date("10:30", today)
    assert caught.value.reason == "no_date"


# Examples in prompts are in bold (<b>12-12 19:30</b>) or between quotes.
EXAMPLE = re.compile(r"<b>([^<]{3,40})</b>|[\"“”]([^\"“”<]{3,40})[\"“”]")
TYPED = ("datetime", "date", "time", "number", "text")
# "25-11 14:00", "12 december om 19:30", "9:30", "19.30": the day, month and time an example says.
SAYS_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?!\d)")
SAYS_DAY = re.compile(r"(?<![\d:.])(\d{1,2})\s*[-/]\s*(\d{1,2})(?![\d:.])")


def prompts_with_examples() -> list[tuple[Dialog, Step, str, str]]:
    """(dialog, step, where, example) for every example that a prompt of a typed step (its
    question, or what it says when the answer does not fit) gives, in both languages."""
    content, _ = features()
    found = []
    for dialog in content.dialogs.values():
        for step in dialog.steps.values():
            if step.type not in TYPED:
                continue
            for locale in ("nl", "en"):
                texts = Texts(content, get_translator(locale))
                # A button named in the prompt ("Tik op "Sla over"") is no example answer.
                buttons = {texts.get(k) for k in ("button_skip", "button_back", "button_pause")}
                buttons |= {texts.tr(o.label) for o in step.options} | {texts.tr(step.skip)}
                for source in (step.text, step.error, *step.errors.values()):
                    text = texts.tr(source) if source else ""
                    found += [
                        (dialog, step, f"{locale}:{dialog.id}.{step.id}", a or b)
                        for a, b in EXAMPLE.findall(text)
                        # a value filled in or a button, not an example
                        if "{" not in (a or b) and (a or b) not in buttons
                    ]
    return found


def said(step: Step, value: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """((day, month), (hour, minute)) of an answer as the engine stored it, in Dutch time."""
    if step.type == "datetime":
        moment = datetime.fromisoformat(value).astimezone(AMS)
        return (moment.day, moment.month), (moment.hour, moment.minute)
    if step.type == "date":
        day = date.fromisoformat(value)
        return (day.day, day.month), None
    if step.type == "time":
        hour, minute = value.split(":")
        return None, (int(hour), int(minute))
    return None, None


def test_every_example_a_prompt_gives_is_understood_as_it_says() -> None:
    """Each example is a valid answer of its own step (its bounds and checks included), read
    as the example says: "25-11 14:00" is 25 November at 14:00."""
    _, registry = features()
    examples = prompts_with_examples()
    # evenings (planning and editing), notices, the check-in set-up and the steunpunt card
    dialogs = {dialog.id for dialog, _, _, _ in examples}
    assert {"evening_new", "evening_edit", "notice", "checkin_setup", "steunpunt_card"} <= dialogs
    for dialog, step, where, example in examples:
        checks = {step.check: registry.checks[step.check](None)} if "." in step.check else {}
        state = start(dialog, {"source": "Steunpunt Voorbeeld"}, at=step.id)
        try:
            value = typed_answer(step, example, NOW, state, Hooks(checks=checks))
        except FieldError as error:
            raise AssertionError(f"{where}: {example!r} is refused ({error.key})") from None
        day, at = said(step, value)
        if at is not None and (clock := SAYS_TIME.search(example)):
            assert at == (int(clock[1]), int(clock[2])), f"{where}: {example!r} read as {value}"
        if day is not None and (written := SAYS_DAY.search(example)):
            assert day == (int(written[1]), int(written[2])), (
                f"{where}: {example!r} read as {value}"
            )
