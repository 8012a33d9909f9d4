"""`/steunpunt`: find the mantelzorgsteunpunt that serves the caregiver (postcode, place name or a
shared location), optionally also the one where the cared-for person lives, and save it.

The search in progress lives in `CaregiverSteunpunt.flow`, so a restart loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, PersonalData, Registry, suggested
from bot.app.router import close_step, open_step
from bot.db.directory import CaregiverSteunpunt, Steunpunt
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import DIALOGS_DIR, DialogError, load_yaml
from bot.features.steunpunt import card as card_editing
from bot.features.steunpunt.card import CardData, card_text
from bot.features.steunpunt.directory import (
    Found,
    Place,
    find_by_location,
    find_by_name,
    find_by_postcode,
    find_by_ref,
    find_in,
    municipalities_of,
    parse_query,
    steunpunt_by_key,
    suggest_places,
)
from bot.features.steunpunt.places import PlacesLayer, national_layer

COMMAND = "steunpunt"
# sp:search | sp:save:<key> | sp:pick:own|cared:<place ref> | sp:retype | sp:stop | sp:other:yes|no
BUTTONS = ButtonCodec(
    "sp",
    {
        "search": (),
        "save": (str,),
        "pick": (("own", "cared"), str),
        "retype": (),
        "stop": (),
        "other": (("yes", "no"),),
    },
)
OWN, CARED = "own", "cared"
# How long typed text still counts as the answer to "where do you live?".
SEARCH_WINDOW = timedelta(hours=1)
# The open step while the finder waits for a postcode, place name or location.
SEARCH_STEP = "steunpunt.search"


class Finder:
    """The feature's handlers, bound to the national places layer and to the contacts that
    `steunpunt.yaml` names for a municipality whose steunpunt is not in the directory."""

    def __init__(
        self, fallback_contacts: tuple[str, ...], layer: PlacesLayer | None = None
    ) -> None:
        self.fallback_contacts = fallback_contacts
        self.layer = layer or national_layer()

    # --- state -----------------------------------------------------------------------------

    @staticmethod
    async def _row(ctx: Context) -> CaregiverSteunpunt:
        # The caregiver row is locked for this update, so get-then-add cannot race.
        row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
        if row is None:
            row = CaregiverSteunpunt(caregiver_id=ctx.caregiver.id, flow={}, updated_at=ctx.now)
            ctx.session.add(row)
        return row

    @staticmethod
    async def _set_flow(ctx: Context, row: CaregiverSteunpunt, flow: dict[str, Any]) -> None:
        row.flow, row.updated_at = flow, ctx.now  # a new dict: JSON columns track assignment
        if "awaiting" in flow:
            await open_step(ctx, SEARCH_STEP, ("text", "location"), SEARCH_WINDOW)
        else:
            await close_step(ctx, SEARCH_STEP)

    @staticmethod
    def _awaiting(ctx: Context, row: CaregiverSteunpunt | None) -> str | None:
        if row is None or row.flow.get("awaiting") not in (OWN, CARED):
            return None
        until = row.flow.get("until")
        if until is None or datetime.fromisoformat(until) < ctx.now:
            return None
        return str(row.flow["awaiting"])

    # --- rendering ---------------------------------------------------------------------------

    def card(self, ctx: Context, steunpunt: Steunpunt, *, saved: bool = False) -> OutMessage:
        texts = ctx.texts
        buttons = []
        if steunpunt.website:
            buttons.append(Button(texts.get("steunpunt_open_website"), "", url=steunpunt.website))
        if saved:
            buttons.append(Button(texts.get("steunpunt_search_again"), BUTTONS.pack("search")))
        else:
            buttons.append(Button(texts.get("steunpunt_save"), BUTTONS.pack("save", steunpunt.key)))
        return OutMessage(card_text(texts, CardData.of(steunpunt)), rows(*buttons))

    async def help_card(self, ctx: Context) -> OutMessage | None:
        """For /hulp: the caregiver's own saved steunpunt, first of all contacts."""
        row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
        if row is None or not row.steunpunt_key:
            return None
        steunpunt = await steunpunt_by_key(ctx.session, row.steunpunt_key)
        if steunpunt is None:
            return None
        return self.card(ctx, steunpunt, saved=True)

    def not_in_directory(self, ctx: Context, place: Place) -> OutMessage:
        """An honest answer: the municipality is known, its steunpunt is not in the directory
        yet. What works instead, without invented numbers: the municipality's own desk, the
        national steunpunt search of MantelzorgNL, the configured contacts, a line to talk to."""
        texts = ctx.texts
        municipality = place.name
        lines = [
            texts.get("steunpunt_not_in_directory", municipality=municipality),
            "",
            texts.get("steunpunt_what_works"),
            texts.get("steunpunt_wmo", municipality=municipality),
            texts.get("steunpunt_mantelzorgnl"),
            *texts.contact_lines(self.fallback_contacts),
            texts.get("steunpunt_luisterlijn"),
        ]
        return OutMessage("\n".join(lines), self.ways_on(ctx))

    @staticmethod
    def ways_on(ctx: Context) -> tuple[tuple[Button, ...], ...]:
        texts = ctx.texts
        return rows(
            Button(texts.get("steunpunt_search_other"), BUTTONS.pack("search")),
            command_button(texts.get("steunpunt_help_button"), "hulp"),
            command_button(texts.get("button_menu"), "menu"),
        )

    def searching(self, ctx: Context, text: str) -> Reply:
        """A question to type again, while the search stays open: stop or a human."""
        buttons = rows(
            Button(ctx.texts.get("steunpunt_stop"), BUTTONS.pack("stop")),
            command_button(ctx.texts.get("steunpunt_help_button"), "hulp"),
        )
        return Reply().add(OutMessage(text, buttons))

    @staticmethod
    def place_option(ctx: Context, who: str, name: str, place: Place) -> Button:
        label = ctx.texts.get(
            "steunpunt_place_option", name=name, municipality=place.name, province=place.province
        )
        return Button(label, BUTTONS.pack("pick", who, place.ref))

    # --- the search ----------------------------------------------------------------------------

    async def ask(self, ctx: Context, row: CaregiverSteunpunt, who: str) -> OutMessage:
        flow = {**row.flow, "awaiting": who, "until": (ctx.now + SEARCH_WINDOW).isoformat()}
        await self._set_flow(ctx, row, flow)
        if who == OWN:
            return OutMessage(
                ctx.texts.get("steunpunt_ask"),
                location_button=ctx.texts.get("steunpunt_location_button"),
                expects="location",
            )
        return OutMessage(ctx.texts.get("steunpunt_ask_cared"), expects="location")

    async def on_command(self, ctx: Context, event: Event) -> Reply:
        row = await self._row(ctx)
        reply = Reply()
        if row.steunpunt_key:
            steunpunt = await steunpunt_by_key(ctx.session, row.steunpunt_key)
            if steunpunt is not None:
                return reply.add(
                    OutMessage(ctx.texts.get("steunpunt_mine")),
                    self.card(ctx, steunpunt, saved=True),
                )
            reply.add(OutMessage(ctx.texts.get("steunpunt_mine_gone")))
        return reply.add(await self.ask(ctx, row, OWN))

    async def on_input(self, ctx: Context, event: Event) -> Reply | None:
        """Typed text or a shared location while the finder waits for one; None otherwise."""
        if event.kind not in ("text", "location"):
            return None
        row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
        who = self._awaiting(ctx, row)
        if row is None or who is None:
            return None
        session = ctx.session
        if event.kind == "location":
            if event.latitude is None or event.longitude is None:
                return None
            found = await find_by_location(session, self.layer, event.latitude, event.longitude)
            if found is None:
                return self.searching(ctx, ctx.texts.get("steunpunt_abroad"))
            return await self.show(ctx, row, who, found, None)
        query = parse_query(event.text)
        if query.postcode is not None:
            found = await find_by_postcode(session, self.layer, int(query.postcode))
            if found.place is None and not found.steunpunten:
                # A valid postcode the bot has no table for: the place name will do.
                return self.searching(
                    ctx, ctx.texts.get("steunpunt_postcode_unknown", postcode=query.postcode)
                )
            return await self.show(ctx, row, who, found, query.postcode)
        places = await find_by_name(session, self.layer, query.name) if query.name else []
        if len(places) == 1:
            return await self.show(ctx, row, who, await find_in(session, places[0][1]), None)
        if places:
            options = [self.place_option(ctx, who, name, p) for name, p in places]
            text = ctx.texts.get("steunpunt_which_place")
        else:
            suggestions = await suggest_places(session, self.layer, query.name)
            if not suggestions:
                return self.not_found(ctx, event.text)
            options = [self.place_option(ctx, who, name, p) for name, p in suggestions]
            text = ctx.texts.get("steunpunt_did_you_mean")
        retype = Button(ctx.texts.get("steunpunt_retype"), BUTTONS.pack("retype"))
        return Reply().add(OutMessage(text, rows(*options, retype)))

    def not_found(self, ctx: Context, typed: str) -> Reply:
        shown = typed.strip()[:60]
        return self.searching(ctx, ctx.texts.get("steunpunt_not_found", query=shown))

    async def show(
        self, ctx: Context, row: CaregiverSteunpunt, who: str, found: Found, pc4: str | None
    ) -> Reply:
        texts = ctx.texts
        reply = Reply()
        if found.near is not None:
            reply.add(OutMessage(self.located(ctx, found), remove_keyboard=True))
        if not found.steunpunten:
            assert found.place is not None  # lookups without steunpunten name the municipality
            await self._set_flow(ctx, row, {})
            if who == OWN and found.place.code is not None:
                row.municipality_code = found.place.code
            if found.near is None:
                key = "steunpunt_municipality_own" if who == OWN else "steunpunt_municipality_cared"
                text = texts.get(key, municipality=found.place.name, province=found.place.province)
                reply.add(OutMessage(text, remove_keyboard=True))
            return reply.add(self.not_in_directory(ctx, found.place))
        if who == CARED:
            return await self.show_both(ctx, row, found)
        own = {
            "place": found.place.code if found.place else None,
            "steunpunten": [s.key for s in found.steunpunten],
            # The postcode digits are kept only with consent, even while searching.
            "pc4": pc4 if ctx.has_consent else None,
        }
        await self._set_flow(ctx, row, {"own": own})
        if found.place is not None:
            # The caregiver's own municipality is remembered as soon as it is known, whether or
            # not they save a steunpunt (respite advice and notices use it).
            row.municipality_code = found.place.code
        if found.near is None:
            reply.add(OutMessage(self.heading(ctx, found, pc4), remove_keyboard=True))
        reply.add(*(self.card(ctx, s) for s in found.steunpunten))
        return reply.add(
            OutMessage(
                texts.get("steunpunt_other_question"),
                rows(
                    Button(texts.get("steunpunt_other_no"), BUTTONS.pack("other", "no")),
                    Button(texts.get("steunpunt_other_yes"), BUTTONS.pack("other", "yes")),
                ),
            )
        )

    @staticmethod
    def located(ctx: Context, found: Found) -> str:
        place = found.place.name if found.place is not None else ""
        return ctx.texts.get("steunpunt_located", place=found.near or "", municipality=place)

    @staticmethod
    def heading(ctx: Context, found: Found, pc4: str | None) -> str:
        # A steunpunt found by its postcode range may serve several municipalities.
        place = found.place.name if found.place is not None else pc4 or ""
        key = "steunpunt_for_place" if len(found.steunpunten) == 1 else "steunpunt_for_place_many"
        return ctx.texts.get(key, place=place)

    async def show_both(self, ctx: Context, row: CaregiverSteunpunt, cared: Found) -> Reply:
        texts = ctx.texts
        own = row.flow.get("own") or {}
        # The own search stays known, so saving either steunpunt keeps the caregiver's municipality.
        await self._set_flow(ctx, row, {"own": own, "compared": True})
        reply = Reply()
        own_keys = list(own.get("steunpunten") or [])
        same = (cared.place is not None and cared.place.code == own.get("place")) or {
            s.key for s in cared.steunpunten
        } <= set(own_keys)
        if same:
            return reply.add(OutMessage(texts.get("steunpunt_same_place")), ctx.menu_message())
        cared_name = cared.place.name if cared.place else cared.steunpunten[0].name
        reply.add(OutMessage(texts.get("steunpunt_two_places", cared=cared_name)))
        own_steunpunten = [s for k in own_keys if (s := await steunpunt_by_key(ctx.session, k))]
        if own_steunpunten:
            reply.add(OutMessage(texts.get("steunpunt_own_heading")))
            reply.add(*(self.card(ctx, s) for s in own_steunpunten))
        reply.add(OutMessage(texts.get("steunpunt_cared_heading", place=cared_name)))
        return reply.add(*(self.card(ctx, s) for s in cared.steunpunten))

    # --- buttons -------------------------------------------------------------------------------

    async def on_button(self, ctx: Context, event: Event) -> Reply:
        """Buttons `sp:<action>[:...]`."""
        pressed = BUTTONS.unpack(event.text)
        if pressed is None:
            return ctx.stale_button()
        action = pressed.action
        row = await self._row(ctx)
        texts = ctx.texts
        if action == "search":
            return Reply(pressed_label=texts.get("steunpunt_search_again")).add(
                await self.ask(ctx, row, OWN)
            )
        if action == "save":
            steunpunt = await steunpunt_by_key(ctx.session, pressed.text(0))
            if steunpunt is not None:
                return await self.save(ctx, row, steunpunt)
        who = self._awaiting(ctx, row)
        if action == "pick" and pressed.text(0) == who:
            found = await find_by_ref(ctx.session, self.layer, pressed.text(1))
            if found is not None and found.place is not None:
                reply = await self.show(ctx, row, who, found, None)
                reply.pressed_label = found.place.name
                return reply
        if action == "retype" and who is not None:
            return Reply(pressed_label=texts.get("steunpunt_retype")).add(
                OutMessage(texts.get("steunpunt_retype_prompt"))
            )
        if action == "stop" and who is not None:
            await self._set_flow(ctx, row, {})
            return Reply(pressed_label=texts.get("steunpunt_stop")).add(
                OutMessage(texts.get("steunpunt_stopped"), remove_keyboard=True),
                ctx.menu_message(),
            )
        if action == "other" and "own" in row.flow and who is None and "compared" not in row.flow:
            if pressed.text(0) == "yes":
                return Reply(pressed_label=texts.get("steunpunt_other_yes")).add(
                    await self.ask(ctx, row, CARED)
                )
            await self._set_flow(ctx, row, {})
            return Reply(pressed_label=texts.get("steunpunt_other_no")).add(
                OutMessage(texts.get("steunpunt_done")), ctx.menu_message()
            )
        return ctx.stale_button()

    @staticmethod
    async def save(ctx: Context, row: CaregiverSteunpunt, steunpunt: Steunpunt) -> Reply:
        own = row.flow.get("own") or {}
        from_own_search = steunpunt.key in (own.get("steunpunten") or [])
        # The caregiver's own municipality, also when they save the cared-for person's steunpunt.
        if own.get("place"):
            row.municipality_code = own["place"]
        elif from_own_search:
            served = await municipalities_of(ctx.session, steunpunt.id)
            row.municipality_code = served[0] if len(served) == 1 else None
        row.steunpunt_key = steunpunt.key
        row.postcode = own.get("pc4") if from_own_search and ctx.has_consent else None
        row.updated_at = ctx.now
        # E.g. back to asking this steunpunt to get in touch (`registry.suggestions`).
        offered = await suggested(ctx, "steunpunt.saved")
        return Reply(toast=ctx.texts.get("steunpunt_saved_toast")).add(
            OutMessage(ctx.texts.get("steunpunt_saved"), rows(*offered))
        )


def fallback_contacts(directory: Path) -> tuple[str, ...]:
    path = directory / "steunpunt.yaml"
    raw = (load_yaml(path).get("fallback_contacts") or []) if path.exists() else []
    known = load_yaml(directory / "contacts.yaml").get("contacts") or {}
    unknown = [c for c in raw if c not in known]
    if unknown:
        raise DialogError(f"steunpunt.yaml: fallback_contacts: not in contacts.yaml: {unknown}")
    return tuple(raw)


def register(registry: Registry, directory: Path = DIALOGS_DIR) -> None:
    finder = Finder(fallback_contacts(directory))
    registry.commands[COMMAND] = finder.on_command
    registry.buttons[BUTTONS.prefix] = finder.on_button
    registry.menu.append(MenuEntry(COMMAND, "menu_steunpunt", 30))
    registry.inputs[SEARCH_STEP] = InputOwner(finder.on_input)
    registry.help_cards.append(finder.help_card)
    # The saved steunpunt and municipality were asked for on their own and need no consent;
    # the postcode and a search in progress do.
    registry.add_personal_data(
        PersonalData(
            CaregiverSteunpunt,
            CaregiverSteunpunt.caregiver_id,
            fields=(
                ("municipality_code", "kept_municipality"),
                ("steunpunt_key", "kept_steunpunt"),
                ("postcode", "kept_postcode"),
                ("flow", "kept_steunpunt_search"),
            ),
            kept_without_consent=True,
            cleared_on_withdrawal={"postcode": None, "flow": {}},
        )
    )
    card_editing.register(registry, finder.layer)
