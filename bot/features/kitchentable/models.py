"""A caregiver's finished keukentafelgesprek preparations: the answers and when they were given.

Stored only with consent; one row per preparation, so a later handover request to a steunpunt
can attach exactly one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class KitchenTablePreparation(Base):
    """One finished `/keukentafel` dialog. `answers` are the dialog's answers by step id (typed
    text as typed, the hours as a number, choices by option value), read with the dialog file of
    `dialog_version`; the PDF is made again from them, in the caregiver's language of the moment.
    """

    __tablename__ = "kitchen_table_preparation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    dialog_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]]
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
