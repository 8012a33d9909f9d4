"""Staff roles: nobody is staff without an invitation; invitations are one-time and expire;
staff commands are invisible to everyone else; the operator lists and revokes on the command line.
"""

from __future__ import annotations

import argparse
import io
from datetime import timedelta

import pytest

from bot.app.dispatch import BotCore
from bot.cli.operator import add_parsers, run
from bot.clock import FakeClock
from bot.features.steunpunt.directory import import_example_if_empty
from tests.conversation import CoreUser, invitation, onboarded, staff_user

STEUNPUNT = "voorbeeld-den-bosch"


@pytest.fixture
async def directory(core: BotCore) -> BotCore:
    await import_example_if_empty(core.db)
    return core


async def operator(core: BotCore, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="mode", required=True))
    out = io.StringIO()

    async def username() -> str:
        return "mantelzorg_test_bot"

    code = await run(core.db, core.clock, parser.parse_args(argv), username, out)
    return code, out.getvalue()


async def test_opening_an_invitation_link_makes_the_user_staff_of_that_steunpunt(
    directory: BotCore,
) -> None:
    user = await staff_user(directory, 501, steunpunt_key=STEUNPUNT, display_name="Anna")
    assert "Steunpunt" in user.last_text and "medewerker" in user.last_text
    await user.says("/medewerker")
    assert "Medewerkersmenu" in user.last_text
    await user.says("/menu")
    await user.taps("Medewerkersmenu")
    assert "Medewerkersmenu" in user.last_text


async def test_staff_commands_answer_an_uninvited_user_like_any_unknown_command(
    directory: BotCore,
) -> None:
    user = await onboarded(directory, 502)
    await user.says("/bestaatniet")
    unknown = user.last_text
    await user.says("/medewerker")
    assert user.last_text == unknown
    await user.presses_data("m:medewerker")
    assert user.last_text == unknown
    await user.says("/menu")
    assert all("Medewerkers" not in b.label for b in user.buttons)


async def test_an_invitation_works_once(directory: BotCore) -> None:
    payload = await invitation(directory, steunpunt_key=STEUNPUNT)
    first, second = await onboarded(directory, 503), await onboarded(directory, 504)
    await first.says(f"/start {payload}")
    await second.says(f"/start {payload}")
    assert "werkt niet (meer)" in second.last_text
    await second.says("/medewerker")
    assert "ken ik niet" in second.last_text
    await first.says("/medewerker")
    assert "Medewerkersmenu" in first.last_text


async def test_an_expired_invitation_does_not_work(directory: BotCore, clock: FakeClock) -> None:
    payload = await invitation(directory, steunpunt_key=STEUNPUNT)
    clock.advance(timedelta(days=7, seconds=1))
    user = await onboarded(directory, 505)
    await user.says(f"/start {payload}")
    assert "werkt niet (meer)" in user.last_text
    await user.says("/medewerker")
    assert "ken ik niet" in user.last_text


async def test_a_forged_invitation_and_an_unknown_payload_change_nothing(
    directory: BotCore,
) -> None:
    user = await onboarded(directory, 506)
    await user.says("/start staff_forged-token-of-thirty-two-chars")
    assert "werkt niet (meer)" in user.last_text
    await user.says("/start something_else")
    assert "Fijn dat je er weer bent" in user.last_text


async def test_a_new_user_opening_an_invitation_becomes_staff_and_can_still_onboard(
    directory: BotCore,
) -> None:
    payload = await invitation(directory, steunpunt_key=STEUNPUNT)
    user = CoreUser(directory, 507)
    await user.says(f"/start {payload}")
    assert "medewerker" in user.last_text
    await user.says("/start")
    assert "Nederlands" in [b.label for b in user.buttons]


async def test_operator_lists_and_revokes_staff(directory: BotCore) -> None:
    await staff_user(directory, 508, steunpunt_key=STEUNPUNT, display_name="Bea Jansen")
    code, listing = await operator(directory, "staff", "list")
    assert code == 0 and "Bea Jansen" in listing and "(telegram 508)" in listing
    member_id = listing.split("\t", 1)[0]
    code, out = await operator(directory, "staff", "revoke", member_id)
    assert code == 0 and "revoked" in out
    code, out = await operator(directory, "staff", "revoke", member_id)
    assert code == 1 and "no active staff member" in out
    bea = CoreUser(directory, 508)
    await bea.says("/medewerker")
    assert "ken ik niet" in bea.last_text
    assert (await operator(directory, "staff", "list"))[1] == "no staff\n"
    assert "revoked" in (await operator(directory, "staff", "list", "--all"))[1]


async def test_operator_invite_prints_a_deep_link_that_works(directory: BotCore) -> None:
    code, out = await operator(directory, "staff", "invite", "--steunpunt", STEUNPUNT)
    assert code == 0
    link = next(line for line in out.splitlines() if line.startswith("https://t.me/"))
    assert link.startswith("https://t.me/mantelzorg_test_bot?start=staff_")
    payload = link.partition("?start=")[2]
    assert len(payload) <= 64 and payload.replace("_", "").replace("-", "").isalnum()
    user = await onboarded(directory, 509)
    await user.says(f"/start {payload}")
    assert "Welkom" in user.last_text


async def test_operator_errors_are_one_clear_line(directory: BotCore) -> None:
    code, out = await operator(directory, "staff", "invite", "--steunpunt", "bestaat-niet")
    assert code == 1 and out.startswith("error: no steunpunt with key 'bestaat-niet'")
    code, out = await operator(directory, "staff", "invite", "--location", "nergens")
    assert code == 1 and "no location" in out
    code, out = await operator(
        directory, "location", "add", "De Linde!", "--name", "x", "--address", "y",
        "--organisation", "z",
    )  # fmt: skip
    assert code == 1 and "lowercase letters" in out


async def test_staff_of_a_location(directory: BotCore) -> None:
    code, out = await operator(
        directory, "location", "add", "de-linde", "--name", "De Linde", "--address",
        "Voorbeeldstraat 1, Vught", "--organisation", "Voorbeeldzorg", "--example",
    )  # fmt: skip
    assert code == 0
    code, out = await operator(directory, "location", "add", "de-linde", "--name", "x",
                               "--address", "y", "--organisation", "z")  # fmt: skip
    assert code == 1 and "exists already" in out
    assert (
        "de-linde\tDe Linde (Voorbeeldzorg) (example)"
        in (await operator(directory, "location", "list"))[1]
    )
    user = await staff_user(directory, 510, location_key="de-linde")
    assert "De Linde (Voorbeeldzorg)" in user.last_text
