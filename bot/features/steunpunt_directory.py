"""The steunpunt directory: parsing what caregivers type, validating import files, importing and
exporting them, and the lookups (postcode, name, nearest by location).

Parsing and validation are pure functions; everything that touches the database takes a session.
"""

from __future__ import annotations

import asyncio
import csv
import difflib
import io
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.session import Database
from bot.engine.dialog import DIALOGS_DIR
from bot.features.steunpunt_models import (
    Municipality,
    PlaceName,
    PostcodeArea,
    Steunpunt,
    SteunpuntMunicipality,
    SteunpuntPostcode,
)

if TYPE_CHECKING:  # the layer imports this module's name normalising
    from bot.features.steunpunt_places import LayerMunicipality, PlacesLayer

# What a steunpunt may offer; each has a label `service_<name>` in dialogs/steunpunt.yaml.
SERVICES = ("informatie", "consulent", "respijt", "lotgenoten", "cursussen", "waardering",
            "makelaar", "jong")  # fmt: skip
STEUNPUNT_FIELDS = ("key", "name", "organisation", "services", "phone", "email", "website",
                    "address", "opening_hours", "latitude", "longitude", "example",
                    "municipalities", "postcodes")  # fmt: skip
POSTCODE_FIELDS = ("postcode", "municipality_code")
EARTH_KM = 6371.0

_POSTCODE_RE = re.compile(r"^\s*([1-9]\d{3})\s*(?:([a-zA-Z]{2}))?\s*$")
_CBS_RE = re.compile(r"^(?:GM)?(\d{4})$", re.IGNORECASE)
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # goes into callback data (64 bytes)
_EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_URL_RE = re.compile(r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?(/\S*)?$")
_RANGE_RE = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")
_APOSTROPHES = "'’‘`´"


# --- parsing what a caregiver types --------------------------------------------------------


def parse_postcode(text: str) -> str | None:
    """The four digits of a Dutch postcode ("1234AB", "1234 ab", "1234"), else None."""
    match = _POSTCODE_RE.match(text)
    return match.group(1) if match else None


def normalise_name(text: str) -> str:
    """Case-, accent- and punctuation-free form of a place name: "'s-Hertogenbosch" and
    "s Hertogenbosch" both become "s hertogenbosch"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = "".join("" if c in _APOSTROPHES else c for c in plain)
    plain = "".join(c if c.isalnum() else " " for c in plain)
    words = plain.split()
    if len(words) > 1 and words[0] == "gemeente":
        words = words[1:]
    return " ".join(words)[:80]


@dataclass(frozen=True)
class Query:
    """What a caregiver's search text means: a postcode, or a place name (normalised)."""

    postcode: str | None = None
    name: str = ""


def parse_query(text: str) -> Query:
    postcode = parse_postcode(text)
    if postcode is not None:
        return Query(postcode=postcode)
    return Query(name=normalise_name(text))


# --- contact fields --------------------------------------------------------------------------


def parse_phone(text: str) -> str | None:
    """A Dutch phone number in international digits ("+31730000000"), or None when malformed.

    Accepts 0xx-xxxxxxx, 0800/0900 numbers and +31 / 0031 forms with spaces, dashes, brackets.
    """
    digits = re.sub(r"[\s().-]", "", text)
    if digits.startswith("0031"):
        digits = "+31" + digits[4:]
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return "+31" + digits[1:]
    if re.fullmatch(r"0[89]00\d{4,7}", digits):
        return digits  # service numbers only work from within the Netherlands
    if re.fullmatch(r"\+31[1-9]\d{8}", digits):
        return digits
    return None


def format_phone(number: str) -> str:
    """How a stored number is shown: international form with spaces, which Telegram recognises
    as a phone number and makes tappable ("+31 73 000 0000")."""
    if number.startswith("+31") and len(number) == 12:
        rest = number[3:]
        # Mobile (6) and two-digit area codes vs three-digit area codes (e.g. 0413).
        area = (
            rest[:1] if rest[0] == "6" else rest[:2] if rest[:2] in _TWO_DIGIT_AREAS else rest[:3]
        )
        local = rest[len(area) :]
        return f"+31 {area} {local[: len(local) - 4]} {local[-4:]}"
    return number


# Area codes of two digits (after the 0); all others have three.
_TWO_DIGIT_AREAS = frozenset(
    "10 13 15 20 23 24 26 30 33 35 36 38 40 43 45 46 50 53 55 58 70 71 72 73 74 75 76 77 78 79"
    .split()
)  # fmt: skip


def valid_email(text: str) -> bool:
    return bool(_EMAIL_RE.match(text))


def valid_url(text: str) -> bool:
    return bool(_URL_RE.match(text))


# --- geography -------------------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


# --- import files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an import file, located for the operator who has to fix it."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass
class MunicipalityData:
    code: str
    name: str
    province: str
    variants: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)


@dataclass
class SteunpuntData:
    key: str
    name: str
    organisation: str
    services: list[str]
    municipalities: list[str]
    postcodes: list[tuple[int, int]] = field(default_factory=list)
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    address: str | None = None
    opening_hours: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    example: bool = False


@dataclass
class Directory:
    """A validated import: `municipalities` is None when the file holds steunpunten only (CSV),
    which then must name municipalities the database already knows."""

    municipalities: list[MunicipalityData] | None
    steunpunten: list[SteunpuntData]


class ImportRejected(Exception):
    """The file has problems; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so problems can name it."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def cbs_code(text: str) -> str | None:
    """ "GM0796" from "GM0796", "gm0796" or "0796"."""
    match = _CBS_RE.match(text.strip())
    return f"GM{match.group(1)}" if match else None


def parse_ranges(value: Any) -> list[tuple[int, int]] | None:
    """Postcode ranges from "5211-5249; 5251" or a list of such items; None when malformed."""
    items: list[Any] = value if isinstance(value, list) else str(value or "").split(";")
    ranges = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        match = _RANGE_RE.match(text)
        if not match:
            return None
        low = int(match.group(1))
        high = int(match.group(2) or match.group(1))
        if low < 1000 or high < low:
            return None
        ranges.append((low, high))
    return ranges


def _text_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    return [str(item).strip() for item in items if str(item).strip()]


def _optional(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


class _Checker:
    """Collects problems of one file instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, field_name, message))

    def required(self, row: dict[str, Any], name: str, line: int) -> str:
        value = _optional(row.get(name))
        if value is None:
            self.add(line, name, "missing")
            return ""
        return value


def _municipality(row: dict[str, Any], line: int, check: _Checker) -> MunicipalityData | None:
    raw_code = check.required(row, "code", line)
    code = cbs_code(raw_code) if raw_code else None
    if raw_code and code is None:
        check.add(line, "code", f"not a CBS municipality code (GM and 4 digits): {raw_code!r}")
    name = check.required(row, "name", line)
    province = check.required(row, "province", line)
    if code is None or not name or not province:
        return None
    return MunicipalityData(
        code, name, province, _text_list(row.get("variants")), _text_list(row.get("places"))
    )


def _steunpunt(
    row: dict[str, Any], line: int, check: _Checker, known: set[str]
) -> SteunpuntData | None:
    before = len(check.problems)
    key = check.required(row, "key", line)
    if key and not _KEY_RE.match(key):
        check.add(line, "key", f"use 1-40 of a-z, 0-9, - and _: {key!r}")
    name = check.required(row, "name", line)
    organisation = check.required(row, "organisation", line)
    services = _text_list(row.get("services"))
    for service in services:
        if service not in SERVICES:
            check.add(
                line, "services", f"unknown service {service!r} (known: {', '.join(SERVICES)})"
            )
    municipalities = []
    for raw in _text_list(row.get("municipalities")):
        code = cbs_code(raw)
        if code is None or code not in known:
            check.add(line, "municipalities", f"unknown municipality {raw!r}")
        else:
            municipalities.append(code)
    if not _text_list(row.get("municipalities")):
        check.add(line, "municipalities", "missing: which municipalities does it serve?")
    postcodes = parse_ranges(row.get("postcodes"))
    if postcodes is None:
        check.add(
            line, "postcodes", f"bad postcode range {row.get('postcodes')!r} (e.g. 5211-5249)"
        )
    phone = _optional(row.get("phone"))
    normalised_phone = parse_phone(phone) if phone else None
    if phone and normalised_phone is None:
        check.add(line, "phone", f"not a Dutch phone number: {phone!r}")
    email = _optional(row.get("email"))
    if email and not valid_email(email):
        check.add(line, "email", f"not an e-mail address: {email!r}")
    website = _optional(row.get("website"))
    if website and not valid_url(website):
        check.add(line, "website", f"not a http(s) URL: {website!r}")
    latitude, longitude = _coordinates(row, line, check)
    example = str(row.get("example", "")).strip().lower() in ("true", "1", "yes", "ja")
    if len(check.problems) > before:
        return None
    return SteunpuntData(
        key=key, name=name, organisation=organisation, services=services,
        municipalities=municipalities, postcodes=postcodes or [], phone=normalised_phone,
        email=email, website=website, address=_optional(row.get("address")),
        opening_hours=_optional(row.get("opening_hours")), latitude=latitude,
        longitude=longitude, example=example,
    )  # fmt: skip


def _coordinates(
    row: dict[str, Any], line: int, check: _Checker
) -> tuple[float | None, float | None]:
    raw_lat, raw_lon = _optional(row.get("latitude")), _optional(row.get("longitude"))
    if raw_lat is None and raw_lon is None:
        return None, None
    try:
        lat, lon = float(raw_lat or ""), float(raw_lon or "")
    except ValueError:
        check.add(line, "latitude/longitude", "give both, as decimal degrees")
        return None, None
    # The Netherlands with its coastal waters; anything outside is a typo (swapped lat/lon).
    if not (50.5 <= lat <= 53.8 and 3.2 <= lon <= 7.3):
        check.add(line, "latitude/longitude", f"({lat}, {lon}) is not in the Netherlands")
        return None, None
    return lat, lon


def _check_duplicates(
    check: _Checker, items: Iterable[tuple[str, int]], field_name: str, what: str
) -> None:
    seen: dict[str, int] = {}
    for value, line in items:
        if value in seen:
            check.add(line, field_name, f"duplicate {what} {value!r} (also on line {seen[value]})")
        else:
            seen[value] = line


def validate_directory(data: Any, file: str, known_municipalities: Iterable[str] = ()) -> Directory:
    """A YAML directory ({municipalities: [...], steunpunten: [...]}) checked in full.

    Raises ImportRejected with every problem found. Rows carry `__line__` from `load_yaml_lines`.
    """
    check = _Checker(file)
    if not isinstance(data, dict):
        raise ImportRejected([Problem(file, 1, "<top>", "expected municipalities and steunpunten")])
    municipality_rows = data.get("municipalities")
    municipalities: list[MunicipalityData] | None = None
    if municipality_rows is not None:
        municipalities, codes = [], []
        for row in _rows(municipality_rows, "municipalities", check):
            parsed = _municipality(row, row["__line__"], check)
            if parsed is not None:
                municipalities.append(parsed)
                codes.append((parsed.code, row["__line__"]))
        _check_duplicates(check, codes, "code", "municipality")
        known = {m.code for m in municipalities}
    else:
        known = set(known_municipalities)
    steunpunten = []
    steunpunt_rows = _rows(data.get("steunpunten") or [], "steunpunten", check)
    for row in steunpunt_rows:
        parsed_steunpunt = _steunpunt(row, row["__line__"], check, known)
        if parsed_steunpunt is not None:
            steunpunten.append(parsed_steunpunt)
    keys = [(str(r.get("key", "")), r["__line__"]) for r in steunpunt_rows if r.get("key")]
    _check_duplicates(check, keys, "key", "steunpunt")
    if check.problems:
        raise ImportRejected(check.problems)
    return Directory(municipalities, steunpunten)


def _rows(value: Any, section: str, check: _Checker) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        check.add(1, section, "expected a list of entries")
        return []
    return value


def load_yaml_lines(text: str) -> Any:
    return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass


def read_csv(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows; each row gets `__line__`, its line in the file."""
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        rows.append({**{k.strip(): v for k, v in row.items() if k}, "__line__": reader.line_num})
    return [name.strip() for name in reader.fieldnames or []], rows


def validate_postcode_table(
    rows: Sequence[dict[str, Any]], file: str, known_municipalities: Iterable[str]
) -> dict[int, str]:
    """PC4 -> municipality code from CSV rows (postcode, municipality_code), checked in full."""
    check = _Checker(file)
    known = set(known_municipalities)
    table: dict[int, str] = {}
    first_line: dict[int, int] = {}
    for row in rows:
        line = row["__line__"]
        raw = str(row.get("postcode") or "").strip()
        if not re.fullmatch(r"[1-9]\d{3}", raw):
            check.add(line, "postcode", f"not a 4-digit postcode: {raw!r}")
            continue
        raw_code = str(row.get("municipality_code") or "").strip()
        code = cbs_code(raw_code)
        if code is None or code not in known:
            check.add(line, "municipality_code", f"unknown municipality {raw_code!r}")
            continue
        pc4 = int(raw)
        if pc4 in table:
            check.add(
                line, "postcode", f"duplicate postcode {raw} (also on line {first_line[pc4]})"
            )
            continue
        table[pc4], first_line[pc4] = code, line
    if check.problems:
        raise ImportRejected(check.problems)
    return table


# --- import and export (database) --------------------------------------------------------------


async def known_municipality_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Municipality.code))).all())


async def import_file(session: AsyncSession, file: str, text: str) -> str:
    """Validate the file's `text` completely, then replace the directory (or the postcode table)
    in the caller's transaction. Returns a one-line summary; raises ImportRejected and changes
    nothing when any row is wrong. CSV files are told apart by their header."""
    if file.lower().endswith(".csv"):
        header, rows = read_csv(text)
        if set(POSTCODE_FIELDS) <= set(header):
            known = await known_municipality_codes(session)
            table = validate_postcode_table(rows, file, known)
            await replace_postcode_table(session, table)
            return f"{len(table)} postcodes imported"
        if "key" not in header:
            raise ImportRejected(
                [
                    Problem(
                        file,
                        1,
                        "<header>",
                        "expected steunpunt columns or postcode,municipality_code",
                    )
                ]
            )
        data: Any = {"steunpunten": rows}
    else:
        try:
            data = load_yaml_lines(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise ImportRejected([Problem(file, line, "<yaml>", "not valid YAML")]) from exc
    directory = validate_directory(data, file, await known_municipality_codes(session))
    await replace_directory(session, directory)
    return (
        f"{len(directory.steunpunten)} steunpunten"
        + (f", {len(directory.municipalities)} municipalities" if directory.municipalities else "")
        + " imported"
    )


async def replace_directory(session: AsyncSession, directory: Directory) -> None:
    for table in (SteunpuntPostcode, SteunpuntMunicipality, Steunpunt):
        await session.execute(delete(table))
    if directory.municipalities is not None:
        await session.execute(delete(PlaceName))
        await session.execute(delete(Municipality))
        names: dict[tuple[str, str], str] = {}
        for m in directory.municipalities:
            session.add(Municipality(code=m.code, name=m.name, province=m.province,
                                     variants=m.variants, places=m.places))  # fmt: skip
            for name in (m.name, *m.variants, *m.places):
                key = normalise_name(name)
                if key:
                    names.setdefault((key, m.code), name)
        session.add_all(
            PlaceName(key=k, municipality_code=c, name=n) for (k, c), n in names.items()
        )
        await session.flush()
    rows = [
        Steunpunt(key=s.key, name=s.name, organisation=s.organisation, services=s.services,
                  phone=s.phone, email=s.email, website=s.website, address=s.address,
                  opening_hours=s.opening_hours, latitude=s.latitude, longitude=s.longitude,
                  example=s.example)
        for s in directory.steunpunten
    ]  # fmt: skip
    session.add_all(rows)
    await session.flush()
    links, postcodes = [], set()
    for row, data in zip(rows, directory.steunpunten, strict=True):
        links += [SteunpuntMunicipality(steunpunt_id=row.id, municipality_code=c)
                  for c in dict.fromkeys(data.municipalities)]  # fmt: skip
        for low, high in data.postcodes:
            postcodes.update((pc4, row.id) for pc4 in range(low, high + 1))
    session.add_all(links)
    session.add_all(SteunpuntPostcode(pc4=pc4, steunpunt_id=sid) for pc4, sid in postcodes)
    await session.flush()


async def replace_postcode_table(session: AsyncSession, table: dict[int, str]) -> None:
    await session.execute(delete(PostcodeArea))
    session.add_all(PostcodeArea(pc4=pc4, municipality_code=code) for pc4, code in table.items())
    await session.flush()


def ranges_of(numbers: Iterable[int]) -> list[str]:
    """Consecutive runs as "low-high" (or "n"): the ranges an import expanded, merged."""
    out: list[str] = []
    run: list[int] = []
    for n in sorted(set(numbers)):
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return out


async def export_directory(session: AsyncSession) -> dict[str, Any]:
    """The directory as an import file would hold it (YAML structure)."""
    municipalities = (await session.scalars(select(Municipality).order_by(Municipality.code))).all()
    steunpunten = (await session.scalars(select(Steunpunt).order_by(Steunpunt.key))).all()
    served: dict[int, list[str]] = {}
    for sid, code in await session.execute(
        select(SteunpuntMunicipality.steunpunt_id, SteunpuntMunicipality.municipality_code)
    ):
        served.setdefault(sid, []).append(code)
    pcs: dict[int, list[int]] = {}
    for pc4, sid in await session.execute(
        select(SteunpuntPostcode.pc4, SteunpuntPostcode.steunpunt_id)
    ):
        pcs.setdefault(sid, []).append(pc4)
    out_steunpunten = []
    for s in steunpunten:
        entry: dict[str, Any] = {
            "key": s.key, "name": s.name, "organisation": s.organisation,
            "services": list(s.services), "municipalities": sorted(served.get(s.id, [])),
            "postcodes": ranges_of(pcs.get(s.id, [])), "phone": s.phone, "email": s.email,
            "website": s.website, "address": s.address, "opening_hours": s.opening_hours,
            "latitude": s.latitude, "longitude": s.longitude, "example": s.example,
        }  # fmt: skip
        out_steunpunten.append({k: v for k, v in entry.items() if v not in (None, [], False)})
    out_municipalities = []
    for m in municipalities:
        entry = {"code": m.code, "name": m.name, "province": m.province,
                 "variants": list(m.variants), "places": list(m.places)}  # fmt: skip
        out_municipalities.append({k: v for k, v in entry.items() if v})
    return {
        "municipalities": out_municipalities,
        "steunpunten": out_steunpunten,
    }


def directory_csv(data: dict[str, Any]) -> str:
    """The steunpunten of an exported directory as CSV (lists joined with ';')."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STEUNPUNT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in data["steunpunten"]:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in entry.items()})
    return out.getvalue()


def directory_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


async def directory_is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(Steunpunt))


# --- lookups -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A municipality as the finder shows it: from the directory (with its CBS `code`), or known
    only to the national layer (`code` None: no steunpunt of it is in the directory)."""

    code: str | None
    name: str
    province: str

    @property
    def key(self) -> str:
        return normalise_name(self.name)

    @property
    def ref(self) -> str:
        """Its id in button data: the CBS code, or "~" and the layer's name key."""
        return self.code or "~" + self.key.replace(" ", "-")


@dataclass(frozen=True)
class Found:
    """Result of a lookup: the municipality (when known) and the steunpunten serving it."""

    place: Place | None
    steunpunten: tuple[Steunpunt, ...]
    near: str | None = None  # a location lookup: the place of the layer it was nearest to


async def municipality(session: AsyncSession, code: str) -> Place | None:
    row = await session.get(Municipality, code)
    return Place(row.code, row.name, row.province) if row is not None else None


async def directory_place(session: AsyncSession, m: LayerMunicipality) -> Place:
    """The directory's municipality for one of the layer (same name or one of its variants),
    else the layer's municipality without a code."""
    query = (
        select(Municipality)
        .join(PlaceName, PlaceName.municipality_code == Municipality.code)
        .where(PlaceName.key == m.key)
        .order_by(Municipality.code)
    )
    for row in (await session.scalars(query)).unique():
        if m.key in {normalise_name(n) for n in (row.name, *row.variants)}:
            return Place(row.code, row.name, row.province)
    return Place(None, m.name, m.province)


async def steunpunten_serving(session: AsyncSession, code: str | None) -> tuple[Steunpunt, ...]:
    if code is None:
        return ()
    query = (
        select(Steunpunt)
        .join(SteunpuntMunicipality, SteunpuntMunicipality.steunpunt_id == Steunpunt.id)
        .where(SteunpuntMunicipality.municipality_code == code)
        .order_by(Steunpunt.name)
    )
    return tuple((await session.scalars(query)).all())


async def steunpunt_by_key(session: AsyncSession, key: str) -> Steunpunt | None:
    return await session.scalar(select(Steunpunt).where(Steunpunt.key == key))


async def municipalities_of(session: AsyncSession, steunpunt_id: int) -> list[str]:
    query = select(SteunpuntMunicipality.municipality_code).where(
        SteunpuntMunicipality.steunpunt_id == steunpunt_id
    )
    return list((await session.scalars(query)).all())


async def find_in(session: AsyncSession, place: Place) -> Found:
    return Found(place, await steunpunten_serving(session, place.code))


async def find_by_ref(session: AsyncSession, layer: PlacesLayer, ref: str) -> Found | None:
    """The municipality of a button's `Place.ref`; None when it is no longer known."""
    if ref.startswith("~"):
        m = layer.municipality(ref[1:].replace("-", " "))
        return await find_in(session, await directory_place(session, m)) if m else None
    place = await municipality(session, ref)
    return await find_in(session, place) if place is not None else None


async def find_by_postcode(session: AsyncSession, layer: PlacesLayer, pc4: int) -> Found:
    """The imported postcode table names the municipality (by CBS code or by name); steunpunten
    whose own postcode ranges cover `pc4` come first (a municipality may have one per area)."""
    area = await session.get(PostcodeArea, pc4)
    by_range = tuple(
        (
            await session.scalars(
                select(Steunpunt)
                .join(SteunpuntPostcode, SteunpuntPostcode.steunpunt_id == Steunpunt.id)
                .where(SteunpuntPostcode.pc4 == pc4)
                .order_by(Steunpunt.name)
            )
        ).all()
    )
    place: Place | None = None
    if area is not None and area.municipality_code is not None:
        place = await municipality(session, area.municipality_code)
    elif area is not None and area.municipality_name is not None:
        m = layer.municipality(normalise_name(area.municipality_name))
        place = await directory_place(session, m) if m is not None else None
    if place is None and by_range:
        served = await municipalities_of(session, by_range[0].id)
        place = await municipality(session, served[0]) if len(served) == 1 else None
    if by_range:
        return Found(place, by_range)
    if place is None:
        return Found(None, ())
    return await find_in(session, place)


async def places_named(session: AsyncSession, key: str) -> list[tuple[str, Place]]:
    """(name, municipality) of the directory's names and variants; exact normalised match."""
    query = (
        select(PlaceName.name, Municipality)
        .join(Municipality, PlaceName.municipality_code == Municipality.code)
        .where(PlaceName.key == key)
        .order_by(Municipality.name)
    )
    return [(name, Place(m.code, m.name, m.province)) for name, m in await session.execute(query)]


async def find_by_name(
    session: AsyncSession, layer: PlacesLayer, key: str
) -> list[tuple[str, Place]]:
    """Every municipality a typed name can mean: the directory's own names, then the national
    layer's, one entry per municipality."""
    found: dict[str, tuple[str, Place]] = {}
    for name, place in await places_named(session, key):
        found.setdefault(place.ref, (name, place))
    for name, m in layer.named(key):
        place = await directory_place(session, m)
        found.setdefault(place.ref, (name, place))
    return list(found.values())


async def suggest_places(
    session: AsyncSession, layer: PlacesLayer, key: str, limit: int = 3
) -> list[tuple[str, Place]]:
    """Names close to a mistyped `key`, with their municipality: for "Bedoel je ...?".

    The directory's own names (of about the same length: a short index-free scan) come first,
    then the national layer's.
    """
    if len(key) < 3:
        return []
    length = func.length(PlaceName.key)
    query = select(PlaceName.key, PlaceName.name, PlaceName.municipality_code).where(
        length.between(len(key) - 2, len(key) + 2)
    )
    candidates: dict[str, list[tuple[str, str]]] = {}
    for name_key, name, code in await session.execute(query):
        candidates.setdefault(name_key, []).append((name, code))
    out: dict[tuple[str, str], tuple[str, Place]] = {}
    for name_key in difflib.get_close_matches(key, list(candidates), n=limit, cutoff=0.75):
        for name, code in candidates[name_key]:
            place = await municipality(session, code)
            if place is not None:
                out.setdefault((normalise_name(name), place.ref), (name, place))
    for name, m in layer.suggest(key, limit):
        place = await directory_place(session, m)
        out.setdefault((normalise_name(name), place.ref), (name, place))
    return list(out.values())[:limit]


async def find_by_location(
    session: AsyncSession, layer: PlacesLayer, lat: float, lon: float
) -> Found | None:
    """The municipality of the layer's place nearest to (lat, lon) and its steunpunten; None
    when no Dutch place is near (abroad or at sea). Never a steunpunt of another municipality."""
    nearest = layer.nearest(lat, lon)
    if nearest is None:
        return None
    place, _ = nearest
    found = await find_in(session, await directory_place(session, place.municipality))
    return Found(found.place, found.steunpunten, near=place.name)


# --- operators: example data and the `python -m bot directory` command ---------------------

EXAMPLE_DIRECTORY = DIALOGS_DIR / "data" / "steunpunten.example.yaml"


async def import_example_if_empty(db: Database, path: Path = EXAMPLE_DIRECTORY) -> bool:
    """Give a fresh database the example region, so the finder works out of the box."""
    async with db.transaction() as session:
        if not await directory_is_empty(session):
            return False
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        await import_file(session, path.name, text)
        return True


async def directory_command(db: Database, action: str, path: Path | None) -> int:
    """`import FILE`: validate, then replace in one transaction; `export [FILE]`: YAML or CSV
    (by suffix) to the file or stdout. Problems go to stderr, one line each."""
    if action == "import":
        if path is None or not await asyncio.to_thread(path.is_file):
            print(f"directory import: file not found: {path}", file=sys.stderr)
            return 2
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
        try:
            async with db.transaction() as session:
                summary = await import_file(session, path.name, text)
        except ImportRejected as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(f"nothing imported: {len(exc.problems)} problem(s)", file=sys.stderr)
            return 1
        print(summary)
        return 0
    async with db.transaction() as session:
        data = await export_directory(session)
    is_csv = path is not None and path.suffix.lower() == ".csv"
    output = directory_csv(data) if is_csv else directory_yaml(data)
    if path is None:
        sys.stdout.write(output)
    else:
        await asyncio.to_thread(path.write_text, output, encoding="utf-8")
        print(f"{len(data['steunpunten'])} steunpunten exported to {path}")
    return 0
