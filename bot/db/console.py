"""Shared table of the staff web console (bot/console): one row per signed-in browser session.

Only a hash of the session cookie is stored, so the database alone cannot be used to sign in; the
row holds the form token (CSRF) and when the session ends. Roles are not kept here: the console
reads the staff memberships on every request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class ConsoleSession(Base):
    """A staff member (or operator) signed in to the console through Telegram's Mini App data.

    `id` is the SHA-256 of the cookie's secret; `csrf_token` goes into every form and must come
    back with every POST. `display_name` is the name Telegram gave at sign-in (shown in the page
    header, and the sender's name of a notice composed on the page). Erased with the caregiver
    row; expired rows are removed at the next sign-in and by the retention sweep of transient rows.
    """

    __tablename__ = "console_session"
    __table_args__ = (Index("ix_console_session_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    csrf_token: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    locale: Mapped[str] = mapped_column(String(8), default="nl")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
