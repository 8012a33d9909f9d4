"""What the handover lets other features count, without their importing its tables: the requests
sent to a steunpunt in a period, per caregiver (area insight counts them per week)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.handover.models import HandoverRequest


async def sent_requests(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, datetime]]:
    """(caregiver id, when it was sent) of every request sent in [since, until), whatever became
    of it since (picked up, closed, withdrawn); drafts never sent are not requests."""
    rows = await session.execute(
        select(HandoverRequest.caregiver_id, HandoverRequest.sent_at).where(
            HandoverRequest.sent_at.is_not(None),
            HandoverRequest.sent_at >= since,
            HandoverRequest.sent_at < until,
        )
    )
    return [(caregiver_id, sent_at) for caregiver_id, sent_at in rows.all() if sent_at]
