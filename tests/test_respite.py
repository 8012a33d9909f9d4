"""Respite advice: the decision tree and the catalogue over every combination of answers, the
catalogue's validation, and the dialog on the core (back, restart, safety, storage, follow-up)."""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Caregiver
from bot.engine.spec import DIALOGS_DIR, DialogError
from bot.features import load
from bot.features.respite.handlers import (
    DIALOG_ID,
    FOLLOWUP_KIND,
    Catalogue,
    advise,
    load_catalogue,
    local_providers,
    next_steps,
)
from bot.features.respite.models import RespiteAdvice
from bot.jobs.scheduled import ScheduledMessage
from bot.text.dates import local_date
from tests.conftest import features
from tests.conversation import CoreUser
from tests.test_checkin import tick
from tests.test_scheduling import RecordingSender

CONTENT, _ = features()
DIALOG = CONTENT.dialogs[DIALOG_ID]
CATALOGUE = load_catalogue(DIALOGS_DIR, DIALOG)
QUESTIONS = [s for s in DIALOG.questions if s != "safety"]


def all_answers() -> list[dict[str, str]]:
    """Every combination of answers to the tree after the safety question."""
    values = [[o.value for o in DIALOG.steps[q].options] for q in QUESTIONS]
    return [
        {"safety": "ok", **dict(zip(QUESTIONS, combo, strict=True))}
        for combo in itertools.product(*values)
    ]


ALL = all_answers()


# ---------------------------------------------------------------- the tree and the catalogue


def test_every_combination_is_enumerated() -> None:
    assert len(ALL) == 3 * 6 * 3 * 4 * 6 * 2


def test_the_tree_asks_every_question_in_turn_and_ends_in_the_advice() -> None:
    step, seen = DIALOG.steps["safety"].options[0], []
    current = DIALOG.next_step("safety", step)
    while current is not None and DIALOG.steps[current].type == "choice":
        seen.append(current)
        current = DIALOG.next_step(current, None)
    assert seen == QUESTIONS
    assert DIALOG.steps[current or ""].action == "respite.advice"


def test_the_safety_no_answers_skip_the_questionnaire_and_the_worst_is_urgent() -> None:
    options = {o.value: o for o in DIALOG.steps["safety"].options}
    assert options["soon"].next == options["cannot"].next == "now"
    assert DIALOG.steps["now"].action == "respite.now"
    assert options["cannot"].urgent and not options["soon"].urgent


def test_every_combination_gives_an_option_with_a_funding_route_and_a_next_step() -> None:
    for answers in ALL:
        advised = advise(answers, CATALOGUE)
        assert advised, f"no respite option for {answers}"
        first = "next_care_home" if answers["home"] == "care_home" else "next_steunpunt"
        assert next_steps(answers)[0] == first
        for item in advised:
            assert item.routes, f"{item.option.id} advised without a way to pay for {answers}"


def test_the_invariants_of_the_advice_hold_for_every_combination() -> None:
    """Checked against CONTENT.md: a human to ask, care homes, the palliative phase."""
    for answers in ALL:
        advised = advise(answers, CATALOGUE)
        ids = {a.option.id for a in advised}
        routes = {r for a in advised for r in a.routes}
        steps, where = next_steps(answers), str(answers)
        assert advised and steps and all(a.option.who for a in advised), where
        if answers["home"] == "care_home":
            assert "wlz_plan" not in routes and "next_wlz_provider" not in steps, where
            assert "own_network" not in ids and "care_home_support" in ids, where
            assert not {"home_sitter", "day_care", "short_stay", "short_admission"} & ids, where
        if answers["condition"] == "palliative":
            assert "vptz" in ids and "basic_insurance" in routes, where
        if answers["brk"] == "holiday":
            assert "child_programmes" not in ids, where  # the child would go without you
        if answers["brk"] == "own_holiday" and answers["home"] != "care_home":
            assert {"short_stay"} <= ids or "child_programmes" in ids, where


def test_no_option_contradicts_its_funding_route() -> None:
    """Checked against the rules of CONTENT.md, not against the data's own conditions."""
    for answers in ALL:
        person, home, wlz = answers["person"], answers["home"], answers["wlz"]
        for item in advise(answers, CATALOGUE):
            routes, where = set(item.routes), f"{item.option.id} for {answers}"
            if wlz != "provider" or home == "care_home":
                assert "wlz_plan" not in routes, where
            if wlz != "pgb":
                assert "wlz_pgb" not in routes, where
            if "wmo" in routes:
                assert person != "child" and home != "care_home", where
                assert wlz in ("no", "unknown"), where
            if "general" in routes:
                assert person != "child" and home != "care_home", where
            if "jeugdwet" in routes:
                assert person == "child", where
            if answers["volunteers"] == "no":
                assert not item.option.volunteer and "volunteers" not in routes, where


def test_every_option_and_every_route_is_reachable() -> None:
    options, routes = set(), set()
    for answers in ALL:
        for item in advise(answers, CATALOGUE):
            options.add(item.option.id)
            routes.update(item.routes)
    assert options == {o.id for o in CATALOGUE.options}
    assert routes == set(CATALOGUE.routes)


def test_forms_follow_the_situation() -> None:
    base = {"safety": "ok", "condition": "other", "wlz": "no", "volunteers": "yes"}
    child = {**base, "person": "child", "condition": "disability", "home": "with_me"}
    ids = {a.option.id for a in advise({**child, "brk": "stay"}, CATALOGUE)}
    assert {"child_programmes", "short_stay"} <= ids and "short_admission" not in ids
    palliative = {**base, "person": "older", "condition": "palliative", "home": "own_home"}
    ids = {a.option.id for a in advise({**palliative, "brk": "stay"}, CATALOGUE)}
    assert {"vptz", "hospice", "short_stay"} <= ids
    care_home = {**base, "person": "older", "home": "care_home", "brk": "holiday"}
    ids = [a.option.id for a in advise(care_home, CATALOGUE)]
    assert ids == ["holiday_care", "care_home_support"]


def test_next_steps_name_who_to_ask() -> None:
    adult = {"person": "adult", "home": "own_home"}
    assert next_steps({**adult, "wlz": "no"}) == ["next_steunpunt", "next_wmo"]
    assert next_steps({**adult, "wlz": "pgb"}) == ["next_steunpunt", "next_wlz_pgb"]
    assert next_steps({**adult, "wlz": "unknown"}) == ["next_steunpunt", "next_wlz_unknown"]
    child = {"person": "child", "home": "with_me", "wlz": "no"}
    assert next_steps(child) == ["next_steunpunt", "next_jeugdwet"]
    assert next_steps({**adult, "home": "care_home", "wlz": "provider"}) == ["next_care_home"]


def test_example_providers_are_marked_and_matched_on_municipality_and_form() -> None:
    assert CATALOGUE.providers
    for provider in CATALOGUE.providers:
        assert provider.example and "(voorbeeld" not in provider.name
        assert all("example.org" in c for c in (provider.website, provider.email) if c)
    found = local_providers(CATALOGUE, "GM0796", ["short_stay", "own_network"])
    assert [p.key for p in found] == ["voorbeeld-logeerhuis-den-bosch"]
    assert local_providers(CATALOGUE, "GM0865", ["volunteer_home"]) == []
    assert local_providers(CATALOGUE, None, ["short_stay"]) == []


# ---------------------------------------------------------------- validation


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / "dialogs"
    shutil.copytree(DIALOGS_DIR, target)
    path = target / "data" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        ("respite_options.yaml", "brk: [hours, daypart]}", "brk: [hours, nap]}",
         "options[0].fits.brk: unknown answers ['nap']"),
        ("respite_options.yaml", "funding: [volunteers]", "funding: [lottery]",
         "options[0].funding: unknown routes ['lottery']"),
        ("respite_options.yaml", "when: {wlz: [provider], home", "when: {income: [low], home",
         "routes.wlz_plan.when.income: not a question of respite.yaml"),
        ("respite_options.yaml", "  insurance:\n", "  lottery:\n",
         "routes.lottery: no message 'route_lottery' in respite.yaml"),
        ("respite_providers.example.yaml", "forms: [day_care]", "forms: [spa]",
         "providers[2].forms: expected option ids"),
        ("respite_providers.example.yaml", "[GM0865, GM0796]", "[Vught]",
         "providers[2].municipalities: expected CBS codes"),
        ("respite_providers.example.yaml", "https://example.org/voorbeeldhof",
         "http://example.org/voorbeeldhof", "providers[2].website: expected an https://"),
    ],
)  # fmt: skip
def test_a_broken_catalogue_stops_the_start_naming_the_problem(
    tmp_path: Path, name: str, old: str, new: str, problem: str
) -> None:
    directory = broken_copy(tmp_path, name, old, new)
    with pytest.raises(DialogError, match="respite") as error:
        load(directory)
    assert problem in str(error.value)


def test_a_region_adds_its_providers_in_a_file_of_its_own(tmp_path: Path) -> None:
    directory = tmp_path / "dialogs"
    shutil.copytree(DIALOGS_DIR, directory)
    (directory / "data" / "respite_providers.yaml").write_text(
        "providers:\n  - key: regio-oppas\n    name: Oppas Regio\n"
        "    email: oppas@example.org\n    forms: [home_sitter]\n    municipalities: [GM0757]\n",
        encoding="utf-8",
    )
    catalogue: Catalogue = load_catalogue(directory, DIALOG)
    found = local_providers(catalogue, "GM0757", ["home_sitter"])
    assert [(p.name, p.example) for p in found] == [("Oppas Regio", False)]


# ---------------------------------------------------------------- the dialog on the core


async def onboarded(core: BotCore, user_id: int = 1000) -> CoreUser:
    user = CoreUser(core, user_id)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    return user


async def advice_rows(core: BotCore) -> list[RespiteAdvice]:
    async with core.db.transaction() as session:
        return list(await session.scalars(select(RespiteAdvice).order_by(RespiteAdvice.id)))


async def count(core: BotCore, model: type) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def all_texts(user: CoreUser) -> str:
    return "\n".join(m.text for m in user.last.messages)


async def test_back_and_a_changed_answer_give_advice_for_the_new_answer(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/respijt")
    for label in ["Ja, dat lukt wel", "Een volwassene", "Psychische problemen"]:
        await user.taps(label)
    assert "Waar woont die persoon?" in user.last_text
    await user.taps("Vorige")
    assert "Wat past het best bij die persoon?" in user.last_text
    await user.taps("Laatste levensfase (palliatief)")
    for label in ["Bij mij in huis", "Nee", "Een nacht, weekend of week", "Ja, dat is goed"]:
        await user.taps(label)
    texts = all_texts(user)
    assert "Vrijwilligers in de laatste levensfase (VPTZ)" in texts
    assert "Gespecialiseerde respijtzorg" not in texts
    (advice,) = await advice_rows(core)
    assert advice.answers["condition"] == "palliative"
    assert "vptz" in advice.option_ids and "specialised" not in advice.option_ids


async def test_stopping_halfway_resumes_at_the_same_question(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await user.says("/respijt")
    await user.taps("Ja, dat lukt wel")
    await user.taps("Een oudere")
    await user.taps("Stop")
    assert "Typ /respijt" in user.last_text
    clock.advance(timedelta(days=2))
    await user.says("/respijt")
    assert "We gaan verder waar je was gebleven." in user.last.messages[0].text
    assert "Wat past het best bij die persoon?" in user.last_text


async def test_who_cannot_go_on_gets_people_not_a_questionnaire(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/respijt")
    await user.taps("Nee, ik kan echt niet meer")
    texts = all_texts(user)
    assert "0800-0113" in texts and "Je huisarts" in texts and "crisisopvang" in texts
    assert "Zoek mijn steunpunt" in str(user.last.messages)
    assert "Voor wie zorg je?" not in texts
    (advice,) = await advice_rows(core)
    assert advice.answers == {"safety": "cannot"} and advice.option_ids == []


async def test_who_needs_someone_soon_gets_people_without_crisis_numbers(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/respijt")
    await user.taps("Nee, ik heb snel vervanging nodig")
    texts = all_texts(user)
    assert "Je huisarts" in texts and "steunpunt mantelzorg" in texts
    assert "eerstelijnsverblijf" in texts and "crisisopvang" in texts and "zorgkantoor" in texts
    assert "113" not in texts and "Voor wie zorg je?" not in texts


async def test_a_heavy_selfcheck_result_offers_respite(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    for _ in range(9):
        await user.taps("Ja, vaak" if "Ja, vaak" in [b.label for b in user.buttons] else "Nee")
    await user.taps("Het wordt te zwaar")
    assert "Uitslag: overbelast" in user.last_text
    await user.taps("Respijtzorg bekijken")
    assert "Eerst dit: lukt het je" in user.last_text


async def test_a_light_selfcheck_result_does_not_offer_respite(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    for _ in range(9):
        await user.taps("Nee" if "Nee" in [b.label for b in user.buttons] else "Ja, genoeg")
    await user.taps("Ja, dat lukt")
    assert "Uitslag: licht" in user.last_text
    assert "Respijtzorg bekijken" not in [b.label for b in user.buttons]


async def finish_advice(user: CoreUser) -> None:
    await user.says("/respijt")
    for label in ["Ja, dat lukt wel", "Een oudere", "Dementie", "In een eigen huis", "Nee",
                  "Vaste dagdelen", "Ja, dat is goed"]:  # fmt: skip
        await user.taps(label)


async def test_accepting_the_follow_up_schedules_it_in_two_weeks_once(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await finish_advice(user)
    await user.taps("Ja, vraag het me")
    assert "Ik vraag het je op" in user.last_text and "7 december 2026" in user.last_text
    async with core.db.transaction() as session:
        (row,) = list(await session.scalars(select(ScheduledMessage)))
    assert row.kind == FOLLOWUP_KIND and row.status == "pending"
    assert local_date(row.due_at).isoformat() == "2026-12-07"
    # A second accept (another advice later) replaces the pending question, never adds one.
    await finish_advice(user)
    await user.taps("Ja, vraag het me")
    assert await count(core, ScheduledMessage) == 1


async def test_withdrawing_consent_erases_advice_and_the_pending_follow_up(core: BotCore) -> None:
    user = await onboarded(core)
    await finish_advice(user)
    await user.taps("Ja, vraag het me")
    assert await count(core, RespiteAdvice) == 1
    await user.presses_data("o:privacy:withdraw")
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    assert await count(core, RespiteAdvice) == 0
    assert await count(core, ScheduledMessage) == 0
    async with core.db.transaction() as session:
        assert await session.scalar(select(Caregiver.consent_version)) is None


async def test_the_follow_up_answers_and_buttons_of_someone_else(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await finish_advice(user)
    await user.taps("Ja, vraag het me")
    (advice,) = await advice_rows(core)
    clock.advance(timedelta(days=14, hours=1))
    sender = RecordingSender()
    assert await tick(core, sender, user) == [
        "Een vraag van twee weken geleden.\nHet is één korte vraag.\n\n"
        "Is het gelukt om de zorg even over te dragen (respijtzorg)?"
    ]
    await user.taps("Nog niet")
    assert "respijtzorg regelen kost vaak tijd" in user.last.messages[0].text
    assert "Mogelijkheden opnieuw bekijken" in [b.label for b in user.buttons]
    await user.presses_data(f"rs:ans:{advice.id}:done")
    assert "Fijn dat het gelukt is!" in user.last_text
    assert [a.followup_answer for a in await advice_rows(core)] == ["done"]
    other = await onboarded(core, user_id=1001)
    await other.presses_data(f"rs:ans:{advice.id}:help")  # not theirs: answered as stale
    assert "Goed dat je het vraagt" not in other.last_text
    assert [a.followup_answer for a in await advice_rows(core)] == ["done"]


async def test_no_follow_up_after_the_advice_is_gone(core: BotCore, clock: FakeClock) -> None:
    user = await onboarded(core)
    await finish_advice(user)
    await user.taps("Ja, vraag het me")
    async with core.db.transaction() as session:
        for advice in await session.scalars(select(RespiteAdvice)):
            await session.delete(advice)
    clock.advance(timedelta(days=15))
    assert await tick(core, RecordingSender(), user) == []
