"""Shared tables of the steunpunt directory (read by the finder, respite, notices and staff):
municipalities and place names, steunpunten and what they serve, the official postcode table, and
per caregiver the saved steunpunt and the open search.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


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
