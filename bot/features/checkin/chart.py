"""The picture of `/resultaten`: check-ins and self-checks over time on one 0-10 scale, with the
self-check's bands shaded and dates in the caregiver's language (Babel, never the OS locale).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.text.i18n import DEFAULT_TIMEZONE

# Light, distinguishable fills from light to heavy; the points are drawn dark on top.
BAND_COLOURS = ("#e3f2e1", "#fff4d6", "#ffe0cc", "#f9d0d0", "#efc4e0")


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float  # on the 0-10 scale


@dataclass(frozen=True)
class BandArea:
    low: float  # on the 0-10 scale
    high: float
    label: str


@dataclass(frozen=True)
class ChartLabels:
    axis: str
    checkins: str
    selfchecks: str


def scaled(score: int, max_score: int) -> float:
    """A self-check score on the check-ins' 0-10 scale, so both fit one picture."""
    return 10.0 * score / max_score if max_score else 0.0


def render_chart(
    checkins: Sequence[Point],
    selfchecks: Sequence[Point],
    bands: Sequence[BandArea],
    labels: ChartLabels,
    locale: str,
    tz: str = DEFAULT_TIMEZONE,
) -> bytes:
    """A PNG of both series. The PNG's description names the point counts (and so does the
    caption the caller sends), for those who cannot see the image."""
    # Imported here: matplotlib costs a second at import, and only /resultaten needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, date2num, num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    zone = ZoneInfo(tz)
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for colour, band in zip(BAND_COLOURS, bands, strict=False):
        axes.axhspan(band.low, band.high, color=colour, zorder=0)
        axes.text(
            1.01,
            (band.low + band.high) / 2,
            band.label,
            transform=axes.get_yaxis_transform(),
            va="center",
            fontsize=9,
            color="#555555",
        )

    def x(points: Sequence[Point]) -> list[float]:
        return [date2num(p.at.astimezone(zone).replace(tzinfo=None)) for p in points]

    if checkins:
        axes.plot(
            x(checkins),
            [p.value for p in checkins],
            marker="o",
            color="#1f4e79",
            linewidth=1.5,
            label=labels.checkins,
            zorder=3,
        )
    if selfchecks:
        axes.plot(
            x(selfchecks),
            [p.value for p in selfchecks],
            marker="s",
            linestyle="none",
            markersize=8,
            color="#8b1e3f",
            label=labels.selfchecks,
            zorder=4,
        )
    everything = x(checkins) + x(selfchecks)
    if everything and max(everything) - min(everything) < 7:
        # One point, or a few close together: give them a week of room on both sides.
        middle = (max(everything) + min(everything)) / 2
        axes.set_xlim(middle - 7, middle + 7)
    axes.set_ylim(0, 10)
    axes.set_ylabel(labels.axis)
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))

    def dutch_date(value: float, _position: int) -> str:
        return format_date(num2date(value).date(), "d MMM yy", locale=locale)

    axes.xaxis.set_major_formatter(FuncFormatter(dutch_date))
    axes.grid(axis="y", color="#cccccc", linewidth=0.5, zorder=1)
    axes.legend(loc="upper left", fontsize=9)
    figure.tight_layout()
    buffer = BytesIO()
    description = f"checkins={len(checkins)} selfchecks={len(selfchecks)}"
    figure.savefig(buffer, format="png", metadata={"Description": description})
    return buffer.getvalue()
