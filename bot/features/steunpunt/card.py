"""Steunpunten keep their own card: `/kaart` (staff of a steunpunt only) shows the card as
caregivers see it; the dialog `dialogs/steunpunt_card.yaml` asks for one field (checked typed
steps); a preview and an explicit "Opslaan" save it, and caregivers see it at once. Every change
is kept (`SteunpuntChange`: who, when, old and new) for the operator's `steunpunt changes` and
`steunpunt undo`.

Who may edit is checked at every step from the staff membership itself (not from the buttons):
staff of another steunpunt, revoked staff and caregivers change nothing, whatever they send.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, PersonalData, Registry
from bot.app.roles import active_memberships, staff_menu
from bot.db.directory import Municipality, Steunpunt, SteunpuntMunicipality
from bot.db.models import DialogRun
from bot.db.staff import StaffMember
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog
from bot.features.questionnaire.handlers import open_dialog
from bot.features.steunpunt.directory import (
    Place,
    find_by_name,
    municipality,
    steunpunt_by_key,
    suggest_places,
)
from bot.features.steunpunt.models import SteunpuntCardDraft, SteunpuntChange
from bot.features.steunpunt.places import PlacesLayer, normalise_name
from bot.text.content import Texts
from bot.text.fields import format_phone, international_phone
from bot.text.hours import opening_hours

COMMAND = "kaart"
# Staff buttons: kt:sp:<key> | kt:ok:<token> | kt:no:<token> | kt:mun:add|del:<code>
BUTTONS = ButtonCodec(
    "kt",
    {"sp": (str,), "ok": (str,), "no": (str,), "mun": (("add", "del"), str)},
)
DIALOG = "steunpunt_card"
PREVIEW_ACTION = "steunpunt.card_preview"
MUNICIPALITY_ACTION = "steunpunt.card_municipality"
MUNICIPALITIES = "municipalities"
# The fields staff can change (the dialog's step ids); municipalities are stored as a list.
FIELDS = ("phone", "website", "email", "opening_hours", "services_text", MUNICIPALITIES)
# A preview not confirmed within this time is gone; its "Opslaan" saves nothing.
DRAFT_TTL = timedelta(hours=24)
OPERATOR = "operator"


class CardError(Exception):
    """An operator command on the card history that cannot be done, with the reason."""


@dataclass(frozen=True)
class CardData:
    """What a steunpunt's card shows, apart from the database row (a preview changes a copy)."""

    name: str
    organisation: str
    example: bool
    services: tuple[str, ...]
    services_text: str | None
    phone: str | None
    email: str | None
    website: str | None
    address: str | None
    opening_hours: str | None

    @classmethod
    def of(cls, s: Steunpunt) -> CardData:
        return cls(s.name, s.organisation, s.example, tuple(s.services), s.services_text,
                   s.phone, s.email, s.website, s.address, s.opening_hours)  # fmt: skip


def phone_text(texts: Texts, number: str) -> str:
    """The card's phone line: the Dutch way ("073 123 4567") and the +31 form, which Telegram
    makes tappable in every client; service numbers (0800) alone."""
    international = international_phone(number)
    if international is None:
        return texts.get("steunpunt_card_phone", phone=format_phone(number))
    return texts.get(
        "steunpunt_card_phone_tappable", phone=format_phone(number), international=international
    )


def card_text(texts: Texts, card: CardData) -> str:
    """The card as caregivers see it; every value is escaped (`Texts.get`)."""
    lines = [f"<b>{html.escape(card.name)}</b>", html.escape(card.organisation)]
    if card.example:
        lines.append(texts.get("steunpunt_card_example"))
    if card.services:
        services = ", ".join(texts.get(f"service_{s}") for s in card.services)
        lines.append(texts.get("steunpunt_card_services", services=services))
    if card.services_text:
        lines.append(texts.get("steunpunt_card_services_text", text=card.services_text))
    if card.phone:
        lines.append(phone_text(texts, card.phone))
    if card.email:
        lines.append(texts.get("steunpunt_card_email", email=card.email))
    if card.website:
        lines.append(texts.get("steunpunt_card_website", website=card.website))
    if card.address:
        lines.append(texts.get("steunpunt_card_address", address=card.address))
    if card.opening_hours:
        hours, as_written = opening_hours(card.opening_hours, texts.translator.locale)
        key = "steunpunt_card_hours_as_written" if as_written else "steunpunt_card_hours"
        lines.append(texts.get(key, hours=hours))
    return "\n".join(lines)


# --- the card's values and their history (database; also used by the operator) ---------------


async def served_codes(session: AsyncSession, steunpunt: Steunpunt) -> list[str]:
    query = select(SteunpuntMunicipality.municipality_code).where(
        SteunpuntMunicipality.steunpunt_id == steunpunt.id
    )
    return sorted((await session.scalars(query)).all())


async def current_value(session: AsyncSession, steunpunt: Steunpunt, field: str) -> str | None:
    """A field as the history keeps it: the column's value, municipalities as "GM0796;GM0797"."""
    if field == MUNICIPALITIES:
        return ";".join(await served_codes(session, steunpunt))
    value: str | None = getattr(steunpunt, field)
    return value


async def _apply(
    session: AsyncSession, steunpunt: Steunpunt, field: str, value: str | None
) -> None:
    if field != MUNICIPALITIES:
        setattr(steunpunt, field, value or None)
        return
    codes = [c for c in (value or "").split(";") if c]
    known = set((await session.scalars(select(Municipality.code).where(
        Municipality.code.in_(codes)))).all())  # fmt: skip
    if not codes or set(codes) - known:
        raise CardError(
            f"steunpunt {steunpunt.key}: municipalities {value!r} are not all in the directory"
        )
    await session.execute(
        delete(SteunpuntMunicipality).where(SteunpuntMunicipality.steunpunt_id == steunpunt.id)
    )
    session.add_all(SteunpuntMunicipality(steunpunt_id=steunpunt.id, municipality_code=c)
                    for c in codes)  # fmt: skip
    await session.flush()


async def change_card(
    session: AsyncSession,
    steunpunt: Steunpunt,
    field: str,
    value: str | None,
    now: datetime,
    *,
    member: StaffMember | None = None,
    name: str = "",
    undo_of: int | None = None,
) -> SteunpuntChange:
    """Set one field of the card and keep the change (by `member`, or by the operator)."""
    assert field in FIELDS, field
    old = await current_value(session, steunpunt, field)
    await _apply(session, steunpunt, field, value)
    change = SteunpuntChange(
        steunpunt_key=steunpunt.key,
        field=field,
        old_value=old,
        new_value=value or None,
        changed_at=now,
        source="staff" if member is not None else OPERATOR,
        staff_member_id=member.id if member is not None else None,
        staff_caregiver_id=member.caregiver_id if member is not None else None,
        staff_name=name,
        undo_of=undo_of,
    )
    session.add(change)
    await session.flush()
    return change


async def recent_changes(session: AsyncSession, limit: int = 20) -> list[SteunpuntChange]:
    query = select(SteunpuntChange).order_by(SteunpuntChange.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def undone_by(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """change id -> the id of the change that undid it."""
    query = select(SteunpuntChange.undo_of, SteunpuntChange.id).where(
        SteunpuntChange.undo_of.in_(ids)
    )
    return {undone: by for undone, by in (await session.execute(query)).all() if undone}


async def undo_change(session: AsyncSession, change_id: int, now: datetime) -> SteunpuntChange:
    """Put the old value of change `change_id` back, kept as a change of its own. Refused when
    the field changed again since (undo the later change first) or it was undone already."""
    change = await session.get(SteunpuntChange, change_id)
    if change is None:
        raise CardError(f"no change with id {change_id} (see: steunpunt changes)")
    if (await undone_by(session, [change_id])).get(change_id):
        raise CardError(f"change {change_id} is undone already")
    steunpunt = await steunpunt_by_key(session, change.steunpunt_key)
    if steunpunt is None:
        raise CardError(f"steunpunt {change.steunpunt_key!r} is no longer in the directory")
    now_value = await current_value(session, steunpunt, change.field)
    if (now_value or None) != change.new_value:
        later = await session.scalar(
            select(SteunpuntChange.id)
            .where(SteunpuntChange.steunpunt_key == change.steunpunt_key,
                   SteunpuntChange.field == change.field, SteunpuntChange.id > change_id)
            .order_by(SteunpuntChange.id.desc())
            .limit(1)
        )  # fmt: skip
        since = f" by change {later}" if later else " (by a directory import)"
        raise CardError(
            f"the {change.field} of {change.steunpunt_key} changed again since{since}; "
            "undo that first"
        )
    return await change_card(
        session, steunpunt, change.field, change.old_value, now, name=OPERATOR, undo_of=change_id
    )


# --- Telegram: staff edit the card ----------------------------------------------------------------


class CardEditor:
    """The staff side of the card: `/kaart`, the end actions of its dialog, and its buttons.

    Pitfall: every handler looks the membership up again (`_member`): a button may come from
    anyone (forged data), and a membership can be revoked between preview and "Opslaan"."""

    def __init__(self, layer: PlacesLayer) -> None:
        self.layer = layer

    @staticmethod
    async def _member(ctx: Context, key: str) -> StaffMember | None:
        members = await active_memberships(ctx.session, ctx.caregiver.id)
        return next((m for m in members if m.steunpunt_key == key), None)

    @staticmethod
    def _more(ctx: Context, key: str) -> OutMessage:
        texts = ctx.texts
        return OutMessage(
            texts.get(key),
            rows(
                command_button(texts.get("card_change_more"), COMMAND),
                command_button(texts.get("staff_menu_button"), "medewerker"),
            ),
        )

    async def on_command(self, ctx: Context, event: Event) -> Reply:
        members = [m for m in await active_memberships(ctx.session, ctx.caregiver.id)
                   if m.steunpunt_key]  # fmt: skip
        if not members:
            return Reply().add(staff_menu(ctx, ctx.texts.get("card_no_steunpunt")))
        if len(members) == 1:
            assert members[0].steunpunt_key is not None
            return await self.show(ctx, members[0].steunpunt_key)
        buttons = []
        for member in members:
            assert member.steunpunt_key is not None
            steunpunt = await steunpunt_by_key(ctx.session, member.steunpunt_key)
            if steunpunt is not None:
                buttons.append(Button(steunpunt.name, BUTTONS.pack("sp", steunpunt.key)))
        return Reply().add(OutMessage(ctx.texts.get("card_which_steunpunt"), rows(*buttons)))

    async def show(self, ctx: Context, key: str) -> Reply:
        """The card as caregivers see it, and the dialog's first question: which field."""
        steunpunt = await steunpunt_by_key(ctx.session, key)
        if steunpunt is None:
            return Reply().add(staff_menu(ctx, ctx.texts.get("card_steunpunt_gone")))
        draft = await ctx.session.get(SteunpuntCardDraft, ctx.caregiver.id)
        if draft is None:
            draft = SteunpuntCardDraft(caregiver_id=ctx.caregiver.id)
            ctx.session.add(draft)
        draft.steunpunt_key, draft.created_at = key, ctx.now
        draft.field = draft.value = draft.token = None
        reply = Reply().add(
            OutMessage(ctx.texts.get("card_as_seen")),
            OutMessage(card_text(ctx.texts, CardData.of(steunpunt))),
        )
        # /kaart always starts at the first question, never in the middle of an earlier edit.
        opened = await open_dialog(ctx, ctx.content.dialogs[DIALOG], fresh=True)
        return reply.add(*opened.messages)

    async def _draft(self, ctx: Context) -> tuple[SteunpuntCardDraft, Steunpunt] | None:
        """The draft of a member of its steunpunt, with the steunpunt; None for anyone else."""
        draft = await ctx.session.get(SteunpuntCardDraft, ctx.caregiver.id)
        if draft is None or draft.created_at + DRAFT_TTL <= ctx.now:
            return None
        if await self._member(ctx, draft.steunpunt_key) is None:
            return None
        steunpunt = await steunpunt_by_key(ctx.session, draft.steunpunt_key)
        return (draft, steunpunt) if steunpunt is not None else None

    async def on_preview(
        self, ctx: Context, dialog: Dialog, run: DialogRun, state: State
    ) -> list[OutMessage]:
        """End action: the typed (and checked) value of one field, as a preview to confirm."""
        found = await self._draft(ctx)
        field = state.answers.get("field", "")
        if found is None or field not in FIELDS:
            return [ctx.menu_message("card_not_allowed")]
        draft, steunpunt = found
        return await self.preview(ctx, draft, steunpunt, field, state.answers.get(field, ""))

    async def preview(
        self,
        ctx: Context,
        draft: SteunpuntCardDraft,
        steunpunt: Steunpunt,
        field: str,
        value: str,
    ) -> list[OutMessage]:
        texts = ctx.texts
        if (await current_value(ctx.session, steunpunt, field) or "") == value:
            return [self._more(ctx, "card_unchanged")]
        draft.field, draft.value = field, value
        draft.token, draft.created_at = secrets.token_hex(4), ctx.now
        if field == MUNICIPALITIES:
            names = [await self._name(ctx, code) for code in value.split(";")]
            text = texts.get("card_preview_municipalities", municipalities=", ".join(names))
        else:
            changed = CardData(**{**asdict(CardData.of(steunpunt)), field: value})
            text = "\n\n".join([texts.get("card_preview"), card_text(texts, changed)])
        buttons = rows(
            Button(texts.get("card_save"), BUTTONS.pack("ok", draft.token)),
            Button(texts.get("card_dont_save"), BUTTONS.pack("no", draft.token)),
        )
        return [OutMessage(text), OutMessage(texts.get("card_confirm"), buttons)]

    @staticmethod
    async def _name(ctx: Context, code: str) -> str:
        place = await municipality(ctx.session, code)
        return place.name if place is not None else code

    async def on_municipality(
        self, ctx: Context, dialog: Dialog, run: DialogRun, state: State
    ) -> list[OutMessage]:
        """End action: a municipality to add (typed name) or the served ones to remove."""
        found = await self._draft(ctx)
        if found is None:
            return [ctx.menu_message("card_not_allowed")]
        draft, steunpunt = found
        texts = ctx.texts
        served = await served_codes(ctx.session, steunpunt)
        if state.answers.get(MUNICIPALITIES) == "remove":
            if len(served) <= 1:
                return [self._more(ctx, "card_municipality_last")]
            buttons = [
                Button(await self._name(ctx, c), BUTTONS.pack("mun", "del", c)) for c in served
            ]
            return [OutMessage(texts.get("card_municipality_which_remove"), rows(*buttons))]
        typed = state.answers.get("municipality", "")
        named = await find_by_name(ctx.session, self.layer, normalise_name(typed))
        coded = list({p.code: p for _, p in named if p.code is not None}.values())
        if len(coded) == 1:
            return await self.add(ctx, draft, steunpunt, coded[0])
        if coded:
            return [OutMessage(texts.get("card_municipality_which"), self._choices(ctx, coded))]
        if named:
            place = named[0][1]
            return [self._more_with(ctx, "card_municipality_not_in_directory", place.name)]
        suggested = await suggest_places(ctx.session, self.layer, normalise_name(typed))
        places = list({p.code: p for _, p in suggested if p.code is not None}.values())
        if places:
            return [OutMessage(texts.get("card_municipality_did_you_mean"),
                               self._choices(ctx, places))]  # fmt: skip
        return [self._more_with(ctx, "card_municipality_not_found", typed.strip()[:60])]

    def _more_with(self, ctx: Context, key: str, name: str) -> OutMessage:
        more = self._more(ctx, "card_change_more")
        return OutMessage(ctx.texts.get(key, name=name), more.buttons)

    @staticmethod
    def _choices(ctx: Context, places: list[Place]) -> tuple[tuple[Button, ...], ...]:
        buttons = [Button(ctx.texts.get("card_municipality_option", name=p.name,
                                        province=p.province), BUTTONS.pack("mun", "add", p.code))
                   for p in places if p.code is not None]  # fmt: skip
        return rows(*buttons, command_button(ctx.texts.get("card_change_more"), COMMAND))

    async def add(
        self, ctx: Context, draft: SteunpuntCardDraft, steunpunt: Steunpunt, place: Place
    ) -> list[OutMessage]:
        served = await served_codes(ctx.session, steunpunt)
        if place.code in served:
            return [self._more_with(ctx, "card_municipality_already", place.name)]
        assert place.code is not None
        value = ";".join(sorted([*served, place.code]))
        return await self.preview(ctx, draft, steunpunt, MUNICIPALITIES, value)

    async def on_button(self, ctx: Context, event: Event) -> Reply:
        pressed = BUTTONS.unpack(event.text)
        if pressed is None:
            return ctx.stale_button()
        action, first = pressed.action, pressed.text(0)
        texts = ctx.texts
        if action == "sp" and await self._member(ctx, first) is not None:
            return await self.show(ctx, first)
        found = await self._draft(ctx)
        if found is None:
            return ctx.stale_button()
        draft, steunpunt = found
        if action == "mun":
            code = pressed.text(1)
            place = await municipality(ctx.session, code)
            served = await served_codes(ctx.session, steunpunt)
            if place is not None and place.code is not None and first == "add":
                reply = Reply(pressed_label=place.name)
                return reply.add(*await self.add(ctx, draft, steunpunt, place))
            if place is not None and code in served and len(served) > 1:
                value = ";".join(c for c in served if c != code)
                reply = Reply(pressed_label=place.name)
                return reply.add(*await self.preview(ctx, draft, steunpunt, MUNICIPALITIES, value))
            return ctx.stale_button()
        token_matches = draft.token is not None and first == draft.token
        if action == "no" and token_matches:
            draft.field = draft.value = draft.token = None
            return Reply(pressed_label=texts.get("card_dont_save")).add(
                self._more(ctx, "card_not_saved")
            )
        if action == "ok" and token_matches and draft.field in FIELDS:
            member = await self._member(ctx, steunpunt.key)
            assert member is not None  # `_draft` checked it in this transaction
            try:
                await change_card(
                    ctx.session, steunpunt, draft.field, draft.value, ctx.now,
                    member=member, name=ctx.display_name or member.display_name,
                )  # fmt: skip
            except CardError:  # a municipality left the directory since the preview
                draft.field = draft.value = draft.token = None
                return Reply().add(self._more(ctx, "card_not_saved"))
            await ctx.session.delete(draft)
            return Reply(pressed_label=texts.get("card_save")).add(self._more(ctx, "card_saved"))
        return ctx.stale_button()


def register(registry: Registry, layer: PlacesLayer) -> None:
    editor = CardEditor(layer)
    registry.staff_commands[COMMAND] = editor.on_command
    registry.staff_buttons[BUTTONS.prefix] = editor.on_button
    registry.staff_menu.append(MenuEntry(COMMAND, "card_menu", 30))
    registry.actions[PREVIEW_ACTION] = editor.on_preview
    registry.actions[MUNICIPALITY_ACTION] = editor.on_municipality
    # A staff member's own half-made edit, and the card changes they made: those stay when the
    # staff member is erased, without their name (`ERASED_WITH_STAFF`).
    registry.add_personal_data(
        PersonalData(
            SteunpuntCardDraft,
            SteunpuntCardDraft.caregiver_id,
            label="kept_card_draft",
            timed=SteunpuntCardDraft.created_at,
        ),
        PersonalData(
            SteunpuntChange,
            SteunpuntChange.staff_caregiver_id,
            label="kept_card_change",
            outlives_caregiver=True,
        ),
    )
