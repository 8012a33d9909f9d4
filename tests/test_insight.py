"""Area insight: the k = 10 rule with complementary suppression (unit tests of `protect`), the
tables of a steunpunt's area, and an attacker who narrows every filter (period, municipality,
band), views the area of every steunpunt and combines all shown numbers by the sums they must
satisfy, trying to learn the self-check band of the one caregiver in a small municipality."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from bot.app.dispatch import BotCore
from bot.db.models import DialogRun, Result
from bot.features.insight import area as insight
from bot.features.insight.tables import K, Key, Relation, Table, protect
from bot.features.respite.models import RespiteAdvice
from bot.features.steunpunt.directory import import_example_if_empty
from tests.test_broadcast import caregiver

VUGHT_BOXTEL, DEN_BOSCH = "voorbeeld-vught-boxtel", "voorbeeld-den-bosch"
VUGHT, BOXTEL, S_HERTOGENBOSCH = "GM0865", "GM0757", "GM0796"
OCTOBER = datetime(2026, 10, 14, 10, 0, tzinfo=UTC)
SEPTEMBER = datetime(2026, 9, 3, 10, 0, tzinfo=UTC)
BANDS = ("light", "moderate", "heavy", "overloaded")


@pytest.fixture
async def directory(core: BotCore) -> BotCore:
    await import_example_if_empty(core.db)
    return core


async def selfcheck(core: BotCore, caregiver_id: int, band: str, when: datetime) -> None:
    async with core.db.transaction() as session:
        run = DialogRun(caregiver_id=caregiver_id, dialog_id="selfcheck", dialog_version=1,
                        started_at=when, completed_at=when)  # fmt: skip
        session.add(run)
        await session.flush()
        session.add(
            Result(run_id=run.id, caregiver_id=caregiver_id, dialog_id="selfcheck", score=0,
                   max_score=20, band=band, flags={}, completed_at=when)
        )  # fmt: skip


async def people(core: BotCore, first_id: int, count: int, municipality: str) -> list[int]:
    return [await caregiver(core, first_id + i, municipality=municipality) for i in range(count)]


async def tables(core: BotCore, steunpunt: str, filters: insight.Filters) -> list[Table]:
    async with core.db.transaction() as session:
        area = await insight.steunpunt_area(session, steunpunt)
        assert area is not None
        return await insight.area_insight(
            session, core.texts_for("nl"), area, core.clock.now(), filters
        )


def shown(table: Table) -> dict[tuple[str, str], int | None]:
    return {(r.id, c): cell.count for r in table.rows for (c, _), cell in zip(table.columns,
            r.cells, strict=True)}  # fmt: skip


# ---------------------------------------------------------------- protect


def test_a_count_under_ten_is_hidden_and_so_is_a_second_one_in_its_sum() -> None:
    values = {"total": 25, "a": 12, "b": 10, "c": 3}
    hidden = protect(values, [("total", ["a", "b", "c"])])
    # c alone would be 25 - 12 - 10; with b hidden too, b + c = 13 says nothing about c.
    assert hidden == {"c", "b"}


def test_hidden_parts_of_a_shown_total_count_at_least_ten_together() -> None:
    values = {"total": 30, "a": 20, "b": 4, "c": 3, "d": 3}
    hidden = protect(values, [("total", ["a", "b", "c", "d"])])
    # b + c + d = 10 is enough; hiding only c and d (6) would say "at most 6 people".
    assert hidden == {"b", "c", "d"}
    assert sum(values[k] for k in hidden) >= K


def test_zero_is_hidden_too_so_a_group_is_never_seen_to_be_all_of_one_kind() -> None:
    values = {"total": 12, "light": 12, "heavy": 0}
    assert protect(values, [("total", ["light", "heavy"])]) == {"light", "heavy"}


def test_a_hidden_total_hides_a_part_when_the_parts_would_add_up_to_it() -> None:
    # The area total is hidden by another relation; its parts must not give it back.
    values = {"area": 21, "m1": 11, "m2": 10, "other": 3, "sum": 24}
    relations: list[Relation] = [("area", ["m1", "m2"]), ("sum", ["area", "other"])]
    hidden = protect(values, relations)
    assert "area" in hidden and {"m1", "m2"} & hidden


def test_nothing_is_hidden_when_every_count_is_ten_or_more() -> None:
    values = {"total": 33, "a": 11, "b": 10, "c": 12}
    assert protect(values, [("total", ["a", "b", "c"])]) == set()


# ---------------------------------------------------------------- the tables


async def test_the_one_caregiver_of_boxtel_is_hidden_and_cannot_be_worked_out(
    directory: BotCore,
) -> None:
    for caregiver_id in await people(directory, 8000, 12, VUGHT):
        await selfcheck(directory, caregiver_id, "light", OCTOBER)
    (lonely,) = await people(directory, 8100, 1, BOXTEL)
    await selfcheck(directory, lonely, "overloaded", OCTOBER)

    users, bands, *_ = await tables(directory, VUGHT_BOXTEL, insight.Filters())
    assert bands.columns[-1] == ("2026-10", "okt 2026")
    october = shown(bands)
    # 13 did the self-check in the area; no band is shown: 12 light and 1 overloaded would
    # tell the one overloaded person's band to whoever knows they live in Boxtel.
    assert october[("*", "2026-10")] == 13
    assert all(october[(band, "2026-10")] is None for band in BANDS)
    assert shown(users)[("*", "now")] == 13
    assert shown(users)[(BOXTEL, "now")] is None and shown(users)[(VUGHT, "now")] is None
    boxtel = insight.Filters(municipality=BOXTEL)
    _, bands_boxtel, *_ = await tables(directory, VUGHT_BOXTEL, boxtel)
    assert set(shown(bands_boxtel).values()) == {None}
    nl = directory.texts_for("nl")
    assert nl.get("insight_too_few") == "te weinig om te tonen"


async def test_ten_people_in_a_band_are_shown_and_the_rest_protected_together(
    directory: BotCore,
) -> None:
    for caregiver_id in await people(directory, 8200, 14, VUGHT):
        await selfcheck(directory, caregiver_id, "moderate", SEPTEMBER)
    for caregiver_id in await people(directory, 8250, 10, VUGHT):
        await selfcheck(directory, caregiver_id, "overloaded", SEPTEMBER)
    for caregiver_id in await people(directory, 8300, 11, BOXTEL):
        await selfcheck(directory, caregiver_id, "heavy", SEPTEMBER)
    for caregiver_id in await people(directory, 8400, 3, BOXTEL):
        await selfcheck(directory, caregiver_id, "light", SEPTEMBER)
    _, bands, *_ = await tables(directory, VUGHT_BOXTEL, insight.Filters())
    september = {band: n for (band, month), n in shown(bands).items() if month == "2026-09"}
    assert (september["moderate"], september["heavy"], september["*"]) == (14, 11, 38)
    # 3 light alone would be 38 - 14 - 11 - 10: the 10 overloaded are hidden with them.
    assert september["light"] is None and september["overloaded"] is None
    for municipality, total in ((VUGHT, 24), (BOXTEL, 14)):
        filters = insight.Filters(municipality=municipality, first_month="2026-09")
        _, mine, *_ = await tables(directory, VUGHT_BOXTEL, filters)
        cells = shown(mine)
        assert cells[("*", "2026-09")] == total
        # Each band of one municipality would be the area's minus the other's: all hidden.
        assert all(cells[(band, "2026-09")] is None for band in BANDS)
        assert [c for c, _ in mine.columns] == ["2026-09", "2026-10"]


async def test_the_respite_forms_table_counts_distinct_caregivers_per_quarter(
    directory: BotCore,
) -> None:
    ids = await people(directory, 8500, 11, VUGHT)
    async with directory.db.transaction() as session:
        for caregiver_id in ids:
            for _ in range(2):  # advised twice: counts once
                forms = ["day_care", "home_sitter"]
                session.add(RespiteAdvice(caregiver_id=caregiver_id, answers={},
                                          option_ids=forms, advised_at=SEPTEMBER))  # fmt: skip
        session.add(RespiteAdvice(caregiver_id=ids[0], answers={}, option_ids=["hospice"],
                                  advised_at=SEPTEMBER))  # fmt: skip
    _, _, respite, _ = await tables(directory, VUGHT_BOXTEL, insight.Filters())
    assert [label for _, label in respite.columns][-1] == "kwartaal 3 2026"
    cells = shown(respite)
    assert cells[("day_care", "2026-07")] == 11 and cells[("home_sitter", "2026-07")] == 11
    assert cells[("hospice", "2026-07")] is None
    assert [r.id for r in respite.rows][:2] == ["home_sitter", "day_care"]  # most advised first


async def test_only_completed_months_are_shown(directory: BotCore) -> None:
    for caregiver_id in await people(directory, 8600, 12, VUGHT):
        await selfcheck(directory, caregiver_id, "light", directory.clock.now())
    _, bands, *_ = await tables(directory, VUGHT_BOXTEL, insight.Filters())
    assert "2026-11" not in [c for c, _ in bands.columns] and len(bands.columns) == 12


async def test_requests_for_contact_per_week_count_distinct_caregivers(directory: BotCore) -> None:
    from bot.features.handover.models import HandoverRequest

    week = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)  # the week of Monday 9 November
    vught = await people(directory, 8800, 11, VUGHT)
    (lonely,) = await people(directory, 8900, 1, BOXTEL)
    async with directory.db.transaction() as session:
        for caregiver_id in [*vught, vught[0], lonely]:  # one of Vught asked twice: counts once
            session.add(
                HandoverRequest(
                    caregiver_id=caregiver_id,
                    steunpunt_key=VUGHT_BOXTEL,
                    status="sent",
                    shared={},
                    created_at=week,
                    sent_at=week,
                )
            )
        session.add(
            HandoverRequest(
                caregiver_id=vught[1],
                steunpunt_key=VUGHT_BOXTEL,
                status="draft",
                shared={},
                created_at=week,
            )
        )  # never sent
    *_, requests = await tables(directory, VUGHT_BOXTEL, insight.Filters())
    assert [c for c, _ in requests.columns][-2:] == ["2026-11-09", "2026-11-16"]
    assert dict(requests.columns)["2026-11-09"] == "week 46 (9 nov)"
    cells = shown(requests)
    assert cells[("*", "2026-11-09")] == 12
    assert cells[(VUGHT, "2026-11-09")] is None and cells[(BOXTEL, "2026-11-09")] is None
    assert cells[("*", "2026-11-16")] is None  # nobody: zero is too few too


# ---------------------------------------------------------------- the singling-out attempt


def bounds(
    known: Mapping[Key, int], relations: list[Relation], keys: set[Key]
) -> dict[Key, tuple[float, float]]:
    """What an attacker can deduce: the smallest and largest value of every cell given the shown
    ones and the sums (bounds propagation until nothing changes)."""
    inf = float("inf")
    span = {k: (float(known[k]), float(known[k])) if k in known else (0.0, inf) for k in keys}
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            lo_t, hi_t = span[total]
            lo_sum = sum(span[p][0] for p in parts)
            hi_sum = sum(span[p][1] for p in parts)
            new = {total: (max(lo_t, lo_sum), min(hi_t, hi_sum))}
            for p in parts:
                lo_p, hi_p = span[p]
                new[p] = (
                    max(lo_p, lo_t - (hi_sum - hi_p)),
                    min(hi_p, hi_t - (lo_sum - lo_p)),
                )
            for key, value in new.items():
                if value != span[key]:  # only ever narrower: max and min with the old
                    span[key] = value
                    changed = True
    return span


async def attack(
    core: BotCore, truth: Mapping[tuple[str, str], int], protected: bool = True
) -> set[str]:
    """Every band the lonely caregiver of Boxtel may have had in October, as far as everything
    shown to staff of every steunpunt, with every filter, tells. `truth` (the seeded counts)
    only gives the sums their shape, and the numbers a table without protection would show."""
    month = "2026-10"
    known: dict[Key, int] = {}
    async with core.db.transaction() as session:
        areas = await insight._areas(session)
        for steunpunt in (VUGHT_BOXTEL, DEN_BOSCH):
            area = await insight.steunpunt_area(session, steunpunt)
            assert area is not None
            for municipality in (None, *area.codes):
                for band in (None, *BANDS):
                    for first, last in ((None, None), (month, month), ("2026-09", month)):
                        filters = insight.Filters(municipality, first, last, band)
                        table = await insight.bands_table(
                            session, core.texts_for("nl"), area, core.clock.now(), filters
                        )
                        unit = municipality or insight.area_key(area.codes)
                        for (row, column), count in shown(table).items():
                            if column == month and count is not None:
                                known[(unit, row)] = count
        values, relations = insight.cube(truth, areas, list(BANDS), with_total=True)
    if not protected:  # what staff would see with primary suppression only
        known = {key: value for key, value in values.items() if value >= K}
    span = bounds(known, relations, set(values))
    # The attacker knows the caregiver lives in Boxtel and did one self-check in October.
    return {band for band in BANDS if span[(BOXTEL, band)][1] >= 1}


async def test_narrowing_filters_does_not_single_out_the_one_caregiver_of_boxtel(
    directory: BotCore,
) -> None:
    for caregiver_id in await people(directory, 8700, 14, VUGHT):
        await selfcheck(directory, caregiver_id, "light", OCTOBER)
    for caregiver_id in await people(directory, 8800, 10, VUGHT):
        await selfcheck(directory, caregiver_id, "moderate", OCTOBER)
    for caregiver_id in await people(directory, 8850, 10, VUGHT):
        await selfcheck(directory, caregiver_id, "overloaded", OCTOBER)
    for caregiver_id in await people(directory, 8900, 11, S_HERTOGENBOSCH):
        await selfcheck(directory, caregiver_id, "heavy", OCTOBER)
    (lonely,) = await people(directory, 8990, 1, BOXTEL)
    await selfcheck(directory, lonely, "heavy", OCTOBER)
    truth = {(VUGHT, "light"): 14, (VUGHT, "moderate"): 10, (VUGHT, "overloaded"): 10,
             (S_HERTOGENBOSCH, "heavy"): 11, (BOXTEL, "heavy"): 1}  # fmt: skip

    # Hiding only the counts under ten would give it away: Boxtel's one person is the area's
    # total minus Vught's, and every band but one adds up without them ...
    assert await attack(directory, truth, protected=False) == {"heavy"}
    # ... hiding enough others besides, every band stays possible as far as anything shown tells.
    assert len(await attack(directory, truth)) >= 2


# ---------------------------------------------------------------- /inzicht in the chat


async def test_staff_read_the_tables_in_the_chat_and_caregivers_cannot(directory: BotCore) -> None:
    from tests.conversation import CoreUser, staff_user

    for caregiver_id in await people(directory, 9000, 12, VUGHT):
        await selfcheck(directory, caregiver_id, "moderate", OCTOBER)
    (lonely,) = await people(directory, 9100, 1, BOXTEL)
    await selfcheck(directory, lonely, "heavy", OCTOBER)
    staff = await staff_user(directory, 660, steunpunt_key=VUGHT_BOXTEL)
    await staff.says("/inzicht")
    assert "Mantelzorgers die de bot gebruiken" in staff.last_text
    assert "• Totaal: 13" in staff.last_text
    assert "• Boxtel: te weinig om te tonen" in staff.last_text
    await staff.taps("Zelftest per maand")
    text = staff.last_text
    assert "okt 2026" in text and "• Deden de zelftest: 13" in text
    assert "• matig: te weinig om te tonen" in text  # 12 of 13: it would tell the 13th's band
    await staff.taps("Bekijk Boxtel")
    assert "(Boxtel)" in staff.last_text and "• Deden de zelftest: te weinig om te tonen" in (
        staff.last_text
    )
    await staff.taps("Respijtzorg")
    assert "kwartaal 3 2026" in staff.last_text
    caregiver_user = CoreUser(directory, 9001)
    await caregiver_user.says("/inzicht")
    assert "Mantelzorgers die de bot gebruiken" not in caregiver_user.last_text
