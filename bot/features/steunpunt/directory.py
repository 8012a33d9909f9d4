"""The steunpunt directory: parsing what caregivers type, validating import files, importing and
exporting them (a diff first; removing only on request), and the lookups (postcode, name,
location) in the directory and, for the rest of the country, the national places layer.

Parsing and validation are pure functions; everything that touches the database takes a session.
"""

from __future__ import annotations

import asyncio
import csv
import difflib
import io
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.directory import (
    CaregiverSteunpunt,
    Municipality,
    PlaceName,
    PostcodeArea,
    Steunpunt,
    SteunpuntMunicipality,
    SteunpuntPostcode,
)
from bot.db.session import Database
from bot.engine.spec import DIALOGS_DIR
from bot.features.steunpunt.places import (
    ATTRIBUTION,
    LayerMunicipality,
    PlacesLayer,
    national_layer,
    normalise_name,
)
from bot.text.fields import parse_phone, valid_email, valid_url

# What a steunpunt may offer; each has a label `service_<name>` in dialogs/steunpunt.yaml.
SERVICES = ("informatie", "consulent", "respijt", "lotgenoten", "cursussen", "waardering",
            "makelaar", "jong")  # fmt: skip
STEUNPUNT_FIELDS = ("key", "name", "organisation", "services", "services_text", "phone", "email",
                    "website", "address", "opening_hours", "latitude", "longitude", "example",
                    "municipalities", "postcodes")  # fmt: skip
POSTCODE_FIELDS = ("postcode", "municipality_code")

_POSTCODE_RE = re.compile(r"^\s*([1-9]\d{3})\s*(?:([a-zA-Z]{2}))?\s*$")
_CBS_RE = re.compile(r"^(?:GM)?(\d{4})$", re.IGNORECASE)
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # goes into callback data (64 bytes)
_RANGE_RE = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")


# --- parsing what a caregiver types --------------------------------------------------------


def parse_postcode(text: str) -> str | None:
    """The four digits of a Dutch postcode ("1234AB", "1234 ab", "1234"), else None."""
    match = _POSTCODE_RE.match(text)
    return match.group(1) if match else None


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
    services_text: str | None = None
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


# The longest text each field may hold (the card must stay readable; the columns hold this).
STEUNPUNT_LENGTHS = {"name": 120, "organisation": 120, "email": 120, "website": 200,
                     "address": 200, "opening_hours": 300, "services_text": 300}  # fmt: skip
MUNICIPALITY_LENGTHS = {"name": 80, "province": 40, "variants": 80, "places": 80}


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so problems can name it, and the keys repeated
    within one mapping (YAML would silently keep the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[tuple[int, str]] = []


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            loader.repeated.append((key_node.start_mark.line + 1, str(key)))
        seen.add(key)
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[assignment]
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

    def lengths(self, row: dict[str, Any], line: int, limits: dict[str, int]) -> None:
        for name, limit in limits.items():
            value = row.get(name)
            for text in _text_list(value) if name in ("variants", "places") else [value]:
                length = len(str(text or "").strip())
                if length > limit:
                    self.add(line, name, f"too long: {length} characters (at most {limit})")


def _municipality(row: dict[str, Any], line: int, check: _Checker) -> MunicipalityData | None:
    raw_code = check.required(row, "code", line)
    code = cbs_code(raw_code) if raw_code else None
    if raw_code and code is None:
        check.add(line, "code", f"not a CBS municipality code (GM and 4 digits): {raw_code!r}")
    name = check.required(row, "name", line)
    province = check.required(row, "province", line)
    before = len(check.problems)
    check.lengths(row, line, MUNICIPALITY_LENGTHS)
    if code is None or not name or not province or len(check.problems) > before:
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
    check.lengths(row, line, STEUNPUNT_LENGTHS)
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
        opening_hours=_optional(row.get("opening_hours")),
        services_text=_optional(row.get("services_text")), latitude=latitude,
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
        known = {m.code for m in municipalities} | set(known_municipalities)
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


def load_yaml_lines(text: str, file: str = "") -> Any:
    """The YAML document with `__line__` in every mapping; ImportRejected when a key is repeated
    within one mapping or the text is not YAML."""
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ImportRejected([Problem(file, line, "<yaml>", "not valid YAML")]) from exc
    finally:
        loader.dispose()
    if loader.repeated:
        raise ImportRejected(
            [Problem(file, line, key, "given twice in one entry") for line, key in loader.repeated]
        )
    return data


def read_csv(text: str, file: str = "") -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows; each row gets `__line__`, its line in the file. A column named twice is
    refused (the later one would silently win)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise ImportRejected([Problem(file, 1, name, "column given twice") for name in twice])
    rows = []
    for row in reader:
        rows.append({**{k.strip(): v for k, v in row.items() if k}, "__line__": reader.line_num})
    return header, rows


def validate_postcode_table(
    rows: Sequence[dict[str, Any]],
    file: str,
    known_municipalities: Iterable[str],
    layer_names: Mapping[str, str] | None = None,
) -> dict[int, tuple[str | None, str | None]]:
    """PC4 -> (municipality code, municipality name) from CSV rows, checked in full.

    A row names its municipality by `municipality_code` (one the directory knows) or by
    `municipality` (a name of the national layer: `layer_names` maps normalised names to the
    layer's spelling), so the table works for every municipality, also those without a code.
    """
    check = _Checker(file)
    known = set(known_municipalities)
    names = layer_names or {}
    table: dict[int, tuple[str | None, str | None]] = {}
    first_line: dict[int, int] = {}
    for row in rows:
        line = row["__line__"]
        raw = str(row.get("postcode") or "").strip()
        if not re.fullmatch(r"[1-9]\d{3}", raw):
            check.add(line, "postcode", f"not a 4-digit postcode: {raw!r}")
            continue
        raw_code = str(row.get("municipality_code") or "").strip()
        raw_name = str(row.get("municipality") or "").strip()
        code = cbs_code(raw_code) if raw_code else None
        name = names.get(normalise_name(raw_name)) if raw_name else None
        if raw_code and (code is None or code not in known):
            check.add(line, "municipality_code", f"unknown municipality {raw_code!r}")
            continue
        if not raw_code and name is None:
            problem = f"unknown municipality {raw_name!r}" if raw_name else "missing"
            check.add(line, "municipality", problem)
            continue
        pc4 = int(raw)
        if pc4 in table:
            check.add(
                line, "postcode", f"duplicate postcode {raw} (also on line {first_line[pc4]})"
            )
            continue
        table[pc4], first_line[pc4] = (code, None if code else name), line
    if check.problems:
        raise ImportRejected(check.problems)
    return table


# --- import and export (database) --------------------------------------------------------------


async def known_municipality_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Municipality.code))).all())


def decode(file: str, raw: bytes) -> str:
    """The text of an import file (UTF-8, with or without BOM); ImportRejected naming the line
    of the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = "not UTF-8 text: save the file as UTF-8 (CSV UTF-8 in a spreadsheet)"
        raise ImportRejected([Problem(file, line, "<file>", problem)]) from None


@dataclass
class ImportPlan:
    """What an import changes, shown to the operator before anything else is said."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the directory, not in the file
    saved_by: int = 0  # caregivers whose saved steunpunt is among `missing`
    municipalities: int = 0
    postcodes: int = 0
    replace: bool = False

    def lines(self) -> list[str]:
        if self.postcodes:
            return [f"postcode table: {self.postcodes} postcodes"]
        out = [f"added: {len(self.added)}" + _keys(self.added),
               f"changed: {len(self.changed)}" + _keys(self.changed)]  # fmt: skip
        saved = f"; {self.saved_by} caregiver(s) saved one of them as their steunpunt"
        if self.replace:
            out.append(f"removed: {len(self.missing)}" + _keys(self.missing) + saved)
        elif self.missing:
            out.append(
                f"not in the file, kept: {len(self.missing)}" + _keys(self.missing)
                + f" (--replace removes them{saved})"
            )  # fmt: skip
        if self.municipalities:
            out.append(f"municipalities in the file: {self.municipalities}")
        return out


def _keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
    return f" ({shown})" if keys else ""


def _refuse(file: str, message: str, field_name: str = "<file>") -> ImportRejected:
    return ImportRejected([Problem(file, 1, field_name, message)])


async def import_file(
    session: AsyncSession,
    file: str,
    text: str,
    *,
    replace: bool = False,
    layer: PlacesLayer | None = None,
) -> ImportPlan:
    """Validate the file's `text` completely, then change the directory (or the postcode table)
    in the caller's transaction. Steunpunten and municipalities of the file are added or
    changed; those only in the directory stay, unless `replace`. Raises ImportRejected and
    changes nothing when anything is wrong. CSV files are told apart by their header."""
    if not text.strip():
        raise _refuse(file, "the file is empty")
    if file.lower().endswith(".csv"):
        header, rows = read_csv(text, file)
        if not rows:
            raise _refuse(file, "no rows under the header")
        if "postcode" in header and ({"municipality_code", "municipality"} & set(header)):
            names = {m.key: m.name for m in layer.municipalities.values()} if layer else {}
            known = await known_municipality_codes(session)
            table = validate_postcode_table(rows, file, known, names)
            await replace_postcode_table(session, table)
            return ImportPlan(postcodes=len(table))
        if "key" not in header:
            raise _refuse(
                file, "expected steunpunt columns, or postcode with municipality_code or "
                "municipality", "<header>",
            )  # fmt: skip
        data: Any = {"steunpunten": rows}
    else:
        data = load_yaml_lines(text, file)
        if not isinstance(data, dict) or not any(map(data.get, ("steunpunten", "municipalities"))):
            raise _refuse(file, "no municipalities and no steunpunten in the file", "<top>")
    current = await current_directory(session)
    keep_municipalities = data.get("municipalities") is None or not replace
    known = set(current.municipalities or []) if keep_municipalities else set()
    directory = validate_directory(data, file, known)
    plan = await plan_import(session, current, directory, replace)
    await replace_directory(session, merged(current, directory, replace))
    return plan


@dataclass
class _Current:
    municipalities: dict[str, MunicipalityData]
    steunpunten: dict[str, SteunpuntData]


async def current_directory(session: AsyncSession) -> _Current:
    """The directory as import data, by municipality code and steunpunt key."""
    data = await export_directory(session)
    municipalities = {
        m["code"]: MunicipalityData(m["code"], m["name"], m["province"],
                                    list(m.get("variants", [])), list(m.get("places", [])))
        for m in data["municipalities"]
    }  # fmt: skip
    steunpunten = {}
    for s in data["steunpunten"]:
        fields = {k: v for k, v in s.items() if k != "postcodes"}
        fields.setdefault("services", [])
        fields.setdefault("municipalities", [])
        ranges = parse_ranges(s.get("postcodes", [])) or []
        steunpunten[s["key"]] = SteunpuntData(**fields, postcodes=ranges)
    return _Current(municipalities, steunpunten)


def _comparable(s: SteunpuntData) -> tuple[Any, ...]:
    postcodes = frozenset(pc for low, high in s.postcodes for pc in range(low, high + 1))
    return (s.name, s.organisation, tuple(s.services), tuple(sorted(set(s.municipalities))),
            postcodes, s.phone, s.email, s.website, s.address, s.opening_hours, s.services_text,
            s.latitude, s.longitude, s.example)  # fmt: skip


async def plan_import(
    session: AsyncSession, current: _Current, directory: Directory, replace: bool
) -> ImportPlan:
    plan = ImportPlan(replace=replace, municipalities=len(directory.municipalities or []))
    in_file = {s.key for s in directory.steunpunten}
    for s in directory.steunpunten:
        before = current.steunpunten.get(s.key)
        if before is None:
            plan.added.append(s.key)
        elif _comparable(before) != _comparable(s):
            plan.changed.append(s.key)
    plan.missing = sorted(set(current.steunpunten) - in_file)
    if plan.missing:
        plan.saved_by = (
            await session.scalar(
                select(func.count())
                .select_from(CaregiverSteunpunt)
                .where(CaregiverSteunpunt.steunpunt_key.in_(plan.missing))
            )
            or 0
        )
    return plan


def merged(current: _Current, directory: Directory, replace: bool) -> Directory:
    """The directory after the import: the file's entries, and without `replace` the current
    ones the file does not name."""
    steunpunten = list(directory.steunpunten)
    municipalities = directory.municipalities
    if not replace:
        in_file = {s.key for s in steunpunten}
        steunpunten += [s for key, s in current.steunpunten.items() if key not in in_file]
        if municipalities is not None:
            codes = {m.code for m in municipalities}
            municipalities = municipalities + [
                m for code, m in current.municipalities.items() if code not in codes
            ]
    return Directory(municipalities, steunpunten)


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
                  opening_hours=s.opening_hours, services_text=s.services_text,
                  latitude=s.latitude, longitude=s.longitude, example=s.example)
        for s in directory.steunpunten
    ]  # fmt: skip
    session.add_all(rows)
    await session.flush()
    links: list[Any] = []
    postcodes: set[tuple[int, int]] = set()
    for row, data in zip(rows, directory.steunpunten, strict=True):
        links += [SteunpuntMunicipality(steunpunt_id=row.id, municipality_code=c)
                  for c in dict.fromkeys(data.municipalities)]  # fmt: skip
        for low, high in data.postcodes:
            postcodes.update((pc4, row.id) for pc4 in range(low, high + 1))
    session.add_all(links)
    session.add_all(SteunpuntPostcode(pc4=pc4, steunpunt_id=sid) for pc4, sid in postcodes)
    await session.flush()


async def replace_postcode_table(
    session: AsyncSession, table: dict[int, tuple[str | None, str | None]]
) -> None:
    await session.execute(delete(PostcodeArea))
    session.add_all(
        PostcodeArea(pc4=pc4, municipality_code=code, municipality_name=name)
        for pc4, (code, name) in table.items()
    )
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
            "services": list(s.services), "services_text": s.services_text,
            "municipalities": sorted(served.get(s.id, [])),
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

    The directory's own names come first: those of its first letter (a range of the primary
    key's index) and about the same length; then the national layer's, which also catch a
    wrong first letter.
    """
    if len(key) < 3:
        return []
    length = func.length(PlaceName.key)
    query = select(PlaceName.key, PlaceName.name, PlaceName.municipality_code).where(
        PlaceName.key >= key[0],
        PlaceName.key < chr(ord(key[0]) + 1),
        length.between(len(key) - 2, len(key) + 2),
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
    """Give an empty directory the example region (the terminal demo and tests; an operator
    asks for it with `directory import --example`): never in `run` or `serve` by itself."""
    async with db.transaction(off_loop=True) as session:
        if not await directory_is_empty(session):
            return False
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        await import_file(session, path.name, text)
        return True


class _DryRun(Exception):
    """Rolls the transaction of a dry run back, carrying what it would have changed."""

    def __init__(self, plan: ImportPlan) -> None:
        super().__init__("dry run")
        self.plan = plan


async def directory_command(
    db: Database,
    action: str,
    path: Path | None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    example: bool = False,
    layer: PlacesLayer | None = None,
) -> int:
    """`import FILE` (or `--example`): validate, show what changes, apply in one transaction
    (removing steunpunten only with `replace`; nothing with `dry_run`); `export [FILE]`: YAML or
    CSV (by suffix) to the file or stdout, with the layer's attribution. Problems go to stderr,
    one line each; nothing changes on any of them."""
    if action == "import":
        layer = layer or national_layer()
        if example:
            path = EXAMPLE_DIRECTORY
        if path is None or not await asyncio.to_thread(path.is_file):
            print(f"directory import: file not found: {path}", file=sys.stderr)
            return 2
        raw = await asyncio.to_thread(path.read_bytes)
        try:
            text = decode(path.name, raw)
            async with db.transaction(off_loop=True) as session:
                plan = await import_file(session, path.name, text, replace=replace, layer=layer)
                if dry_run:
                    raise _DryRun(plan)
        except ImportRejected as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(f"nothing imported: {len(exc.problems)} problem(s)", file=sys.stderr)
            return 1
        except _DryRun as run:
            print("\n".join(run.plan.lines()))
            print("dry run: nothing changed")
            return 0
        if example:
            print("the EXAMPLE region (fictional steunpunten, shown as example data):")
        print("\n".join(plan.lines()))
        print(f"imported {path.name}")
        return 0
    async with db.transaction(off_loop=True) as session:
        data = await export_directory(session)
    is_csv = path is not None and path.suffix.lower() == ".csv"
    output = directory_csv(data) if is_csv else f"# {ATTRIBUTION}\n" + directory_yaml(data)
    if path is None:
        sys.stdout.write(output)
    else:
        await asyncio.to_thread(path.write_text, output, encoding="utf-8")
        print(f"{len(data['steunpunten'])} steunpunten exported to {path}")
    return 0
