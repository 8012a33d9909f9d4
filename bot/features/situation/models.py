"""Which situation guide was offered to which caregiver, so a guide is suggested only once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class SituationOffer(Base):
    """A guide (its `situation.key`, or `LIST` for the list of all guides) suggested once to a
    caregiver after a heavy self-check, a heavier check-in trend or a respite answer.

    Pitfall: it tells something about the caregiver's situation (a care home, the last phase),
    so it is personal data: exported, erased and swept like answers."""

    __tablename__ = "situation_offer"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    guide: Mapped[str] = mapped_column(String(32), primary_key=True)
    offered_at: Mapped[datetime]
