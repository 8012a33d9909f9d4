"""The respite advice given to a caregiver: their answers, the advised forms, and the answer to
the follow-up question two weeks later (if they asked for one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class RespiteAdvice(Base):
    """One finished `/respijt` dialog; `option_ids` are ids of dialogs/data/respite_options.yaml
    (empty when the safety question sent the caregiver straight to human contacts)."""

    __tablename__ = "respite_advice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    answers: Mapped[dict[str, Any]]
    option_ids: Mapped[list[str]] = mapped_column(JSON)
    advised_at: Mapped[datetime]
    followup_due_at: Mapped[datetime | None]
    # "done", "not_yet" or "help": the caregiver's answer to the follow-up question.
    followup_answer: Mapped[str | None] = mapped_column(String(16))
