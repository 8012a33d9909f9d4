"""Button data: the one codec for every button the bot sends. A feature declares its prefix and,
per action, the typed fields; `pack` builds the data and `unpack` reads it back, or gives None for
anything not exactly of a declared shape (forged, stale or foreign data), so no handler splits
strings by hand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

# Telegram's limit for callback data, in bytes.
MAX_BYTES = 64
SEP = ":"
# As an action: any text there is the action (the engine's buttons name their dialog there).
ANY = "*"


@dataclass(frozen=True)
class Optional:
    """A last field that may be left out (`o:consent:yes` and `o:consent:yes:zelftest`)."""

    spec: Spec


Spec = type[int] | type[str] | Collection[str] | Optional
Value = int | str


class ButtonDataError(ValueError):
    """A button that cannot be packed: a wrong value, a separator inside a text, over 64 bytes."""


@dataclass(frozen=True)
class Pressed:
    """What a press says: its action and its values, typed as declared."""

    action: str
    values: tuple[Value, ...]

    def number(self, index: int) -> int:
        value = self.values[index]
        assert isinstance(value, int), "declared as int"
        return value

    def text(self, index: int) -> str:
        """The text at `index`; "" for an optional field left out."""
        return str(self.values[index]) if index < len(self.values) else ""


class ButtonCodec:
    """The buttons of one feature: data `prefix:action:value:...`.

    `actions` maps each action to its field specs: `int` (a whole number >= 0), `str` (any text
    without ':'), a collection of allowed texts, or `Optional(spec)` as the last one; the action
    `ANY` stands for any action text not declared otherwise.

    Pitfall: the prefix is the feature's claim in the registry (`Registry.buttons`); two codecs
    with one prefix are refused there, not here."""

    def __init__(self, prefix: str, actions: Mapping[str, tuple[Spec, ...]]) -> None:
        if not prefix or SEP in prefix:
            raise ValueError(f"bad button prefix {prefix!r}")
        self.prefix = prefix
        self.actions = dict(actions)

    def _specs(self, action: str) -> tuple[Spec, ...] | None:
        specs = self.actions.get(action)
        if specs is None and action != ANY and _read(str, action) is not None:
            specs = self.actions.get(ANY)
        return specs

    def pack(self, action: str, *values: Value) -> str:
        specs = self._specs(action)
        if specs is None:
            raise ButtonDataError(f"{self.prefix}: unknown action {action!r}")
        required = [s for s in specs if not isinstance(s, Optional)]
        if not len(required) <= len(values) <= len(specs):
            raise ButtonDataError(f"{self.prefix}:{action}: {len(values)} values for {specs}")
        parts = [self.prefix, action]
        for spec, value in zip(specs, values, strict=False):
            if _read(spec, str(value)) is None:
                raise ButtonDataError(f"{self.prefix}:{action}: {value!r} is not {spec!r}")
            parts.append(str(value))
        data = SEP.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ButtonDataError(f"{self.prefix}:{action}: over {MAX_BYTES} bytes: {data!r}")
        return data

    def unpack(self, data: str) -> Pressed | None:
        """The press of `data`, or None when it is not exactly one of this feature's buttons."""
        prefix, _, rest = data.partition(SEP)
        if prefix != self.prefix:
            return None
        action, *raw = rest.split(SEP) if rest else [""]
        specs = self._specs(action)
        if specs is None:
            return None
        required = [s for s in specs if not isinstance(s, Optional)]
        if not len(required) <= len(raw) <= len(specs):
            return None
        values = []
        for spec, text in zip(specs, raw, strict=False):
            value = _read(spec, text)
            if value is None:
                return None
            values.append(value)
        return Pressed(action, tuple(values))


def _read(spec: Spec, text: str) -> Value | None:
    if isinstance(spec, Optional):
        return _read(spec.spec, text)
    if spec is int:
        return int(text) if text.isdigit() and len(text) <= 18 else None
    if spec is str:
        return text if text and SEP not in text else None
    assert not isinstance(spec, type)
    return text if text in spec else None
