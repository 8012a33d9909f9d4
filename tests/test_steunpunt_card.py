"""Steunpunten keep their own card: invited staff change phone, website, e-mail, opening hours,
what they do and the municipalities they serve from Telegram, with a preview and a confirmation;
caregivers see it at once; nobody else can change a card, whatever they send; every change is
kept and the operator lists and undoes them. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.app.dispatch import BotCore
from bot.db.directory import Steunpunt
from bot.features.steunpunt.directory import directory_yaml, export_directory, import_file
from bot.features.steunpunt.models import SteunpuntChange
from bot.transport.terminal import plain
from tests.conversation import CoreUser, onboarded, staff_user
from tests.test_staff import directory, operator  # noqa: F401  (the directory fixture)

DEN_BOSCH = "voorbeeld-den-bosch"
HEUSDEN = "voorbeeld-heusden"


async def card_of(core: BotCore, key: str = DEN_BOSCH) -> Steunpunt:
    async with core.db.transaction() as session:
        steunpunt = await session.scalar(select(Steunpunt).where(Steunpunt.key == key))
        assert steunpunt is not None
        return steunpunt


async def changes(core: BotCore) -> list[SteunpuntChange]:
    async with core.db.transaction() as session:
        return list(await session.scalars(select(SteunpuntChange).order_by(SteunpuntChange.id)))


async def caregiver_finds(core: BotCore, user_id: int, place: str) -> str:
    caregiver = await onboarded(core, user_id)
    await caregiver.says("/steunpunt")
    await caregiver.says(place)
    return caregiver.last_text


async def edits(user: CoreUser, field: str, typed: str) -> None:
    await user.says("/kaart")
    await user.taps(field)
    await user.says(typed)


async def test_staff_change_the_phone_number_and_a_caregiver_sees_it_at_once(
    directory: BotCore,  # noqa: F811
) -> None:
    anna = await staff_user(directory, 601, steunpunt_key=DEN_BOSCH, display_name="Anna Jansen")
    await anna.says("/medewerker")
    await anna.taps("Kaart van het steunpunt aanpassen")
    shown = anna.last_text
    assert shown.startswith("Zo zien mantelzorgers nu jullie kaart:")
    assert "Telefoon: 073 000 0000 (+31 73 000 0000)" in shown
    assert "Wat wil je aanpassen?" in shown
    await anna.taps("Telefoonnummer")
    assert "Typ het telefoonnummer" in anna.last_text
    await anna.says("(073) 123 45 67")
    preview = anna.last_text
    assert "Zo zien mantelzorgers je kaart als je dit opslaat:" in preview
    assert "Telefoon: 073 123 4567 (+31 73 123 4567)" in preview
    assert (await card_of(directory)).phone == "+31730000000"  # nothing saved before "Opslaan"

    confirm = list(anna.buttons)
    await anna.taps("Opslaan")
    assert "Opgeslagen. Mantelzorgers zien het meteen." in anna.last_text
    assert (await card_of(directory)).phone == "+31731234567"
    assert "Telefoon: 073 123 4567 (+31 73 123 4567)" in await caregiver_finds(
        directory, 602, "5211"
    )
    (change,) = await changes(directory)
    assert (change.steunpunt_key, change.field, change.old_value, change.new_value) == (
        DEN_BOSCH, "phone", "+31730000000", "+31731234567",
    )  # fmt: skip
    assert change.staff_name == "Anna Jansen" and change.staff_member_id is not None
    anna.buttons = confirm
    await anna.taps("Opslaan")  # the same button again saves nothing more
    assert "Die knop hoort bij vragen die al klaar" in anna.last_text
    assert len(await changes(directory)) == 1


async def test_every_field_is_checked_and_refused_input_is_asked_again_kindly(
    directory: BotCore,  # noqa: F811
) -> None:
    anna = await staff_user(directory, 611, steunpunt_key=DEN_BOSCH)
    await edits(anna, "Telefoonnummer", "+32 2 000 0000")
    assert "Dat is geen Nederlands telefoonnummer" in anna.last_text
    await anna.says("112")
    assert "Dat is geen Nederlands telefoonnummer" in anna.last_text

    await edits(anna, "Website", "http://example.org/nieuw")
    assert "alleen veilige adressen (https://)" in anna.last_text
    await anna.says("javascript:alert(1)")
    assert "Dat is geen webadres" in anna.last_text
    await anna.says("example.org/nieuw")
    assert "Website: https://example.org/nieuw" in anna.last_text

    await edits(anna, "E-mailadres", "info at example.org")
    assert "Dat is geen e-mailadres" in anna.last_text

    await edits(anna, "Openingstijden", "ma " * 101)
    assert "Dat is wat lang (302 tekens). Het kan in 300 tekens." in anna.last_text

    await edits(anna, "Wat jullie doen", "Koffie <b>elke</b> dinsdag & <script>x</script>")
    preview = anna.last.messages[0].text
    assert "Koffie &lt;b&gt;elke&lt;/b&gt; dinsdag &amp; &lt;script&gt;" in preview
    await anna.taps("Opslaan")
    assert (await card_of(directory)).services_text.startswith("Koffie <b>elke</b>")  # type: ignore[union-attr]
    assert [c.field for c in await changes(directory)] == ["services_text"]  # only what was saved


async def test_not_saving_and_the_same_value_change_nothing(directory: BotCore) -> None:  # noqa: F811
    anna = await staff_user(directory, 621, steunpunt_key=DEN_BOSCH)
    await edits(anna, "E-mailadres", "nieuw@example.org")
    await anna.taps("Niet opslaan")
    assert "Niet opgeslagen" in anna.last_text
    await edits(anna, "Telefoonnummer", "073-0000000")
    assert "Dat staat er al zo" in anna.last_text
    await anna.says("/kaart")
    await anna.taps("Stop")
    assert "Er is niets veranderd aan de kaart" in anna.last_text
    assert (await card_of(directory)).email == "mantelzorg-denbosch@example.org"
    assert await changes(directory) == []


async def test_staff_add_and_remove_a_municipality_and_caregivers_there_find_them(
    directory: BotCore,  # noqa: F811
) -> None:
    anna = await staff_user(directory, 631, steunpunt_key=DEN_BOSCH)
    await anna.says("/kaart")
    await anna.taps("Gemeenten")
    await anna.taps("Een gemeente weghalen")
    assert "hoort nu bij één gemeente" in anna.last_text  # the last one cannot go

    await anna.says("/kaart")
    await anna.taps("Gemeenten")
    await anna.taps("Een gemeente toevoegen")
    await anna.says("Lelystad")  # in the country, not in the directory
    assert "De gemeente Lelystad staat nog niet in de lijst van de bot" in anna.last_text
    await anna.taps("Nog iets aanpassen")
    await anna.taps("Gemeenten")
    await anna.taps("Een gemeente toevoegen")
    await anna.says("Bernhezee")
    assert "Bedoel je" in anna.last_text
    await anna.taps("Bernheze (Noord-Brabant)")
    assert "Als je dit opslaat, vinden mantelzorgers in deze gemeenten jullie kaart: " in (
        anna.last_text
    )
    assert "Bernheze" in anna.last_text and "'s-Hertogenbosch" in anna.last_text
    await anna.taps("Opslaan")
    assert "Steunpunt Mantelzorg Den Bosch" in await caregiver_finds(directory, 632, "Heesch")

    await anna.says("/kaart")
    await anna.taps("Gemeenten")
    await anna.taps("Een gemeente weghalen")
    await anna.taps("Bernheze")
    await anna.taps("Opslaan")
    assert "Steunpunt Mantelzorg Den Bosch" not in await caregiver_finds(directory, 633, "Heesch")
    assert [(c.old_value, c.new_value) for c in await changes(directory)] == [
        ("GM0796", "GM0796;GM1721"), ("GM0796;GM1721", "GM0796"),
    ]  # fmt: skip


async def test_caregivers_other_staff_and_revoked_staff_can_never_change_a_card(
    directory: BotCore,  # noqa: F811
) -> None:
    caregiver = await onboarded(directory, 641)
    await caregiver.says("/bestaatniet")
    unknown = caregiver.last_text
    await caregiver.says("/kaart")
    assert caregiver.last_text == unknown
    for forged in (f"kt:sp:{DEN_BOSCH}", "kt:ok:00000000", "kt:mun:add:GM1721",
                   "q:steunpunt_card:0:0"):  # fmt: skip
        await caregiver.presses_data(forged)
        assert "Die knop hoort bij vragen die al klaar" in caregiver.last_text, forged

    other = await staff_user(directory, 642, steunpunt_key=HEUSDEN)
    await other.says("/kaart")
    assert "Steunpunt Mantelzorg Heusden" in other.last_text
    await other.presses_data(f"kt:sp:{DEN_BOSCH}")
    assert "Die knop hoort bij vragen die al klaar" in other.last_text
    await edits(other, "Telefoonnummer", "073 999 9999")
    await other.taps("Opslaan")
    assert (await card_of(directory, HEUSDEN)).phone == "+31739999999"  # their own card only

    anna = await staff_user(directory, 643, steunpunt_key=DEN_BOSCH, display_name="Anna")
    await edits(anna, "Telefoonnummer", "073 555 5555")
    confirm = list(anna.buttons)
    _, listing = await operator(directory, "staff", "list")
    member_id = next(line.split("\t")[0] for line in listing.splitlines() if "\tAnna\t" in line)
    assert (await operator(directory, "staff", "revoke", member_id))[0] == 0
    anna.buttons = confirm
    await anna.taps("Opslaan")  # the preview of before the revocation
    assert "Die knop hoort bij vragen die al klaar" in anna.last_text
    await anna.says("/kaart")
    assert anna.last_text == unknown
    assert (await card_of(directory)).phone == "+31730000000"
    assert [c.steunpunt_key for c in await changes(directory)] == [HEUSDEN]


async def test_revoked_while_typing_the_value_saves_nothing(directory: BotCore) -> None:  # noqa: F811
    anna = await staff_user(directory, 651, steunpunt_key=DEN_BOSCH, display_name="Bea")
    await anna.says("/kaart")
    await anna.taps("Telefoonnummer")
    _, listing = await operator(directory, "staff", "list")
    member_id = next(line.split("\t")[0] for line in listing.splitlines() if "\tBea\t" in line)
    await operator(directory, "staff", "revoke", member_id)
    await anna.says("073 555 5555")
    assert "Deze kaart kun je niet (meer) aanpassen" in anna.last_text
    assert all("Opslaan" not in plain(b.label) for b in anna.buttons)


async def test_the_operator_lists_changes_and_undoes_one(directory: BotCore) -> None:  # noqa: F811
    anna = await staff_user(directory, 661, steunpunt_key=DEN_BOSCH, display_name="Anna")
    await edits(anna, "Openingstijden", "ma t/m do 9.00-12.00")
    await anna.taps("Opslaan")
    await edits(anna, "Website", "https://example.org/nieuw")
    await anna.taps("Opslaan")
    code, listing = await operator(directory, "steunpunt", "changes")
    assert code == 0
    newest, oldest = listing.splitlines()
    assert f"\t{DEN_BOSCH}\twebsite\t'https://example.org/steunpunt-den-bosch' -> " in newest
    assert "opening_hours\t'ma t/m vr 9.00-17.00' -> 'ma t/m do 9.00-12.00'\tby Anna" in oldest
    hours_id = oldest.split("\t")[0]

    code, out = await operator(directory, "steunpunt", "undo", hours_id)
    assert code == 0 and "opening_hours of voorbeeld-den-bosch is 'ma t/m vr 9.00-17.00'" in out
    assert (await card_of(directory)).opening_hours == "ma t/m vr 9.00-17.00"
    assert "Open: ma t/m vr 9.00-17.00" in await caregiver_finds(directory, 662, "5211")
    code, out = await operator(directory, "steunpunt", "undo", hours_id)
    assert code == 1 and f"change {hours_id} is undone already" in out

    _, listing = await operator(directory, "steunpunt", "changes", "--limit", "1")
    (undo,) = listing.splitlines()
    assert f"by the operator (undo of {hours_id})" in undo

    await edits(anna, "Website", "https://example.org/nog-nieuwer")
    await anna.taps("Opslaan")
    website_id = newest.split("\t")[0]
    code, out = await operator(directory, "steunpunt", "undo", website_id)
    assert code == 1 and "changed again since by change" in out  # undo the later one first
    assert (await card_of(directory)).website == "https://example.org/nog-nieuwer"
    assert (await operator(directory, "steunpunt", "undo", "999"))[0] == 1


async def test_a_staff_member_who_is_erased_leaves_the_change_without_their_name(
    directory: BotCore,  # noqa: F811
) -> None:
    anna = await staff_user(directory, 671, steunpunt_key=DEN_BOSCH, display_name="Anna")
    await edits(anna, "E-mailadres", "nieuw@example.org")
    await anna.taps("Opslaan")
    await anna.says("/vergeetmij")
    await anna.taps("Ja")
    (change,) = await changes(directory)
    assert change.staff_name == "" and change.staff_caregiver_id is None
    assert change.new_value == "nieuw@example.org"
    _, listing = await operator(directory, "steunpunt", "changes")
    assert "by (erased)" in listing


async def test_an_import_of_other_steunpunten_keeps_what_staff_changed(
    directory: BotCore,  # noqa: F811
) -> None:
    anna = await staff_user(directory, 681, steunpunt_key=DEN_BOSCH)
    await edits(anna, "Wat jullie doen", "Elke dinsdag koffie in het buurthuis")
    await anna.taps("Opslaan")
    async with directory.db.transaction() as session:
        exported = await export_directory(session)
        own = next(s for s in exported["steunpunten"] if s["key"] == DEN_BOSCH)
        assert own["services_text"] == "Elke dinsdag koffie in het buurthuis"
        heusden = next(s for s in exported["steunpunten"] if s["key"] == HEUSDEN)
        plan = await import_file(
            session, "heusden.yaml", directory_yaml({"steunpunten": [heusden]})
        )
    assert plan.changed == [] and plan.added == []
    assert (await card_of(directory)).services_text == "Elke dinsdag koffie in het buurthuis"
    assert "In hun eigen woorden: Elke dinsdag koffie" in await caregiver_finds(
        directory, 682, "5211"
    )
