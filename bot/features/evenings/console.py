"""Family evenings on the web console, for the staff of a location: the upcoming evenings with
their counts, one evening with who comes (the RSVP list), changing it, cancelling it, and the
answers as a CSV file. Changes go through `bot.features.evenings.plan`, as in the chat: a new
version, reminders planned again, and the families told through the scheduled rows.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app.registry import ConsolePage, Registry
from bot.console.request import ConsoleRequest, Download, NotFound, Page, Redirect
from bot.db.staff import Location
from bot.features.evenings import plan
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.text.dates import form_datetime, parse_form_datetime

TEMPLATES = Path(__file__).resolve().parent / "templates"
LISTED = 30
# A spreadsheet runs a cell that starts with one of these as a formula: shown as text instead.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


EDIT_DIALOG = "evening_edit"


def limits(req: ConsoleRequest) -> dict[str, int]:
    """How long each field may be, how many guests, how many days ahead: read from the chat's
    own edit dialog (dialogs/evenings_edit.yaml), so the page and the chat check the same."""
    steps = req.core.content.dialogs[EDIT_DIALOG].steps
    found = {name: steps[name].max for name in ("title", "place", "description", "max_guests")}
    found["days_ahead"] = steps["starts_at"].max
    found["guests_min"] = steps["max_guests"].min or 1
    assert all(v is not None for v in found.values()), f"{EDIT_DIALOG}: a bound is missing"
    return {k: int(v or 0) for k, v in found.items()}


async def _evening(req: ConsoleRequest) -> tuple[FamilyEvening, Location]:
    """The evening of the path, when it is of one of the user's locations; else `NotFound`."""
    found = await plan.evening_and_location(req.session, req.number(), lock=True)
    if found is None:
        raise NotFound
    req.location_scope(found[0].location_id)
    return found


def _groups(answers: list[EveningRsvp]) -> list[tuple[str, list[EveningRsvp]]]:
    return [
        ("evening_names_yes", [r for r in answers if r.answer == "yes" and not r.waitlisted]),
        ("evening_names_maybe", [r for r in answers if r.answer == "maybe"]),
        ("evening_names_no", [r for r in answers if r.answer == "no"]),
        ("evening_names_waitlist", [r for r in answers if r.answer == "yes" and r.waitlisted]),
    ]


async def list_page(req: ConsoleRequest) -> Page:
    evenings = list(
        await req.session.scalars(
            select(FamilyEvening)
            .where(
                FamilyEvening.location_id.in_(req.location_ids),
                FamilyEvening.status == "active",
                FamilyEvening.starts_at > req.now,
            )
            .order_by(FamilyEvening.starts_at)
            .limit(LISTED)
        )
    )
    rows = []
    for evening in evenings:
        location = await req.session.get(Location, evening.location_id)
        answers = await plan.answers_of(req.session, evening.id)
        rows.append({"evening": evening, "location": location, "counts": plan.count(answers)})
    return Page("evenings.html", "console_evenings_title", {"rows": rows})


async def detail_page(
    req: ConsoleRequest, errors: dict[str, str] | None = None, status: int = 200
) -> Page:
    evening, location = await _evening(req)
    answers = await plan.answers_of(req.session, evening.id)
    form = {
        "title": evening.title,
        "starts_at": form_datetime(evening.starts_at),
        "place": evening.place,
        "description": evening.description,
        "max_guests": "" if evening.max_guests is None else str(evening.max_guests),
    }
    if errors is not None:
        form |= {k: v for k, v in req.form.items() if k in form}
    values = {
        "evening": evening,
        "location": location,
        "counts": plan.count(answers),
        "groups": _groups(answers),
        "editable": plan.is_upcoming(evening, req.now),
        "form": form,
        "errors": errors or {},
        "limits": limits(req),
    }
    return Page("evening.html", "console_evening_title", values, status=status)


def check_form(
    req: ConsoleRequest, evening: FamilyEvening
) -> tuple[dict[str, Any], dict[str, str]]:
    """The changed fields of the edit form, checked as the chat checks its answers; (changes,
    field -> the problem in words)."""
    texts = req.texts
    form = req.form
    bound = limits(req)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    title = " ".join(form.get("title", "").split())
    place = form.get("place", "").strip()
    description = form.get("description", "").replace("\r\n", "\n").strip()
    for name, value, limit, needed in (
        ("title", title, bound["title"], True),
        ("place", place, bound["place"], True),
        ("description", description, bound["description"], False),
    ):
        if needed and not value:
            errors[name] = texts.get("console_field_empty")
        elif len(value) > limit:
            errors[name] = texts.get("typed_text_long", length=len(value), max=limit)
    raw_max = form.get("max_guests", "").strip()
    max_guests: int | None = None
    if raw_max:
        low, high = bound["guests_min"], bound["max_guests"]
        if raw_max.isdigit() and len(raw_max) < 10 and low <= int(raw_max) <= high:
            max_guests = int(raw_max)
        else:
            errors["max_guests"] = texts.get("console_evening_max_invalid", max=high)
    starts_at = parse_form_datetime(form.get("starts_at", ""))
    if starts_at is None:
        errors["starts_at"] = texts.get("console_evening_when_unclear")
    elif starts_at <= req.now:
        errors["starts_at"] = texts.get("evening_when_past")
    elif starts_at > req.now + timedelta(days=bound["days_ahead"]):
        errors["starts_at"] = texts.get("console_evening_when_too_far")
    wanted: dict[str, Any] = {"title": title, "starts_at": starts_at, "place": place,
                              "description": description, "max_guests": max_guests}  # fmt: skip
    for name, new in wanted.items():
        if name not in errors and getattr(evening, name) != new:
            changes[name] = new
    return changes, errors


async def edit(req: ConsoleRequest) -> Page | Redirect:
    evening, location = await _evening(req)
    if not plan.is_upcoming(evening, req.now):
        return Redirect(f"evenings/{evening.id}", "console_notice_evening_not_editable")
    changes, errors = check_form(req, evening)
    if errors:
        return await detail_page(req, errors, 422)
    if not changes:
        return Redirect(f"evenings/{evening.id}", "console_notice_evening_unchanged")
    await plan.change_evening(req.session, evening, location, changes, req.now)
    return Redirect(f"evenings/{evening.id}", "console_notice_evening_changed")


async def cancel(req: ConsoleRequest) -> Redirect:
    evening, location = await _evening(req)
    if not plan.is_upcoming(evening, req.now):
        return Redirect(f"evenings/{evening.id}", "console_notice_evening_not_editable")
    if req.form.get("confirm") != "yes":
        return Redirect(f"evenings/{evening.id}", "console_notice_evening_confirm_cancel")
    await plan.cancel_evening(req.session, evening, location, req.now)
    return Redirect("evenings", "console_notice_evening_cancelled")


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


async def export(req: ConsoleRequest) -> Download:
    """Who answered what, for the location's own lists (names as the families gave them)."""
    evening, _ = await _evening(req)
    texts = req.texts
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([texts.get(f"console_csv_{c}") for c in
                     ("name", "answer", "people", "waitlist", "answered")])  # fmt: skip
    for rsvp in await plan.answers_of(req.session, evening.id):
        writer.writerow(
            [
                _cell(rsvp.display_name or texts.get("evening_name_unknown")),
                texts.get(f"console_answer_{rsvp.answer}"),
                rsvp.party_size if rsvp.answer == "yes" else "",
                texts.get("console_yes") if rsvp.waitlisted else "",
                form_datetime(rsvp.answered_at).replace("T", " "),
            ]
        )
    # With a byte order mark: spreadsheets then read the names' accents right.
    body = ("\ufeff" + out.getvalue()).encode("utf-8")
    return Download(body, "text/csv", f"aanmeldingen-{evening.id}.csv")


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("evenings", list_page, role="location", nav_key="console_nav_evenings",
                    order=20),
        ConsolePage(r"evenings/{id:\d+}", detail_page, role="location"),
        ConsolePage(r"evenings/{id:\d+}/edit", edit, role="location", method="POST"),
        ConsolePage(r"evenings/{id:\d+}/cancel", cancel, role="location", method="POST"),
        ConsolePage(r"evenings/{id:\d+}/rsvps.csv", export, role="location"),
    )  # fmt: skip
