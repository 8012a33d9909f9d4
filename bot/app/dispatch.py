"""The heart of one update: claim it, load the caregiver, route the event, store, reply.

Everything happens in one database transaction; the reply is sent by the adapter only after the
commit, so a crash never leaves an answer half stored or a message sent for an unsaved step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from bot.app import router
from bot.app.registry import Registry
from bot.clock import Clock
from bot.config import RetentionPolicy
from bot.db.models import Caregiver, ProcessedUpdate
from bot.db.session import Database, dialect_of, execute, rowcount, upsert_insert
from bot.engine.flow import Event
from bot.engine.output import OutMessage, Reply, command_button
from bot.text.content import Content, Texts
from bot.text.i18n import choose_locale, get_translator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """An event with who sent it; `update_id` is None for channels without ids (terminal)."""

    user_id: int
    chat_id: int
    event: Event
    language_code: str | None = None
    update_id: int | None = None
    # The name Telegram shows for the user ("Anna de Vries"); stored only where a feature needs
    # it (staff membership, an RSVP the staff of a care home see).
    display_name: str = ""


@dataclass
class Context:
    """What a handler gets: its session, the caregiver, texts in their language, and the time."""

    session: AsyncSession
    caregiver: Caregiver
    texts: Texts
    now: datetime
    core: BotCore
    language_code: str | None = None
    display_name: str = ""
    _is_staff: bool | None = field(default=None, repr=False)
    # The open step as read in this update (`bot.app.router`), or router.UNREAD.
    step: router.Step | router.Unread | None = field(default=router.UNREAD, repr=False)

    async def is_staff(self) -> bool:
        """Active staff of a steunpunt or location (looked up once per update)."""
        if self._is_staff is None:
            check = self.core.registry.staff_check
            self._is_staff = bool(check is not None and await check(self))
        return self._is_staff

    def forget_staff(self) -> None:
        """The role changed during this update (an invitation redeemed, a role revoked)."""
        self._is_staff = None

    @property
    def content(self) -> Content:
        return self.core.content

    @property
    def has_consent(self) -> bool:
        return self.caregiver.consent_version == self.core.privacy_version

    def set_locale(self, locale: str) -> None:
        self.caregiver.locale = locale
        self.texts = self.core.texts_for(locale)

    def menu_message(self, intro_key: str = "menu_title") -> OutMessage:
        return self.core.menu_message(self.texts, intro_key)

    def stale_button(self) -> Reply:
        """The answer to an old, double, forged or no-longer-allowed button: a short toast and
        the menu, revealing nothing about what the button was for."""
        return Reply(toast=self.texts.get("stale_button_toast")).add(
            self.menu_message("finished_button")
        )


@dataclass(frozen=True)
class _HotStatements:
    claim: Any
    caregiver: Any
    # PostgreSQL: claim and caregiver in one statement (None on SQLite, which has no INSERT in
    # a WITH clause).
    claimed_caregiver: Any = None

    @classmethod
    def build(cls, dialect: str) -> _HotStatements:
        insert = upsert_insert(dialect)
        claim = (  # on the table, not the entity: a plain statement with a rowcount
            insert(ProcessedUpdate.__table__)
            .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
            .on_conflict_do_nothing(index_elements=["update_id"])
        )
        upsert = insert(Caregiver).values(
            telegram_user_id=bindparam("telegram_user_id"),
            chat_id=bindparam("chat_id"),
            created_at=bindparam("created_at"),
            last_seen_at=bindparam("last_seen_at"),
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=["telegram_user_id"],
            set_=_touched(upsert),
        ).returning(*Caregiver.__table__.c)
        if dialect != "postgresql":
            return cls(claim, upsert)
        return cls(claim, upsert, _claimed_caregiver())


def _touched(upsert: Any) -> dict[str, Any]:
    """What an update changes on a known caregiver: seen now, at this chat, reachable again."""
    return {
        "last_seen_at": upsert.excluded.last_seen_at,
        "chat_id": upsert.excluded.chat_id,
        "unreachable_at": None,
    }


def _claimed_caregiver() -> Any:
    """PostgreSQL: claim the update and create or touch (and lock) the caregiver in one round
    trip; no row when the update was claimed before (a re-delivery), and then the caregiver is
    not touched, as with the two statements.

    The row lock is the caregiver upsert's, as before; the dialog state is still read by the
    statements after this one, each with a snapshot taken once the lock is held (a read in this
    statement would use its snapshot from before waiting for another instance's lock).
    """
    table: Any = ProcessedUpdate.__table__
    claim = (
        pg_insert(table)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(table.c.update_id)
        .cte("claim")
    )
    columns = Caregiver.__table__.c
    values = select(
        *(bindparam(name, type_=columns[name].type)
          for name in ("telegram_user_id", "chat_id", "created_at", "last_seen_at"))
    ).where(exists(select(claim.c.update_id)))  # fmt: skip
    upsert: Any = pg_insert(Caregiver).from_select(
        ["telegram_user_id", "chat_id", "created_at", "last_seen_at"], values
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["telegram_user_id"],
        set_=_touched(upsert),
    ).returning(*columns)
    return upsert.add_cte(claim)


def _attach(session: AsyncSession, row: Row[Any]) -> Caregiver:
    """The caregiver of a RETURNING row as an ORM object of `session`, as if loaded by it.

    The upsert runs as a Core statement; loading its row through the ORM (`from_statement`)
    cost more than the statement (bench/hot_path.py). The object is made persistent directly:
    its attributes are the row's, unchanged, and what a handler changes on it is flushed at
    commit as usual. The session is new for this update, so the identity is not taken.
    """
    caregiver = Caregiver(**row._asdict())
    make_transient_to_detached(caregiver)
    session.add(caregiver)
    return caregiver


class BotCore:
    """Channel-agnostic bot: adapters feed it `Incoming` events and render the returned Reply."""

    def __init__(
        self,
        db: Database,
        content: Content,
        registry: Registry,
        clock: Clock,
        privacy_version: int,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self.db = db
        self.content = content
        self.registry = registry
        self.clock = clock
        self.privacy_version = privacy_version
        self.retention = retention or RetentionPolicy()
        self._hot: dict[str, _HotStatements] = {}
        # The bot's @username for deep links (a location's subscription link), read when needed:
        # set by the Telegram adapter (known after getMe); None on channels without one.
        self.bot_username: Callable[[], str] | None = None
        # The bot's public https address (WEBHOOK_URL) where `serve` also serves the staff
        # console; None where there is none (`run`, the terminal): Web App buttons are left out.
        self.web_url: str | None = None
        # Telegram user ids of the operators (CONSOLE_OPERATORS): who may send the operator's
        # notices when they start (bot/features/broadcast/delivery.py `sender_may_send`).
        self.operators: frozenset[int] = frozenset()

    def texts_for(self, locale: str) -> Texts:
        return Texts(self.content, get_translator(locale))

    def menu_message(self, texts: Texts, intro_key: str = "menu_title") -> OutMessage:
        buttons = []
        for entry in sorted(self.registry.menu, key=lambda e: e.order):
            label = texts.get(entry.label_key) if entry.label_key else texts.tr(entry.label)
            buttons.append((command_button(label, entry.command),))
        return OutMessage(texts.get(intro_key), tuple(buttons))

    async def handle(self, incoming: Incoming) -> Reply | None:
        """Process one event; None when the update was already processed (a re-delivery)."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            statements = self._statements(session)
            if incoming.update_id is not None and statements.claimed_caregiver is not None:
                found = await self._claimed_caregiver(session, incoming, now)
                if found is None:
                    log.info("update %s already processed; ignored", incoming.update_id)
                    return None
                caregiver = found
            else:
                if incoming.update_id is not None and not await self._claim_update(
                    session, incoming.update_id, now
                ):
                    log.info("update %s already processed; ignored", incoming.update_id)
                    return None
                caregiver = await self._caregiver(session, incoming, now)
            locale = choose_locale(caregiver.locale, incoming.language_code)
            ctx = Context(
                session,
                caregiver,
                self.texts_for(locale),
                now,
                self,
                incoming.language_code,
                incoming.display_name,
            )
            reply = await self.route(ctx, incoming.event)
        return reply

    async def route(self, ctx: Context, event: Event) -> Reply:
        """Where one event goes: the one router (`bot.app.router`)."""
        return await router.route(ctx, event)

    def _statements(self, session: AsyncSession) -> _HotStatements:
        """The statements every update runs, built once per dialect and reused.

        Measured (bench/throughput.py profile): building an INSERT .. ON CONFLICT and computing
        its cache key on every update cost more CPU than executing it; a reused statement with
        bound parameters skips both.
        """
        dialect = dialect_of(session)
        statements = self._hot.get(dialect)
        if statements is None:
            statements = self._hot[dialect] = _HotStatements.build(dialect)
        return statements

    async def _claim_update(self, session: AsyncSession, update_id: int, now: datetime) -> bool:
        result = await execute(
            session, self._statements(session).claim, {"update_id": update_id, "processed_at": now}
        )
        return bool(rowcount(result))

    async def _caregiver(
        self, session: AsyncSession, incoming: Incoming, now: datetime
    ) -> Caregiver:
        """Create or touch the caregiver and lock the row, in one statement.

        On PostgreSQL ON CONFLICT DO UPDATE takes the row lock that serialises concurrent updates
        of one caregiver across instances; on SQLite the transaction holds the one write lock.
        (Measured: one round trip instead of insert, SELECT ... FOR UPDATE and a later UPDATE.)
        """
        result = await execute(
            session,
            self._statements(session).caregiver,
            {
                "telegram_user_id": incoming.user_id,
                "chat_id": incoming.chat_id,
                "created_at": now,
                "last_seen_at": now,
            },
        )
        return _attach(session, result.one())

    async def _claimed_caregiver(
        self, session: AsyncSession, incoming: Incoming, now: datetime
    ) -> Caregiver | None:
        """Claim and caregiver in one statement (PostgreSQL); None for a re-delivery."""
        result = await execute(
            session,
            self._statements(session).claimed_caregiver,
            {
                "update_id": incoming.update_id,
                "processed_at": now,
                "telegram_user_id": incoming.user_id,
                "chat_id": incoming.chat_id,
                "created_at": now,
                "last_seen_at": now,
            },
        )
        row = result.first()
        return None if row is None else _attach(session, row)

    async def mark_unreachable(self, chat_id: int) -> None:
        """The caregiver blocked the bot: nothing more is sent until they write again."""
        async with self.db.transaction() as session:
            await session.execute(
                update(Caregiver)
                .where(Caregiver.chat_id == chat_id)
                .values(unreachable_at=self.clock.now())
            )

    async def prune_processed_updates(self, keep: timedelta = timedelta(days=2)) -> int:
        """Telegram re-delivers for at most a day; older ids need not be kept."""
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.processed_at < self.clock.now() - keep
                )
            )
            return rowcount(result)
