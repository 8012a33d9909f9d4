"""Counts that never identify anyone: the k = 10 rule with complementary suppression, and the table
structure the chat, the console and the tests all read (`Table`, `Row`, `Cell`).

Every published number counts at least `K` distinct caregivers; a smaller one (zero too) shows as
"te weinig om te tonen". Numbers that add up (a total and its parts) are protected together, so a
hidden cell cannot be found back as the total minus the others (`protect`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

K = 10  # the least number of distinct caregivers a shown cell may count

Key = Hashable
# total = sum(parts): a published total and the published cells it is the sum of.
Relation = tuple[Key, Sequence[Key]]


def protect(values: Mapping[Key, int], relations: Iterable[Relation], k: int = K) -> set[Key]:
    """The keys of `values` to hide: every count below `k` (primary suppression), and enough
    others that no hidden count follows from the sums (complementary suppression).

    In each relation `total = sum(parts)`, once anything is hidden: at least two members are
    hidden (one alone is the total minus the rest), and while the total is shown, the hidden
    parts together count at least `k` (else the total minus the shown parts says that few people
    are in them). The smallest shown part is hidden next, or the total when no part is left;
    this repeats over all relations until nothing changes, so relations that share cells (a
    municipality in a month and in its steunpunt's area) protect each other.

    Pitfall: every number that is published must be in `values`, and every sum between published
    numbers in `relations`; a total left out of the relations is a differencing attack waiting."""
    relations = [(total, tuple(parts)) for total, parts in relations]
    hidden = {key for key, value in values.items() if value < k}
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            members = (total, *parts)
            hidden_members = [m for m in members if m in hidden]
            if not hidden_members:
                continue
            hidden_sum = sum(values[p] for p in parts if p in hidden)
            if len(hidden_members) >= 2 and (total in hidden or hidden_sum >= k):
                continue
            shown_parts = sorted((p for p in parts if p not in hidden), key=lambda p: values[p])
            hidden.add(shown_parts[0] if shown_parts else total)
            changed = True
    return hidden


@dataclass(frozen=True)
class Cell:
    """One published number; `count` is None when it is hidden ("te weinig om te tonen")."""

    count: int | None

    @property
    def shown(self) -> bool:
        return self.count is not None


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    cells: tuple[Cell, ...]
    total: bool = False  # the sum of the rows above it


@dataclass(frozen=True)
class Table:
    """What a page or a chat message shows: titled columns and rows of cells, hidden cells
    already hidden. Nothing in it names or counts a single caregiver.

    Pitfall: a table is a view of numbers protected together (`protect`); combining two tables
    into a new sum (e.g. adding two municipalities' rows) publishes a number that was not
    protected: show a table as it is."""

    id: str
    title: str
    columns: tuple[tuple[str, str], ...]  # (id, label)
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def cell(self, row_id: str, column_id: str) -> Cell:
        index = [c for c, _ in self.columns].index(column_id)
        return next(r for r in self.rows if r.id == row_id).cells[index]

    def numbers(self) -> list[int]:
        """Every number shown (what an attacker sees)."""
        return [c.count for r in self.rows for c in r.cells if c.count is not None]


def published(values: Mapping[Key, int], hidden: set[Key], key: Key) -> Cell:
    return Cell(None if key in hidden else values.get(key, 0))
