"""The self-check "alleen bekijken" for who has not consented: the whole self-check and its result,
and nothing of it stored: no answers, no result, no run, no place once it is over."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Answer, DialogRun, DialogState, Result
from bot.features.privacy.retention import sweep
from bot.transport.terminal import plain
from tests.conversation import CoreUser


async def count(core: BotCore, model: type) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def declined(core: BotCore, user_id: int) -> CoreUser:
    user = CoreUser(core, user_id)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    return user


async def test_without_consent_the_self_check_can_be_done_and_nothing_is_kept(
    core: BotCore,
) -> None:
    user = await declined(core, 1601)
    await user.says("/zelftest")
    assert "Alleen bekijken, niets bewaren" in [b.label for b in user.buttons]
    await user.taps("Alleen bekijken, niets bewaren")
    assert "ik bewaar je antwoorden en je uitslag niet" in user.last.messages[0].text
    for answer in ["Soms"] * 8 + ["Een beetje", "Het wordt te zwaar"]:
        await user.taps(answer)
    result = "\n".join(plain(m.text) for m in user.last.messages)
    assert result.startswith("Je zelftest is klaar.") and "Uitslag:" in result
    assert "Ik heb niets bewaard" in result and "/resultaten" not in result
    assert "Toestemming geven" in [b.label for b in user.buttons]
    for model in (Answer, Result, DialogRun, DialogState):
        assert await count(core, model) == 0, model.__tablename__


async def test_stopping_a_view_only_self_check_keeps_not_even_the_place(core: BotCore) -> None:
    user = await declined(core, 1602)
    await user.says("/zelftest")
    await user.taps("Alleen bekijken, niets bewaren")
    await user.taps("Soms")
    assert await count(core, DialogState) == 1 and await count(core, Answer) == 0
    await user.says("stop")
    assert "Ik heb niets bewaard" in user.last.messages[0].text
    assert await count(core, DialogState) == 0


async def test_a_view_only_self_check_left_halfway_is_gone_after_a_day(
    core: BotCore, clock: FakeClock
) -> None:
    user = await declined(core, 1603)
    await user.says("/zelftest")
    await user.taps("Alleen bekijken, niets bewaren")
    await user.taps("Soms")
    await user.says("/menu")
    clock.advance(timedelta(hours=2))
    await sweep(core)
    assert await count(core, DialogState) == 1  # still there to go on with today
    clock.advance(timedelta(days=1))
    await sweep(core)
    assert await count(core, DialogState) == 0


async def test_consent_given_after_looking_starts_a_self_check_that_is_kept(
    core: BotCore,
) -> None:
    user = await declined(core, 1604)
    await user.says("/zelftest")
    await user.taps("Alleen bekijken, niets bewaren")
    await user.taps("Soms")
    await user.says("/privacy")
    await user.taps("Toestemming geven")
    await user.says("/zelftest")
    assert "verder waar je was" not in user.last.messages[0].text  # a new, stored pass
    await user.taps("Soms")
    assert await count(core, Answer) == 1 and await count(core, DialogRun) == 1
