"""Where a caregiver is in each dialog (`dialog_state`) and the answers they give, read and
written with Core statements built once per dialect.

Every press in a running dialog reads its place, stores the answer and moves the place on; the
ORM's get, unit of work and flush cost several times these statements (bench/hot_path.py), so
`dialog_state` and `answer` rows are written here, never through ORM objects during an update.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Answer, DialogState
from bot.db.session import dialect_of, execute, upsert_by_key


@dataclass
class Place:
    """One caregiver's place in one dialog: the `dialog_state` row. `run_id` None marks a pass
    that keeps no answers (a view-only pass, a staff draft)."""

    dialog_id: str
    dialog_version: int
    run_id: int | None
    data: dict[str, Any]
    updated_at: datetime


# The columns of a place, in the order `Place` takes them after its dialog (see `place_from`).
PLACE_COLUMNS = ("dialog_version", "run_id", "data", "updated_at")


def place_from(dialog_id: str, row: Any) -> Place:
    """The place in `dialog_id` from a row that has the `PLACE_COLUMNS`."""
    return Place(dialog_id, row.dialog_version, row.run_id, row.data, row.updated_at)


@dataclass(frozen=True)
class _Statements:
    read: Any
    write: Any
    remove: Any
    answer: Any

    @classmethod
    def build(cls, dialect: str) -> _Statements:
        table: Any = DialogState.__table__
        key = (
            table.c.caregiver_id == bindparam("caregiver_id"),
            table.c.dialog_id == bindparam("dialog_id"),
        )
        return cls(
            read=select(*(table.c[c] for c in PLACE_COLUMNS)).where(*key),
            write=upsert_by_key(dialect, table, ("caregiver_id", "dialog_id"), PLACE_COLUMNS),
            remove=delete(table).where(*key),
            answer=insert(Answer),
        )


@functools.cache
def _statements(dialect: str) -> _Statements:
    return _Statements.build(dialect)


_ANSWER_COLUMNS = ("run_id", "caregiver_id", "dialog_id", "question_id", "value", "score",
                   "answered_at")  # fmt: skip


@functools.cache
def _write_with_answers(count: int) -> Any:
    """PostgreSQL: `count` answers and the place in one statement (one round trip less per
    press); each answer is a data-modifying WITH clause of the place's upsert. One single-row
    INSERT per answer, not one multi-row INSERT: SQLAlchemy caches the compiled form of the
    first, but compiles a multi-row VALUES again at every call."""
    answers = [
        insert(Answer)
        .values({c: bindparam(f"a{i}_{c}") for c in _ANSWER_COLUMNS})
        .cte(f"answer{i}")
        for i in range(count)
    ]
    return _statements("postgresql").write.add_cte(*answers)


async def read_place(session: AsyncSession, caregiver_id: int, dialog_id: str) -> Place | None:
    """The caregiver's place in `dialog_id`, None when they are not in it."""
    found = await execute(
        session,
        _statements(dialect_of(session)).read,
        {"caregiver_id": caregiver_id, "dialog_id": dialog_id},
    )
    row = found.first()
    if row is None:
        return None
    return place_from(dialog_id, row)


async def write_place(
    session: AsyncSession,
    caregiver_id: int,
    place: Place,
    answers: list[dict[str, Any]] | None = None,
) -> None:
    """Store `place`, creating the row or replacing what it held, and the `answers` given there
    (as `add_answers`)."""
    values = {
        "caregiver_id": caregiver_id,
        "dialog_id": place.dialog_id,
        "dialog_version": place.dialog_version,
        "run_id": place.run_id,
        "data": place.data,
        "updated_at": place.updated_at,
    }
    dialect = dialect_of(session)
    if answers and dialect == "postgresql":
        for i, answer in enumerate(answers):
            values.update({f"a{i}_{c}": answer[c] for c in _ANSWER_COLUMNS})
        await execute(session, _write_with_answers(len(answers)), values)
        return
    await add_answers(session, answers or [])
    await execute(session, _statements(dialect).write, values)


async def remove_place(session: AsyncSession, caregiver_id: int, dialog_id: str) -> None:
    """The caregiver is no longer in `dialog_id` (finished, stopped, or starting over)."""
    await execute(
        session,
        _statements(dialect_of(session)).remove,
        {"caregiver_id": caregiver_id, "dialog_id": dialog_id},
    )


async def add_answers(session: AsyncSession, answers: list[dict[str, Any]]) -> None:
    """Store answers: each a dict of the `answer` columns but its id."""
    if answers:
        statement = _statements(dialect_of(session)).answer
        await execute(session, statement, answers if len(answers) > 1 else answers[0])
