"""What the bot keeps about a caregiver, read from the one list of personal-data tables that the
features register (`Registry.personal_data`): export, erase, withdrawal of consent, the retention
sweep, and what `/privacy` names. No hand list of tables anywhere else.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, not_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.registry import PersonalData, Registry
from bot.config import RetentionPolicy
from bot.db.models import ERASED_WITH, Base, Caregiver
from bot.db.session import rowcount

# A row that only holds a position (a view-only self-check left halfway) lives this long.
TRANSIENT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Kept:
    """One thing kept, for the caregiver to read: a message key and how many (None: a single
    thing named by a field, "je gemeente")."""

    key: str
    count: int | None = None


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall moment `months` calendar months earlier (31 March - 1 month = 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _children_first(registry: Registry) -> list[PersonalData]:
    order = {table.name: i for i, table in enumerate(Base.metadata.sorted_tables)}
    return sorted(
        registry.personal_data, key=lambda t: order.get(t.model.__table__.name, 0), reverse=True
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export(session: AsyncSession, registry: Registry, caregiver: Caregiver) -> dict[str, Any]:
    """Everything stored about one caregiver, as JSON-ready data: their row and, by table name,
    every registered table's rows."""
    profile = {c.name: _plain(getattr(caregiver, c.key)) for c in Caregiver.__table__.columns}
    data: dict[str, Any] = {"caregiver": profile}
    for table in registry.personal_data:
        result = await session.execute(
            select(table.model.__table__).where(table.owner == caregiver.id)
        )
        data[table.model.__tablename__] = [
            {k: _plain(v) for k, v in row._mapping.items()} for row in result
        ]
    return data


def erased_columns(table: PersonalData) -> list[Any]:
    """The columns of `table` marked `ERASED_WITH` its owner column (copies of the caregiver's
    name or chat in rows that outlive them)."""
    return [c for c in table.model.__table__.columns if c.info.get(ERASED_WITH) == table.owner.key]


async def erase(session: AsyncSession, registry: Registry, caregiver: Caregiver) -> None:
    """Erase the caregiver and every registered row of theirs; rows that outlive them lose the
    link and their marked copies of the caregiver's name and chat."""
    for table in _children_first(registry):
        if table.outlives_caregiver:
            blank: dict[str, Any] = {
                c.name: None if c.nullable else "" for c in erased_columns(table)
            }
            blank[table.owner.key] = None
            await session.execute(
                update(table.model).where(table.owner == caregiver.id).values(blank)
            )
        else:
            await session.execute(delete(table.model).where(table.owner == caregiver.id))
    await session.delete(caregiver)
    await session.flush()


def _stays(table: PersonalData) -> bool:
    return table.kept_without_consent or table.outlives_caregiver


async def withdraw(session: AsyncSession, registry: Registry, caregiver_id: int) -> None:
    """Consent withdrawn: remove what needed it (answers, results, open dialogs, schedules and
    what the bot would still send by itself); keep what was asked for on its own."""
    for table in _children_first(registry):
        if _stays(table):
            if table.cleared_on_withdrawal:
                await session.execute(
                    update(table.model)
                    .where(table.owner == caregiver_id)
                    .values(dict(table.cleared_on_withdrawal))
                )
            continue
        statement = delete(table.model).where(table.owner == caregiver_id)
        if table.kept_when is not None:
            statement = statement.where(not_(table.kept_when(registry)))
        await session.execute(statement)


async def remove_expired(
    session: AsyncSession, registry: Registry, policy: RetentionPolicy, now: datetime
) -> int:
    """The retention sweep's part per table: rows given longer ago than their retention period
    (`PersonalData.months`, by default the answers'), and transient rows untouched for
    `TRANSIENT_FOR`. Returns how many rows went."""
    removed = 0
    for table in _children_first(registry):
        if table.timed is not None:
            months = table.months(policy) if table.months else policy.answers_months
            given_before = months_before(now, months)
            result = await session.execute(delete(table.model).where(table.timed < given_before))
            removed += rowcount(result)
        if table.transient is not None and table.transient_since is not None:
            result = await session.execute(
                delete(table.model).where(
                    table.transient, table.transient_since < now - TRANSIENT_FOR
                )
            )
            removed += rowcount(result)
    return removed


async def kept(
    session: AsyncSession,
    registry: Registry,
    caregiver_id: int,
    after_withdrawal: bool | None = None,
) -> list[Kept]:
    """What is stored for this caregiver now, in registration order: everything (None), only
    what stays when consent is withdrawn (True), or only what withdrawal removes (False)."""
    found: list[Kept] = []
    for table in registry.personal_data:
        if table.label:
            condition = _label_condition(table, registry, after_withdrawal)
            if condition is not None:
                count = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(table.model)
                        .where(table.owner == caregiver_id, condition)
                    )
                    or 0
                )
                if count:
                    found.append(Kept(table.label, count))
        fields = [
            (column, key)
            for column, key in table.fields
            if after_withdrawal is None
            or after_withdrawal == (_stays(table) and column not in table.cleared_on_withdrawal)
        ]
        if fields:
            columns = [getattr(table.model, column) for column, _ in fields]
            values = (
                await session.execute(select(*columns).where(table.owner == caregiver_id))
            ).all()
            for index, (_, key) in enumerate(fields):
                if any(row[index] for row in values):
                    found.append(Kept(key))
    return found


def _label_condition(
    table: PersonalData, registry: Registry, after_withdrawal: bool | None
) -> ColumnElement[bool] | None:
    """Which rows of `table` to count (None: none); `true()` for all."""
    if after_withdrawal is None:
        return true()
    if _stays(table):
        return true() if after_withdrawal else None
    if table.kept_when is None:
        return None if after_withdrawal else true()
    condition = table.kept_when(registry)
    return condition if after_withdrawal else not_(condition)
