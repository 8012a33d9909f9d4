"""Area insight for a steunpunt (or one municipality): caregivers using the bot, self-check bands
per month, the respite forms advised most and the requests for contact per week, as `Table`s in
which every shown cell counts at least 10 distinct caregivers (`bot.features.insight.tables`).

One publication for everyone: each table is computed for all municipalities that any steunpunt
serves and all steunpunt areas at once, protected together, and a viewer's filters (period,
municipality, band) only choose which of those already protected cells to show. So narrowing a
filter, asking again with another one, or comparing two steunpunten whose areas overlap never
gives a number that was not protected with all the others. Only completed months (and quarters)
are shown: the current month would change with every self-check and tell who did one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.directory import CaregiverSteunpunt, Municipality, Steunpunt, SteunpuntMunicipality
from bot.db.models import Caregiver, DialogRun, Result
from bot.engine.spec import DIALOGS_DIR, Dialog
from bot.features.handover import stats as handover_stats
from bot.features.insight.tables import Cell, K, Key, Relation, Row, Table, protect, published
from bot.features.respite import stats as respite_stats
from bot.text.content import Texts
from bot.text.dates import at_local, local_date

SELFCHECK = "selfcheck"
MONTHS = 12  # completed months shown
QUARTERS = 4  # completed quarters shown for the respite forms
WEEKS = 8  # completed weeks shown for the requests
ALL = "*"


@dataclass(frozen=True)
class Area:
    """The municipalities one viewer may see: a steunpunt's, or one municipality's (operator)."""

    key: str
    name: str
    municipalities: tuple[tuple[str, str], ...]  # (CBS code, name), by name

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(code for code, _ in self.municipalities))


@dataclass(frozen=True)
class Filters:
    """What a viewer narrows to: one municipality of the area (None: the whole area), a range of
    months ("2026-03", inclusive; None: from the first / to the last shown) and one band."""

    municipality: str | None = None
    first_month: str | None = None
    last_month: str | None = None
    band: str | None = None


async def steunpunt_area(session: AsyncSession, steunpunt_key: str) -> Area | None:
    steunpunt = await session.scalar(select(Steunpunt).where(Steunpunt.key == steunpunt_key))
    if steunpunt is None:
        return None
    rows = await session.execute(
        select(Municipality.code, Municipality.name)
        .join(SteunpuntMunicipality, SteunpuntMunicipality.municipality_code == Municipality.code)
        .where(SteunpuntMunicipality.steunpunt_id == steunpunt.id)
        .order_by(Municipality.name)
    )
    return Area(steunpunt.key, steunpunt.name, tuple((c, n) for c, n in rows.all()))


async def municipality_area(session: AsyncSession, code: str) -> Area | None:
    municipality = await session.get(Municipality, code)
    if municipality is None:
        return None
    return Area(code, municipality.name, ((code, municipality.name),))


# ---------------------------------------------------------------- the one publication


async def _areas(session: AsyncSession) -> dict[Key, tuple[str, ...]]:
    """Every steunpunt area by the set of its municipalities (two steunpunten serving the same
    municipalities publish the same numbers, so they share one key)."""
    codes: dict[int, set[str]] = defaultdict(set)
    for steunpunt_id, code in await session.execute(
        select(SteunpuntMunicipality.steunpunt_id, SteunpuntMunicipality.municipality_code)
    ):
        codes[steunpunt_id].add(code)
    return {area_key(c): tuple(sorted(c)) for c in codes.values() if c}


def area_key(codes: Iterable[str]) -> Key:
    return ("area", tuple(sorted(codes)))


def cube(
    counts: Mapping[tuple[str, str], int],
    areas: Mapping[Key, tuple[str, ...]],
    categories: Sequence[str],
    with_total: bool,
) -> tuple[dict[Key, int], list[Relation]]:
    """The cells of one protected table: (municipality or area, category) for every municipality
    of an area, every area and every category (and the category total `ALL` when categories add
    up), with the sums that hold between them."""
    municipalities = sorted({code for codes in areas.values() for code in codes})
    cats = [*categories, ALL] if with_total else list(categories)
    values: dict[Key, int] = {}
    relations: list[Relation] = []
    for code in municipalities:
        for cat in categories:
            values[(code, cat)] = counts.get((code, cat), 0)
        if with_total:
            values[(code, ALL)] = sum(values[(code, c)] for c in categories)
            relations.append(((code, ALL), [(code, c) for c in categories]))
    for key, codes in areas.items():
        for cat in cats:
            values[(key, cat)] = sum(values[(code, cat)] for code in codes)
            relations.append(((key, cat), [(code, cat) for code in codes]))
        if with_total:
            relations.append(((key, ALL), [(key, c) for c in categories]))
    return values, relations


async def _consenting(session: AsyncSession) -> dict[int, str]:
    """caregiver id -> municipality code, of caregivers who gave consent and whose municipality
    is known (their current municipality: someone who moved counts where they live now)."""
    rows = await session.execute(
        select(Caregiver.id, CaregiverSteunpunt.municipality_code)
        .join(CaregiverSteunpunt, CaregiverSteunpunt.caregiver_id == Caregiver.id)
        .where(
            Caregiver.consent_version.is_not(None),
            CaregiverSteunpunt.municipality_code.is_not(None),
        )
    )
    return {caregiver_id: code for caregiver_id, code in rows.all() if code is not None}


# ---------------------------------------------------------------- periods


def month_id(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    """The first day of a month id ("2026-03")."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def completed_months(now: datetime, count: int = MONTHS) -> list[date]:
    """The first days of the `count` completed months before this one (Amsterdam), oldest first."""
    today = local_date(now)
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append(date(year, month, 1))
    return months[::-1]


def completed_quarters(now: datetime, count: int = QUARTERS) -> list[tuple[date, date]]:
    """(first day, first day of the next) of the `count` completed quarters, oldest first."""
    today = local_date(now)
    start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    quarters = []
    for _ in range(count):
        end = start
        month = start.month - 3
        start = date(start.year - 1, month + 12, 1) if month < 1 else date(start.year, month, 1)
        quarters.append((start, end))
    return quarters[::-1]


def completed_weeks(now: datetime, count: int = WEEKS) -> list[date]:
    """The Mondays of the `count` completed weeks (Monday to Sunday, Amsterdam), oldest first."""
    this_monday = local_date(now) - timedelta(days=local_date(now).weekday())
    return [this_monday - timedelta(weeks=n) for n in range(count, 0, -1)]


def _moment(day: date) -> datetime:
    return at_local(day, time(0, 0)).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _chosen_months(months: list[date], filters: Filters) -> list[date]:
    first, last = filters.first_month or "0000-00", filters.last_month or "9999-99"
    return [m for m in months if first <= month_id(m) <= last]


def _unit(area: Area, filters: Filters) -> Key:
    if filters.municipality is not None and filters.municipality in area.codes:
        return filters.municipality
    return area_key(area.codes)


# ---------------------------------------------------------------- the tables


async def users_table(
    session: AsyncSession, texts: Texts, area: Area, now: datetime, filters: Filters = Filters()
) -> Table:
    """Caregivers using the bot, per municipality of the area and in total: now (with consent,
    living there) and per completed month (who started something: a self-check, respite...)."""
    areas = await _areas(session)
    areas.setdefault(area_key(area.codes), area.codes)
    living = await _consenting(session)
    months = completed_months(now)
    runs = await session.execute(
        select(DialogRun.caregiver_id, DialogRun.started_at).where(
            DialogRun.started_at >= _moment(months[0]),
            DialogRun.started_at < _moment(_next_month(months[-1])),
        )
    )
    active: dict[tuple[str, str], set[int]] = defaultdict(set)
    for caregiver_id, started_at in runs.all():
        if caregiver_id in living:
            active[(living[caregiver_id], month_id(local_date(started_at)))].add(caregiver_id)
    now_counts: dict[tuple[str, str], int] = defaultdict(int)
    for code in living.values():
        now_counts[(code, "now")] += 1
    columns: list[tuple[Key, dict[Key, int], set[Key]]] = []
    # Each column is published on its own: distinct caregivers of different months do not add.
    for column in ["now", *(month_id(m) for m in _chosen_months(months, filters))]:
        counts = (
            dict(now_counts)
            if column == "now"
            else {(code, column): len(ids) for (code, m), ids in active.items() if m == column}
        )
        values, relations = cube(counts, areas, [column], with_total=False)
        columns.append((column, values, protect(values, relations)))
    labels = [(str(c), _column_label(texts, str(c))) for c, _, _ in columns]
    rows = []
    units: list[tuple[Key, str, str, bool]] = [
        (code, code, name, False) for code, name in area.municipalities
    ]
    if filters.municipality in area.codes:
        units = [u for u in units if u[0] == filters.municipality]
    elif len(area.codes) > 1:
        units.append((area_key(area.codes), ALL, texts.get("insight_total"), True))
    for unit, row_id, label, total in units:
        cells = tuple(published(v, h, (unit, c)) for c, v, h in columns)
        rows.append(Row(row_id, label, cells, total=total))
    return Table(
        "users",
        texts.get("insight_users_title", area=area.name),
        tuple(labels),
        tuple(rows),
        (texts.get("insight_users_note"), texts.get("insight_k_note", k=K)),
    )


def _column_label(texts: Texts, column: str) -> str:
    if column == "now":
        return texts.get("insight_now")
    return texts.translator.format_date(first_day(column), format="MMM yyyy")


async def bands_table(
    session: AsyncSession,
    texts: Texts,
    area: Area,
    now: datetime,
    filters: Filters = Filters(),
    selfcheck: Dialog | None = None,
) -> Table:
    """Self-check bands per completed month: rows are the bands (and the caregivers with a
    self-check that month), columns the months. A caregiver counts once a month, with the band
    of their last self-check of that month."""
    dialog = selfcheck or texts.content.dialogs[SELFCHECK]
    bands = [band.id for band in dialog.bands]
    areas = await _areas(session)
    areas.setdefault(area_key(area.codes), area.codes)
    living = await _consenting(session)
    months = completed_months(now)
    results = await session.execute(
        select(Result.caregiver_id, Result.band, Result.completed_at)
        .where(
            Result.dialog_id == dialog.id,
            Result.completed_at >= _moment(months[0]),
            Result.completed_at < _moment(_next_month(months[-1])),
        )
        .order_by(Result.completed_at, Result.id)
    )
    last: dict[tuple[int, str], str] = {}
    for caregiver_id, band, completed_at in results.all():
        if caregiver_id in living and band in bands:
            last[(caregiver_id, month_id(local_date(completed_at)))] = band
    unit = _unit(area, filters)
    shown_bands = [b for b in bands if filters.band in (None, b)]
    chosen = [month_id(m) for m in _chosen_months(months, filters)]
    columns: list[tuple[dict[Key, int], set[Key]]] = []
    for month in chosen:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for (caregiver_id, m), band in last.items():
            if m == month:
                counts[(living[caregiver_id], band)] += 1
        values, relations = cube(counts, areas, bands, with_total=True)
        columns.append((values, protect(values, relations)))
    titles = {band.id: texts.tr(band.title) for band in dialog.bands}
    rows = [
        Row(b, titles[b], tuple(published(v, h, (unit, b)) for v, h in columns))
        for b in shown_bands
    ]
    if filters.band is None:
        total = tuple(published(v, h, (unit, ALL)) for v, h in columns)
        rows.append(Row(ALL, texts.get("insight_bands_total"), total, total=True))
    return Table(
        "bands",
        texts.get("insight_bands_title", area=_unit_name(texts, area, filters)),
        tuple((m, _column_label(texts, m)) for m in chosen),
        tuple(rows),
        (texts.get("insight_bands_note"), texts.get("insight_k_note", k=K)),
    )


def _unit_name(texts: Texts, area: Area, filters: Filters) -> str:
    names = dict(area.municipalities)
    if filters.municipality in names:
        return names[filters.municipality]
    return area.name


async def respite_table(
    session: AsyncSession,
    texts: Texts,
    area: Area,
    now: datetime,
    filters: Filters = Filters(),
    directory: Path = DIALOGS_DIR,
) -> Table:
    """The respite forms advised to the area's caregivers, per completed quarter: how many
    distinct caregivers got each form in their advice (one advice names several forms, so the
    forms do not add up and there is no total). Most advised (in the latest quarter) first."""
    forms = respite_stats.form_titles(directory)
    areas = await _areas(session)
    areas.setdefault(area_key(area.codes), area.codes)
    living = await _consenting(session)
    quarters = completed_quarters(now)
    first, last = filters.first_month or "0000-00", filters.last_month or "9999-99"
    chosen = [
        (start, end)
        for start, end in quarters
        if month_id(start) <= last and first < month_id(end)  # the quarter overlaps the range
    ]
    unit = _unit(area, filters)
    columns: list[tuple[dict[Key, int], set[Key]]] = []
    for start, end in chosen:
        seen: dict[tuple[str, str], set[int]] = defaultdict(set)
        for caregiver_id, option_ids in await respite_stats.advised_forms(
            session, _moment(start), _moment(end)
        ):
            if caregiver_id in living:
                for option_id in option_ids:
                    if option_id in forms:
                        seen[(living[caregiver_id], option_id)].add(caregiver_id)
        counts = {key: len(ids) for key, ids in seen.items()}
        values, relations = cube(counts, areas, list(forms), with_total=False)
        columns.append((values, protect(values, relations)))
    rows = [
        Row(form_id, texts.tr(title), tuple(published(v, h, (unit, form_id)) for v, h in columns))
        for form_id, title in forms.items()
    ]
    # By the shown numbers of the latest quarter only: an order by hidden numbers would tell them.
    order = list(forms)
    rows.sort(key=lambda r: (-_shown(r.cells[-1]) if r.cells else 0, order.index(r.id)))
    return Table(
        "respite",
        texts.get("insight_respite_title", area=_unit_name(texts, area, filters)),
        tuple((month_id(s), _quarter_label(texts, s)) for s, _ in chosen),
        tuple(rows),
        (texts.get("insight_respite_note"), texts.get("insight_k_note", k=K)),
    )


def _shown(cell: Cell) -> int:
    return cell.count if cell.count is not None else -1


def _quarter_label(texts: Texts, start: date) -> str:
    return texts.get("insight_quarter", quarter=(start.month - 1) // 3 + 1, year=start.year)


async def requests_table(
    session: AsyncSession, texts: Texts, area: Area, now: datetime, filters: Filters = Filters()
) -> Table:
    """Requests for contact with the steunpunt (the warm handover) per completed week: how many
    distinct caregivers of each municipality of the area sent one, and of the whole area."""
    areas = await _areas(session)
    areas.setdefault(area_key(area.codes), area.codes)
    living = await _consenting(session)
    weeks = completed_weeks(now)
    first, last = filters.first_month or "0000-00", filters.last_month or "9999-99"
    chosen = [w for w in weeks if month_id(w) <= last and first <= month_id(w + timedelta(6))]
    sent = await handover_stats.sent_requests(
        session, _moment(weeks[0]), _moment(weeks[-1] + timedelta(weeks=1))
    )
    columns: list[tuple[str, dict[Key, int], set[Key]]] = []
    for monday in chosen:
        column = monday.isoformat()
        seen: dict[tuple[str, str], set[int]] = defaultdict(set)
        for caregiver_id, sent_at in sent:
            day = local_date(sent_at)
            if caregiver_id in living and monday <= day < monday + timedelta(weeks=1):
                seen[(living[caregiver_id], column)].add(caregiver_id)
        counts = {key: len(ids) for key, ids in seen.items()}
        values, relations = cube(counts, areas, [column], with_total=False)
        columns.append((column, values, protect(values, relations)))
    units: list[tuple[Key, str, str, bool]] = [
        (code, code, name, False) for code, name in area.municipalities
    ]
    if filters.municipality in area.codes:
        units = [u for u in units if u[0] == filters.municipality]
    elif len(area.codes) > 1:
        units.append((area_key(area.codes), ALL, texts.get("insight_total"), True))
    rows = [
        Row(row_id, label, tuple(published(v, h, (unit, c)) for c, v, h in columns), total)
        for unit, row_id, label, total in units
    ]
    labels = tuple(
        (c, texts.get("insight_week", week=date.fromisoformat(c).isocalendar()[1],
                      date=texts.translator.format_date(date.fromisoformat(c), format="d MMM")))
        for c, _, _ in columns
    )  # fmt: skip
    return Table(
        "requests",
        texts.get("insight_requests_title", area=area.name),
        labels,
        tuple(rows),
        (texts.get("insight_requests_note"), texts.get("insight_k_note", k=K)),
    )


async def area_insight(
    session: AsyncSession, texts: Texts, area: Area, now: datetime, filters: Filters = Filters()
) -> list[Table]:
    """All tables of the area, as the console page and `/inzicht` show them."""
    return [
        await users_table(session, texts, area, now, filters),
        await bands_table(session, texts, area, now, filters),
        await respite_table(session, texts, area, now, filters),
        await requests_table(session, texts, area, now, filters),
    ]
