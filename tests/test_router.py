"""One way in: what a caregiver types reaches the one step they are in, or nothing; distress comes
first and alone; global words work everywhere; features cannot claim the same thing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app.dispatch import BotCore
from bot.app.registry import Registry, RegistryConflict
from bot.app.router import DEFAULT_STEP_TTL
from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Answer, OpenStep
from bot.features.checkin.models import CheckinAnswer
from bot.transport.terminal import plain
from tests.conversation import CoreUser, staff_user
from tests.test_broadcast import (
    VUGHT_BOXTEL,
    compose,
    directory,  # noqa: F401 (a fixture)
    vught_boxtel_area,
)
from tests.test_checkin import local, tick, with_checkins
from tests.test_flows import onboarded
from tests.test_scheduling import RecordingSender

NOT_UNDERSTOOD = "Dat begrijp ik niet helemaal"


async def answers(core: BotCore) -> list[str]:
    async with core.db.transaction() as session:
        return list((await session.scalars(select(Answer.value))).all())


@pytest.mark.usefixtures("directory")
async def test_thanks_typed_after_a_steunpunt_search_is_not_searched_for(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("5211 ab")  # found: the search is over
    await user.says("dank je wel")
    assert "niet vinden" not in user.last_text
    assert NOT_UNDERSTOOD in user.last_text


@pytest.mark.usefixtures("directory")
async def test_distress_during_a_steunpunt_search_is_answered_alone(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/steunpunt")
    await user.says("ik kan niet meer")
    (crisis,) = user.last.messages
    assert "0800-0113" in plain(crisis.text) and "niet vinden" not in plain(crisis.text)
    await user.says("5211 ab")  # the search waited where it was
    assert "steunpunt" in user.last_text.lower() and "niet vinden" not in user.last_text


async def test_the_crisis_answer_is_never_followed_by_a_fallback(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("ik kan niet meer")
    (crisis,) = user.last.messages
    assert "0800-0113" in plain(crisis.text)
    assert NOT_UNDERSTOOD not in user.last_text


@pytest.mark.usefixtures("directory")
async def test_an_old_notice_draft_does_not_capture_a_selfcheck_answer(core: BotCore) -> None:
    await vught_boxtel_area(core)
    staff = await staff_user(core, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    await compose(staff)  # a draft waits for its audience
    await staff.says("/bericht")  # back at the text: the draft holds the open step again
    await staff.says("/menu")
    await staff.says("/zelftest")
    await staff.says("Soms")
    assert "Naar wie gaat het bericht?" not in staff.last_text
    assert "Vraag 2 van 10" in staff.last_text
    assert len(await answers(core)) == 1  # the answer was stored


@pytest.mark.usefixtures("directory")
async def test_a_place_typed_after_leaving_a_checkin_for_the_finder_is_searched(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, RecordingSender(), user)
    await user.taps("8")  # the check-in invites a note
    await user.says("/steunpunt")
    await user.says("Vlijmen")
    assert "Vlijmen" in user.last_text or "Heusden" in user.last_text
    async with core.db.transaction() as session:
        notes = list((await session.scalars(select(CheckinAnswer.note))).all())
        municipality = await session.scalar(select(CaregiverSteunpunt.municipality_code))
        assert notes == [None] and municipality is not None


async def test_global_words_work_without_a_slash_in_any_case(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("Menu")
    assert "Waar kan ik je mee helpen?" in user.last_text
    await user.says("HULP!")
    assert "0800-0113" in user.last_text
    await user.says("/zelftest")
    await user.taps("Nee")
    await user.says("terug")  # back to question 1
    assert "Vraag 1 van 10" in user.last_text
    await user.says("stop")
    assert "Vraag" not in user.last.messages[-1].text
    await user.says("Soms")  # the self-check is paused: typing is no answer to it
    assert NOT_UNDERSTOOD in user.last_text
    await user.says("/zelftest")  # and resumes where it was
    assert "Vraag 1 van 10" in user.last_text


async def test_help_keeps_the_selfcheck_waiting(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    await user.says("hulp")
    await user.says("Soms")
    assert "Vraag 2 van 10" in user.last_text


def test_two_features_claiming_one_command_stop_the_start() -> None:
    registry = Registry()

    async def handler(ctx: object, event: object) -> None:
        return None

    registry.feature = "checkin"
    registry.commands["resultaten"] = handler  # type: ignore[assignment]
    registry.feature = "questionnaire"
    with pytest.raises(RegistryConflict, match="'resultaten' is claimed by 'checkin' and by"):
        registry.commands.update({"resultaten": handler})


def test_two_menu_entries_in_one_slot_stop_the_start() -> None:
    from bot.app.registry import MenuEntry

    registry = Registry()

    async def handler(ctx: object, event: object) -> None:
        return None

    registry.commands.update({"a": handler, "b": handler})  # type: ignore[dict-item]
    registry.menu += [MenuEntry("a", None, 10), MenuEntry("b", None, 10)]
    with pytest.raises(RegistryConflict, match="slot 10 is taken by /a and /b"):
        registry.check()


def test_the_bot_registers_without_conflicts() -> None:
    from bot.features import load

    _, registry = load()
    assert registry.commands.owner("resultaten") == "checkin"
    assert set(registry.inputs) >= {"dialog", "steunpunt.search", "checkin.note"}


async def test_terminal_user_sees_menu_for_unknown_text(core: BotCore) -> None:
    user = CoreUser(core, 4242)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("blabla")
    assert NOT_UNDERSTOOD in user.last_text


async def test_a_press_in_a_running_selfcheck_leaves_its_open_step_and_an_hour_later_renews_it(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    step_writes: list[str] = []

    def record(_c: Any, _cu: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("INSERT INTO open_step"):
            step_writes.append(statement)

    event.listen(core.db.engine.sync_engine, "before_cursor_execute", record)
    await user.taps("Soms")
    assert step_writes == []  # the self-check holds the open step already
    clock.advance(timedelta(hours=2))
    await user.taps("Soms")
    assert len(step_writes) == 1  # renewed: it stays open 24 hours after the last press
    async with core.db.transaction() as session:
        step = await session.scalar(select(OpenStep))
    assert step is not None and step.expires_at == clock.now() + DEFAULT_STEP_TTL
    await user.says("soms")  # typed, it still answers the question
    assert "Vraag 4 van 10" in user.last_text
