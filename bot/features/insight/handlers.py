"""`/inzicht` for steunpunt staff: the area insight tables in the chat, short (the latest months
and quarter; the console shows them whole), for the whole area or one municipality. The numbers
are those of `bot.features.insight.area`, hidden cells and all.
"""

from __future__ import annotations

from html import escape

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, Registry
from bot.app.roles import scopes_of, staff_menu
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.features.insight import area as insight
from bot.features.insight.tables import Cell, Table
from bot.text.content import Texts

COMMAND = "inzicht"
TABLES = ("users", "bands", "respite", "requests")
# in:<table>:<membership id>:<municipality code, or "all">
BUTTONS = ButtonCodec("in", {t: (int, str) for t in TABLES})
CHAT_MONTHS = 3


def cell_text(texts: Texts, cell: Cell) -> str:
    return str(cell.count) if cell.count is not None else texts.get("insight_too_few")


def table_text(texts: Texts, table: Table) -> str:
    """A table as chat lines: one block per column (a month, a quarter), one line per row."""
    lines = [f"<b>{escape(table.title)}</b>"]
    for index, (_, column) in enumerate(table.columns):
        lines.append("")
        lines.append(f"<i>{escape(column)}</i>")
        lines += [
            f"• {escape(row.label)}: {cell_text(texts, row.cells[index])}" for row in table.rows
        ]
    lines += ["", *(f"<i>{escape(note)}</i>" for note in table.notes)]
    return "\n".join(lines)


async def on_command(ctx: Context, event: Event) -> Reply:
    scopes = [s for s in await scopes_of(ctx) if s.steunpunt_key]
    if not scopes:
        return Reply().add(staff_menu(ctx, ctx.texts.get("insight_only_steunpunt")))
    return await show(ctx, "users", scopes[0].member_id, "all")


async def show(ctx: Context, table_id: str, member_id: int, unit: str) -> Reply:
    texts = ctx.texts
    scopes = [s for s in await scopes_of(ctx) if s.steunpunt_key]
    scope = next((s for s in scopes if s.member_id == member_id), None)
    area = await insight.steunpunt_area(ctx.session, scope.steunpunt_key or "") if scope else None
    if scope is None or area is None:
        return ctx.stale_button()
    months = insight.completed_months(ctx.now)
    filters = insight.Filters(
        municipality=unit if unit in area.codes else None,
        first_month=insight.month_id(months[-CHAT_MONTHS]),
    )
    if table_id == "users":
        table = await insight.users_table(ctx.session, texts, area, ctx.now, filters)
    elif table_id == "bands":
        table = await insight.bands_table(ctx.session, texts, area, ctx.now, filters)
    elif table_id == "requests":
        table = await insight.requests_table(ctx.session, texts, area, ctx.now, filters)
    else:
        last_quarter = insight.completed_quarters(ctx.now)[-1][0]
        filters = insight.Filters(filters.municipality, insight.month_id(last_quarter))
        table = await insight.respite_table(ctx.session, texts, area, ctx.now, filters)
    buttons = [
        Button(texts.get(f"insight_button_{t}"), BUTTONS.pack(t, member_id, unit))
        for t in TABLES
        if t != table_id
    ]
    units = [("all", area.name), *area.municipalities] if len(area.codes) > 1 else []
    buttons += [
        Button(texts.get("insight_button_unit", name=name), BUTTONS.pack(table_id, member_id, code))
        for code, name in units
        if code != unit
    ]
    buttons += [
        Button(
            texts.get("insight_button_other", name=await _name(ctx, s.steunpunt_key)),
            BUTTONS.pack(table_id, s.member_id, "all"),
        )
        for s in scopes
        if s.member_id != member_id
    ]
    buttons.append(command_button(texts.get("button_menu"), "menu"))
    text = table_text(texts, table) + "\n\n" + texts.get("insight_console_hint")
    return Reply().add(OutMessage(text, rows(*buttons)))


async def _name(ctx: Context, key: str | None) -> str:
    area = await insight.steunpunt_area(ctx.session, key or "")
    return area.name if area else ""


async def on_button(ctx: Context, event: Event) -> Reply:
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    return await show(ctx, pressed.action, pressed.number(0), pressed.text(1))


def register(registry: Registry) -> None:
    registry.staff_commands[COMMAND] = on_command
    registry.staff_buttons[BUTTONS.prefix] = on_button
    registry.staff_menu.append(MenuEntry(COMMAND, "insight_menu", 13))
