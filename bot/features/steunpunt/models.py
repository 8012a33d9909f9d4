"""Tables of the steunpunt finder: the directory (municipalities, steunpunten, the postcodes they
serve, the official postcode table), per caregiver the saved steunpunt and the open search, and
the card edits of steunpunt staff (a draft while it is previewed, the history of every change).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import ERASED_WITH, Base


class Municipality(Base):
    """A Dutch municipality by its CBS code ("GM0796"), with the names people use for it."""

    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    province: Mapped[str] = mapped_column(String(40))
    variants: Mapped[list[str]] = mapped_column(JSON)  # other names: "Den Bosch"
    places: Mapped[list[str]] = mapped_column(JSON)  # towns and villages in it: "Rosmalen"


class PlaceName(Base):
    """Search index of every name and variant, by its normalised form (`normalise_name`).

    One name can belong to several municipalities (Bergen NH and Bergen L), hence the pair key.
    """

    __tablename__ = "place_name"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(80))


class Steunpunt(Base):
    """A mantelzorgsteunpunt; `key` is its stable id in import files and in caregivers' choices."""

    __tablename__ = "steunpunt"
    # Bounding-box prefilter of the nearest-steunpunt search.
    __table_args__ = (Index("ix_steunpunt_lat_lon", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(120))
    services: Mapped[list[str]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    website: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    opening_hours: Mapped[str | None] = mapped_column(Text)
    services_text: Mapped[str | None] = mapped_column(Text)  # what it offers, in its own words
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    example: Mapped[bool] = mapped_column(Boolean, default=False)


class SteunpuntMunicipality(Base):
    """Which municipalities a steunpunt serves."""

    __tablename__ = "steunpunt_municipality"

    steunpunt_id: Mapped[int] = mapped_column(
        ForeignKey("steunpunt.id", ondelete="CASCADE"), primary_key=True
    )
    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code", ondelete="CASCADE"), primary_key=True, index=True
    )


class SteunpuntPostcode(Base):
    """The 4-digit postcodes a steunpunt serves, one row each: the import expands its ranges, so a
    lookup is one primary-key probe however many ranges the directory has."""

    __tablename__ = "steunpunt_postcode"

    pc4: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    steunpunt_id: Mapped[int] = mapped_column(
        ForeignKey("steunpunt.id", ondelete="CASCADE"), primary_key=True
    )


class PostcodeArea(Base):
    """The official postcode table (PC4 -> municipality), when an operator imported it.

    The municipality is given by its CBS code (one the directory knows) or by its name (any
    municipality of the national layer, which has no codes). No foreign key: it is imported on
    its own and outlives a replaced directory; lookups skip municipalities no longer known.
    """

    __tablename__ = "postcode_area"

    pc4: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    municipality_name: Mapped[str | None] = mapped_column(String(80))


class CaregiverSteunpunt(Base):
    """A caregiver's own municipality and saved steunpunt, and the search in progress (`flow`).

    `steunpunt_key` is the directory key, not a row id, so a re-imported directory keeps the
    choice. `postcode` (the four digits) is kept only with consent.
    """

    __tablename__ = "caregiver_steunpunt"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    steunpunt_key: Mapped[str | None] = mapped_column(String(40))
    postcode: Mapped[str | None] = mapped_column(String(4))
    flow: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class SteunpuntCardDraft(Base):
    """A staff member's card edit in progress: which steunpunt, and once typed, the field and its
    new value, shown as a preview until confirmed (`token` is in the confirm button, so an
    older preview's button saves nothing). One per staff member; erased with them."""

    __tablename__ = "steunpunt_card_draft"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text)
    token: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


# The staff member's name is a copy of a caregiver's: blanked when that caregiver is erased.
ERASED_WITH_STAFF = {ERASED_WITH: "staff_caregiver_id"}


class SteunpuntChange(Base):
    """One change of a steunpunt's card: which field, the old and the new value (as stored;
    municipalities as "GM0796;GM0797"), when, and who: a staff member (id and display name) or
    the operator (an undo, `undo_of` naming the change undone).

    Kept by `steunpunt_key`, which survives a re-imported directory. The staff member's caregiver
    row may be erased (`/vergeetmij`): the change stays, without the name (`ERASED_WITH`).
    """

    __tablename__ = "steunpunt_change"
    __table_args__ = (Index("ix_steunpunt_change_key", "steunpunt_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # "staff" | "operator"
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    staff_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregiver.id", ondelete="SET NULL"), index=True
    )
    staff_name: Mapped[str] = mapped_column(String(120), default="", info=ERASED_WITH_STAFF)
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("steunpunt_change.id"))
