"""The steunpunt on the web console: its card as caregivers see it, changed field by field with
a preview and "Opslaan" (checked by the steps of `dialogs/steunpunt_card.yaml`, saved and kept
in the history by `bot.features.steunpunt.card.change_card`, exactly as `/kaart` does); and for
operators: the steunpunten without staff, and the recent card changes.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from markupsafe import Markup
from sqlalchemy import func, select

from bot.app.registry import ConsolePage, Registry
from bot.console.request import ConsoleRequest, NotFound, Page, Redirect
from bot.db.directory import CaregiverSteunpunt, Municipality, Steunpunt, SteunpuntMunicipality
from bot.db.staff import StaffMember
from bot.engine.flow import check_typed
from bot.engine.spec import Dialog
from bot.features.steunpunt.card import (
    DIALOG,
    MUNICIPALITIES,
    CardData,
    CardError,
    card_text,
    change_card,
    current_value,
    recent_changes,
    undone_by,
)
from bot.features.steunpunt.directory import steunpunt_by_key
from bot.text.fields import FieldError

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The fields changed on the page; the municipalities are changed in the chat (/kaart), where a
# typed name gets "Bedoel je ...?".
FIELDS = ("phone", "website", "email", "opening_hours", "services_text")
CHANGES_LISTED = 50


def _dialog(req: ConsoleRequest) -> Dialog:
    return req.core.content.dialogs[DIALOG]


def _labels(req: ConsoleRequest) -> dict[str, str]:
    """Each field's name as the chat's "Wat wil je aanpassen?" buttons say it."""
    first = _dialog(req).steps["field"]
    return {option.value: req.texts.tr(option.label) for option in first.options}


async def _steunpunt(req: ConsoleRequest) -> Steunpunt:
    key = req.match.get("key", "")
    req.steunpunt_scope(key)
    steunpunt = await steunpunt_by_key(req.session, key)
    if steunpunt is None:
        raise NotFound
    return steunpunt


async def card_index(req: ConsoleRequest) -> Page | Redirect:
    keys = req.steunpunt_keys
    if len(keys) == 1:
        return Redirect(f"card/{keys[0]}")
    steunpunten = [s for k in keys if (s := await steunpunt_by_key(req.session, k)) is not None]
    return Page("card_choice.html", "console_card_title", {"steunpunten": steunpunten})


def _checked(req: ConsoleRequest, steunpunt: Steunpunt) -> tuple[dict[str, str], dict[str, str]]:
    """The fields the form changes (field -> value as stored) and the problems (field -> text)."""
    dialog = _dialog(req)
    changes: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        if field not in req.form:
            continue  # not on the form: unchanged
        typed = req.form[field].strip()
        current = getattr(steunpunt, field) or ""
        if typed == current:
            continue
        try:
            value = check_typed(dialog.steps[field], typed, req.now)
        except FieldError as error:
            errors[field] = req.texts.get(error.key, **error.values)
            continue
        if value != current:
            changes[field] = value
    return changes, errors


async def _served(req: ConsoleRequest, steunpunt: Steunpunt) -> list[str]:
    names = await req.session.scalars(
        select(Municipality.name)
        .join(SteunpuntMunicipality, SteunpuntMunicipality.municipality_code == Municipality.code)
        .where(SteunpuntMunicipality.steunpunt_id == steunpunt.id)
        .order_by(Municipality.name)
    )
    return list(names)


async def card_page(
    req: ConsoleRequest, errors: dict[str, str] | None = None, status: int = 200
) -> Page:
    steunpunt = await _steunpunt(req)
    dialog = _dialog(req)
    form = {f: getattr(steunpunt, f) or "" for f in FIELDS}
    if errors is not None:
        form |= {f: req.form.get(f, "") for f in FIELDS}
    fields = [
        {
            "name": f,
            "label": _labels(req)[f],
            "hint": Markup(req.texts.tr(dialog.steps[f].text)),
            "value": form[f],
            "max": dialog.steps[f].max,
            "error": (errors or {}).get(f, ""),
        }
        for f in FIELDS
    ]
    values = {
        "steunpunt": steunpunt,
        "card": card_text(req.texts, CardData.of(steunpunt)),
        "fields": fields,
        "municipalities": await _served(req, steunpunt),
    }
    return Page("card.html", "console_card_title", values, status=status)


async def preview(req: ConsoleRequest) -> Page | Redirect:
    steunpunt = await _steunpunt(req)
    changes, errors = _checked(req, steunpunt)
    if errors:
        return await card_page(req, errors, 422)
    if not changes:
        return Redirect(f"card/{steunpunt.key}", "console_notice_card_unchanged")
    changed = CardData(**{**asdict(CardData.of(steunpunt)), **changes})
    labels = _labels(req)
    values = {
        "steunpunt": steunpunt,
        "card": card_text(req.texts, changed),
        "changes": [{"name": f, "label": labels[f], "value": v} for f, v in changes.items()],
        "typed": {f: req.form.get(f, "") for f in FIELDS},
    }
    return Page("card_preview.html", "console_card_preview_title", values)


async def save(req: ConsoleRequest) -> Page | Redirect:
    steunpunt = await _steunpunt(req)
    changes, errors = _checked(req, steunpunt)
    if errors:
        return await card_page(req, errors, 422)
    scope = req.steunpunt_scope(steunpunt.key)
    member = await req.session.get(StaffMember, scope.member_id)
    assert member is not None  # the scope was read from it in this transaction
    for field, value in changes.items():
        if (await current_value(req.session, steunpunt, field) or "") == value:
            continue
        try:
            await change_card(
                req.session, steunpunt, field, value, req.now, member=member,
                name=req.display_name or member.display_name,
            )  # fmt: skip
        except CardError:
            return Redirect(f"card/{steunpunt.key}", "console_notice_card_not_saved")
    return Redirect(f"card/{steunpunt.key}", "console_notice_card_saved")


# ---------------------------------------------------------------- operators


async def without_staff(req: ConsoleRequest) -> Page:
    staffed = select(StaffMember.steunpunt_key).where(
        StaffMember.revoked_at.is_(None), StaffMember.steunpunt_key.is_not(None)
    )
    linked = (
        select(CaregiverSteunpunt.steunpunt_key, func.count().label("n"))
        .group_by(CaregiverSteunpunt.steunpunt_key)
        .subquery()
    )
    rows = (
        await req.session.execute(
            select(Steunpunt, func.coalesce(linked.c.n, 0))
            .outerjoin(linked, linked.c.steunpunt_key == Steunpunt.key)
            .where(Steunpunt.key.not_in(staffed))
            .order_by(Steunpunt.name)
        )
    ).all()
    listed = [{"steunpunt": s, "saved_by": int(n)} for s, n in rows]
    return Page("without_staff.html", "console_without_staff_title", {"rows": listed})


async def changes(req: ConsoleRequest) -> Page:
    found = await recent_changes(req.session, CHANGES_LISTED)
    undone = await undone_by(req.session, [c.id for c in found])
    labels = _labels(req) | {MUNICIPALITIES: _labels(req).get(MUNICIPALITIES, MUNICIPALITIES)}
    rows = [
        {"change": c, "field": labels.get(c.field, c.field), "undone_by": undone.get(c.id)}
        for c in found
    ]
    return Page("changes.html", "console_changes_title", {"rows": rows})


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    key = "{key:[a-z0-9][a-z0-9-]{0,39}}"
    registry.add_console_page(
        ConsolePage("card", card_index, role="steunpunt", nav_key="console_nav_card", order=30),
        ConsolePage(f"card/{key}", card_page, role="steunpunt"),
        ConsolePage(f"card/{key}/preview", preview, role="steunpunt", method="POST"),
        ConsolePage(f"card/{key}/save", save, role="steunpunt", method="POST"),
        ConsolePage("operator/steunpunten", without_staff, role="operator",
                    nav_key="console_nav_without_staff", order=90),
        ConsolePage("operator/changes", changes, role="operator",
                    nav_key="console_nav_changes", order=91),
    )  # fmt: skip
