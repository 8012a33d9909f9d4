"""Tables of the steunpunt card editor: a staff member's card edit while it is previewed, and the
history of every change (who, when, old and new value).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import ERASED_WITH, Base


class SteunpuntCardDraft(Base):
    """A staff member's card edit in progress: which steunpunt, and once typed, the field and its
    new value, shown as a preview until confirmed (`token` is in the confirm button, so an
    older preview's button saves nothing). One per staff member; erased with them."""

    __tablename__ = "steunpunt_card_draft"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text)
    token: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


# The staff member's name is a copy of a caregiver's: blanked when that caregiver is erased.
ERASED_WITH_STAFF = {ERASED_WITH: "staff_caregiver_id"}


class SteunpuntChange(Base):
    """One change of a steunpunt's card: which field, the old and the new value (as stored;
    municipalities as "GM0796;GM0797"), when, and who: a staff member (id and display name) or
    the operator (an undo, `undo_of` naming the change undone).

    Kept by `steunpunt_key`, which survives a re-imported directory. The staff member's caregiver
    row may be erased (`/vergeetmij`): the change stays, without the name (`ERASED_WITH`).
    """

    __tablename__ = "steunpunt_change"
    __table_args__ = (Index("ix_steunpunt_change_key", "steunpunt_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # "staff" | "operator"
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    staff_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregiver.id", ondelete="SET NULL"), index=True
    )
    staff_name: Mapped[str] = mapped_column(String(120), default="", info=ERASED_WITH_STAFF)
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("steunpunt_change.id"))
