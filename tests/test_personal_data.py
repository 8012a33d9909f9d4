"""One list of personal data: every table with caregiver data is registered by its feature, and
export, erase, withdrawal and the retention sweep all read that list."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, select

from bot.app.dispatch import BotCore
from bot.app.personal_data import erased_columns, kept
from bot.app.registry import RegistryConflict
from bot.db.models import ERASED_WITH, Base, Caregiver
from bot.features import load
from bot.features.broadcast.models import Broadcast
from tests.conversation import CoreUser
from tests.test_flows import complete_selfcheck, onboarded

_, REGISTRY = load()


def test_every_table_pointing_at_a_caregiver_is_registered() -> None:
    registered = {t.model.__tablename__ for t in REGISTRY.personal_data}
    pointing = {
        table.name
        for table in Base.metadata.sorted_tables
        if any(fk.target_fullname == "caregiver.id" for fk in table.foreign_keys)
    }
    assert pointing and pointing <= registered
    REGISTRY.check_personal_data(Base.metadata)


def test_a_new_table_with_caregiver_data_that_is_not_registered_stops_the_start() -> None:
    metadata = MetaData()
    Table("caregiver", metadata, Column("id", Integer, primary_key=True))
    Table("diary", metadata, Column("caregiver_id", ForeignKey("caregiver.id")))
    with pytest.raises(RegistryConflict, match=r"not registered.*diary"):
        REGISTRY.check_personal_data(metadata)


def test_every_registered_table_names_what_it_keeps_in_words() -> None:
    content, _ = load()
    for table in REGISTRY.personal_data:
        assert table.label or table.fields, table.model.__tablename__
        for key in table.keys():
            assert key in content.messages, f"{table.model.__tablename__}: {key}"


def test_every_erased_copy_belongs_to_a_registered_table_that_outlives_the_caregiver() -> None:
    marked = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if ERASED_WITH in column.info
    }
    covered = {
        (t.model.__tablename__, c.name)
        for t in REGISTRY.personal_data
        if t.outlives_caregiver
        for c in erased_columns(t)
    }
    assert marked and marked == covered
    assert {c.name for c in erased_columns(next(
        t for t in REGISTRY.personal_data if t.model is Broadcast
    ))} == {"sender_name", "report_chat_id", "progress_message_id",
            "sender_operator_id"}  # fmt: skip


async def caregiver_of(core: BotCore, user: CoreUser) -> int:
    async with core.db.transaction() as session:
        found = await session.scalar(
            select(Caregiver.id).where(Caregiver.telegram_user_id == user.user_id)
        )
    assert found is not None
    return found


async def test_withdrawal_removes_what_needed_consent_and_names_what_stays(core: BotCore) -> None:
    user = await onboarded(core, 1501)
    await complete_selfcheck(user, "Soms")
    await user.says("/zelftest")
    await user.taps("Soms")  # a self-check left halfway as well
    caregiver_id = await caregiver_of(core, user)
    async with core.db.transaction() as session:
        before = {k.key: k.count for k in await kept(session, core.registry, caregiver_id)}
        going = {k.key for k in await kept(session, core.registry, caregiver_id, False)}
    assert before["kept_answer"] == 11 and before["kept_result"] == 1
    assert before["kept_dialog_state"] == 1 and {"kept_answer", "kept_result"} <= going

    await user.says("/privacy")
    await user.taps("Toestemming intrekken en wissen")
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    async with core.db.transaction() as session:
        after = await kept(session, core.registry, caregiver_id)
    assert {k.key for k in after} & going == set()
