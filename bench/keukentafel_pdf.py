"""How long the keukentafel PDF takes: a typical preparation and one where every typed answer
has the maximum length (and is cut to fit the page). Prints the median and fastest of N runs."""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.features import load
from bot.features.kitchentable.handlers import sheet
from bot.features.kitchentable.pdf import render
from bot.text.content import Content, Texts
from bot.text.i18n import get_translator

TYPICAL = {
    "person": "Mijn vader (84) heeft Parkinson en is vaak in de war. Hij woont bij ons in huis.",
    "tasks": "Ik help hem met wassen, aankleden en medicijnen, en ik regel de afspraken.",
    "hours": "25",
    "heavy": "Ik slaap slecht omdat hij ’s nachts roept. Mijn zus in België helpt niet mee.",
    "helps": "Eén dag per week dagbesteding, zodat ik naar het café kan met vrienden.",
    "keep": "Samen eten en met hem naar de huisarts gaan.",
    "work": "hard",
    "health": "complaints",
    "free_time": "little",
    "questions": "Kan iemand een weekend overnemen? Wat kost dat?",
}
TYPED = ("person", "tasks", "heavy", "helps", "keep", "questions")
LONG = ("Een lang verhaal over de zorg, elke dag. " * 13)[:500]  # a typed answer is at most 500
LONGEST = {**TYPICAL, **dict.fromkeys(TYPED, LONG)}


@dataclass
class _Ctx:
    texts: Texts
    content: Content


def main(runs: int = 20) -> None:
    content, _ = load()
    ctx = _Ctx(Texts(content, get_translator("nl")), content)
    created = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for name, answers in (("typical", TYPICAL), ("longest", LONGEST)):
        times, size = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            data, _cut = render(sheet(ctx, answers, created))
            times.append(time.perf_counter() - start)
            size = len(data)
        print(
            f"{name}: median {statistics.median(times) * 1000:.0f} ms, "
            f"fastest {min(times) * 1000:.0f} ms, {size / 1024:.0f} KiB ({runs} runs)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
