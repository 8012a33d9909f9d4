"""Area insight on the web console: the three tables of `bot.features.insight.area` for a
steunpunt's area, with filters (municipality, months, band) that only choose among cells
protected together; every shown cell counts at least 10 caregivers.
"""

from __future__ import annotations

from pathlib import Path

from bot.app.registry import ConsolePage, Registry
from bot.console.request import ConsoleRequest, NotFound, Page
from bot.features.insight import area as insight

TEMPLATES = Path(__file__).resolve().parent / "templates"


async def insight_page(req: ConsoleRequest) -> Page:
    keys = req.steunpunt_keys
    key = req.query.get("s") or keys[0]
    req.steunpunt_scope(key)  # another steunpunt's area: 404
    area = await insight.steunpunt_area(req.session, key)
    if area is None:
        raise NotFound
    months = [insight.month_id(m) for m in insight.completed_months(req.now)]
    bands = [band.id for band in req.core.content.dialogs[insight.SELFCHECK].bands]
    chosen = req.query.get("m", "")
    first, last = req.query.get("from", ""), req.query.get("to", "")
    band = req.query.get("band", "")
    filters = insight.Filters(
        municipality=chosen if chosen in area.codes else None,
        first_month=first if first in months else None,
        last_month=last if last in months else None,
        band=band if band in bands else None,
    )
    tables = await insight.area_insight(req.session, req.texts, area, req.now, filters)
    steunpunten = [a for k in keys if (a := await insight.steunpunt_area(req.session, k))]
    titles = {b.id: req.texts.tr(b.title) for b in req.core.content.dialogs["selfcheck"].bands}
    values = {
        "area": area,
        "steunpunten": steunpunten,
        "filters": filters,
        "months": [(m, req.texts.translator.format_date(insight.first_day(m), format="MMM yyyy"))
                   for m in months],
        "bands": [(b, titles[b]) for b in bands],
        "tables": tables,
    }  # fmt: skip
    return Page("insight.html", "console_insight_title", values)


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("insight", insight_page, role="steunpunt", nav_key="console_nav_insight",
                    order=40),
    )  # fmt: skip
