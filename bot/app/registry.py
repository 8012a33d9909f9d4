"""What features contribute to the bot (commands, buttons, menu entries, typed-input owners,
scheduled kinds, personal-data tables), collected in one `Registry` that refuses conflicts.

Features register in `bot.features.load`; infrastructure reads the registry and imports no feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.orm import InstrumentedAttribute

    from bot.app.dispatch import Context
    from bot.config import RetentionPolicy
    from bot.engine.flow import Event, State
    from bot.engine.output import Button, OutMessage, Reply

Handler = Callable[["Context", "Event"], Awaitable["Reply"]]
ActionHandler = Callable[..., Awaitable[list["OutMessage"]]]
ScheduledHandler = Callable[..., Awaitable["OutMessage | None"]]
InputHandler = Callable[["Context", "Event"], Awaitable["Reply | None"]]
HelpCard = Callable[["Context"], Awaitable["OutMessage | None"]]
# Hooks of dialog files, bound to one update's context (see `bot.engine.flow.Hooks`): a check
# of a typed answer, (value, state) -> value; the `{values}` of step texts, state -> values; a
# guard, asked before every input of its dialog.
DialogCheck = Callable[["Context"], Callable[[str, "State"], str]]
DialogFill = Callable[["Context"], Callable[["State"], Mapping[str, str]]]
DialogGuard = Callable[["Context", "State"], Awaitable[bool]]
DialogShow = Callable[["Context"], Callable[["State"], list["OutMessage"]]]
StaffCheck = Callable[["Context"], Awaitable[bool]]
# What a feature offers at a moment another feature reached: (ctx, moment, answers) -> buttons.
Suggestion = Callable[["Context", str, Mapping[str, str]], Awaitable[list["Button"]]]
V = TypeVar("V")


class Job(Protocol):
    """One piece of periodic work while the process runs (see `PeriodicJob`)."""

    async def run(self) -> None: ...

    def stop(self) -> None:
        """Graceful stop: claim nothing new; the run in progress finishes what it has."""


@dataclass(frozen=True)
class PeriodicJob:
    """Periodic work a feature contributes, run by `bot.jobs.ticks` one at a time per process.

    `make(core, sender, worker)` builds the job at start; None when it cannot run in this
    process (`sender` is None where nothing may be sent, e.g. a command-line tool)."""

    id: str
    every: timedelta
    make: Callable[[Any, Any, str], Job | None]
    first_after: timedelta = timedelta(0)


class RegistryConflict(Exception):
    """Two features claim the same command, button prefix, menu slot or input owner."""


class Claims(dict[str, V]):
    """A name -> handler mapping in which a name can be claimed once: a second claim raises
    `RegistryConflict` naming both features, instead of the later registration silently winning.

    Pitfall: `registry.feature` must name the registering feature for the message to be useful
    (`bot.features.load` sets it)."""

    def __init__(self, what: str, registry: Registry) -> None:
        super().__init__()
        self._what = what
        self._registry = registry
        self._owners: dict[str, str] = {}

    def __setitem__(self, name: str, value: V) -> None:
        if name in self:
            raise RegistryConflict(
                f"{self._what} {name!r} is claimed by {self._owners[name]!r} and by "
                f"{self._registry.feature!r}"
            )
        self._owners[name] = self._registry.feature
        super().__setitem__(name, value)

    def update(self, *args: Any, **kwargs: V) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def owner(self, name: str) -> str:
        return self._owners[name]


@dataclass(frozen=True)
class MenuEntry:
    command: str
    label_key: str | None  # a key in messages.yaml, or None when `label` is a dialog text
    order: int
    label: str = ""
    # A Telegram Web App button instead of a command: this path of the bot's public web address
    # (e.g. "/console/"); left out where the bot has none (`BotCore.web_url` is None).
    web_app: str = ""


# A console page's handler: the request (bot.console.request.ConsoleRequest) -> its answer.
ConsoleHandler = Callable[[Any], Awaitable[Any]]
CONSOLE_ROLES = ("staff", "steunpunt", "location", "operator")


@dataclass(frozen=True)
class ConsolePage:
    """One page (or form target) of the staff web console (`bot.console`), added by a feature.

    `path` is below /console/ with aiohttp placeholders ("notices/{id:\\d+}"); `role` who may
    open it: "staff" (any active membership), "steunpunt" or "location" (a membership of that
    kind), "operator" (`CONSOLE_OPERATORS`). Anyone else gets 404, as for a page that does not
    exist. `nav_key` (a message key) puts a GET page in the navigation, in `order`.

    Pitfall: the role says who may open the page at all; the handler itself must still check
    that the id in the path belongs to one of the user's own scopes (and answer 404 if not)."""

    path: str
    handler: ConsoleHandler
    role: str = "staff"
    method: str = "GET"
    nav_key: str = ""
    order: int = 0


@dataclass(frozen=True)
class InputOwner:
    """A feature step that waits for typed input (see `bot.app.router`): `handle` gets the event
    while this owner holds the caregiver's open step and returns None when it does not want it
    after all (e.g. its draft is gone); `stop` answers the global word "stop" (default: the
    router closes the step and shows the menu)."""

    handle: InputHandler
    stop: Handler | None = None
    back: Handler | None = None
    # True when typed text is exactly one of this step's own answers (a button label typed): it
    # then reaches the step even when it sounds like distress, since such an answer brings the
    # crisis contacts itself ("Nee, ik kan niet meer" in the self-check).
    own_answer: Callable[[Context, Event], Awaitable[bool]] | None = None


@dataclass(frozen=True)
class ShareSource:
    """Something of the caregiver's own that a feature lets them pass on to their steunpunt with
    a request for contact (the warm handover), without the handover importing that feature.

    `latest(ctx)` gives the data to keep with the request (JSON-ready; None: nothing to share);
    `describe(ctx, data)` says in `ctx`'s language what the steunpunt sees (a few short lines of
    HTML, with what the caregiver typed escaped); `document(ctx, data)`, when given, makes it a
    file too (the keukentafel PDF).
    The question "Mag het steunpunt dit zien?" names it with the handover's own text
    (`share_<name>` in dialogs/handover.yaml).

    Pitfall: `describe` runs for the staff member who reads the request as well, so it must use
    only `data`, never the context's caregiver."""

    latest: Callable[[Context], Awaitable[dict[str, Any] | None]]
    describe: Callable[[Context, Mapping[str, Any]], str]
    document: Callable[[Context, Mapping[str, Any]], Awaitable[OutMessage]] | None = None
    order: int = 100


@dataclass(frozen=True)
class PersonalData:
    """One table holding personal data of caregivers: the one list that export, erase, consent
    withdrawal, the retention sweep and the `/privacy` page read (`bot.app.personal_data`).

    `owner` is the column pointing at `caregiver.id`. `label` is a message key naming what the
    rows are, for the caregiver ("{count} uitslagen van de zelftest"; a `<label>_one` message
    is needed too); `fields` name single columns instead ((column, message key): "je gemeente"),
    shown when a row has them set. `timed` is the moment a row was given: rows older than the
    retention period are removed (None: kept while the caregiver is).

    Withdrawing consent removes the rows, except: with `kept_without_consent` (asked for on
    their own: a subscription, a saved steunpunt) rows stay, blanking `cleared_on_withdrawal`
    (column -> value); rows for which `kept_when(registry)` (an SQL condition) holds stay too.
    `outlives_caregiver`: erasing the caregiver keeps the rows (the owner column is set to
    NULL) and blanks their columns marked `ERASED_WITH` this owner (a staff member's notices).
    `transient` (an SQL condition) marks rows that only hold a position, nothing kept: the sweep
    removes those untouched (`transient_since`) for `TRANSIENT_FOR`. `months` picks the retention
    period of `timed` from the settings (default: `RetentionPolicy.answers_months`); a row whose
    `timed` is NULL (a request not closed yet) is never removed by age.

    Pitfall: `bot.features.load` refuses to start while a table with a foreign key to
    `caregiver.id` is not registered, so a new feature cannot forget its table."""

    model: Any
    owner: InstrumentedAttribute[Any]
    label: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    timed: InstrumentedAttribute[Any] | None = None
    kept_without_consent: bool = False
    cleared_on_withdrawal: Mapping[str, Any] = field(default_factory=dict)
    kept_when: Callable[[Registry], Any] | None = None
    outlives_caregiver: bool = False
    transient: Any = None
    transient_since: InstrumentedAttribute[Any] | None = None
    months: Callable[[RetentionPolicy], int] | None = None

    def keys(self) -> list[str]:
        """The message keys this table needs ("<label>", "<label>_one", each field's key)."""
        labels = [self.label, f"{self.label}_one"] if self.label else []
        return labels + [key for _, key in self.fields]


@dataclass
class Registry:
    """What the features contribute; wired together in one place (`bot.features.load`)."""

    feature: str = "core"
    commands: Claims[Handler] = field(init=False)
    buttons: Claims[Handler] = field(init=False)  # by callback-data prefix
    # Commands that do not end the step the caregiver is in (help, language, privacy): they
    # answer and leave the open step waiting.
    side_commands: set[str] = field(default_factory=set)
    menu: list[MenuEntry] = field(default_factory=list)
    actions: Claims[ActionHandler] = field(init=False)  # dialog end actions
    # What dialog files name as `check: feature.name`, `fill:`, `guard:` and `show:` (`load`
    # refuses a dialog naming one nobody registered).
    checks: Claims[DialogCheck] = field(init=False)
    fills: Claims[DialogFill] = field(init=False)
    guards: Claims[DialogGuard] = field(init=False)
    shows: Claims[DialogShow] = field(init=False)
    # Builds the message of a due `ScheduledMessage` by its kind (see `bot.jobs.scheduled`).
    scheduled: Claims[ScheduledHandler] = field(init=False)
    # Kinds of scheduled messages the caregiver asked for on their own, apart from the consent to
    # store answers (e.g. invitations of a care home they subscribed to): withdrawing that consent
    # leaves them planned.
    kept_without_consent: set[str] = field(default_factory=set)
    # Owners of open steps that wait for typed input, by name (see `bot.app.router`).
    inputs: Claims[InputOwner] = field(init=False)
    # What `/hulp` shows before the general contacts, e.g. the caregiver's own steunpunt.
    help_cards: list[HelpCard] = field(default_factory=list)
    # Offers for a moment named by the feature that reached it ("selfcheck.heavy",
    # "checkin.heavier", "respite.advice"): see `suggested`. A feature calls `suggested` instead
    # of importing the feature that offers something.
    suggestions: list[Suggestion] = field(default_factory=list)
    # What a caregiver may choose to pass on to their steunpunt with a request for contact, by
    # name ("respite", "keukentafel"): see `ShareSource`.
    shares: Claims[ShareSource] = field(init=False)
    fallback: Handler | None = None
    # `/start <payload>` deep links by the payload's prefix before the first "_".
    start_payloads: Claims[Handler] = field(init=False)
    # Commands and button prefixes for staff only; for anyone else they behave exactly like an
    # unknown command or a finished button, so nobody learns that they exist.
    staff_commands: Claims[Handler] = field(init=False)
    staff_buttons: Claims[Handler] = field(init=False)
    staff_menu: list[MenuEntry] = field(default_factory=list)
    staff_check: StaffCheck | None = None
    personal_data: list[PersonalData] = field(default_factory=list)
    periodic: list[PeriodicJob] = field(default_factory=list)
    # Tables whose rows a worker claims (status "claimed", claimed_by, claimed_at, attempts) and
    # gives back at a graceful stop, beside the scheduled messages (`bot.jobs.shutdown`).
    claimed_tables: list[Any] = field(default_factory=list)
    # Pages of the staff web console by "METHOD path", and folders with their templates.
    console_pages: Claims[ConsolePage] = field(init=False)
    console_templates: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.commands = Claims("command", self)
        self.buttons = Claims("button prefix", self)
        self.actions = Claims("dialog action", self)
        self.checks = Claims("dialog check", self)
        self.fills = Claims("dialog fill", self)
        self.guards = Claims("dialog guard", self)
        self.shows = Claims("dialog show", self)
        self.scheduled = Claims("scheduled kind", self)
        self.inputs = Claims("input owner", self)
        self.start_payloads = Claims("start payload", self)
        self.staff_commands = Claims("staff command", self)
        self.staff_buttons = Claims("staff button prefix", self)
        self.shares = Claims("share source", self)
        self.console_pages = Claims("console page", self)

    def add_console_page(self, *pages: ConsolePage) -> None:
        for page in pages:
            if page.role not in CONSOLE_ROLES:
                raise RegistryConflict(f"console page {page.path!r}: unknown role {page.role!r}")
            self.console_pages[f"{page.method} {page.path}"] = page

    def copy(self) -> Registry:
        """A registry with the same claims whose tables can change on their own (tests add a
        handler to one bot without touching another built from the same features)."""
        twin = Registry(feature=self.feature)
        for name, value in vars(self).items():
            if isinstance(value, Claims):
                claims = getattr(twin, name)
                for key, handler in value.items():
                    twin.feature = value.owner(key)
                    claims[key] = handler
            elif isinstance(value, list | set):
                setattr(twin, name, type(value)(value))
            else:
                setattr(twin, name, value)
        return twin

    def add_personal_data(self, *tables: PersonalData) -> None:
        for table in tables:
            if any(t.model is table.model for t in self.personal_data):
                raise RegistryConflict(f"personal data table {table.model.__name__} twice")
            if not table.label and not table.fields:
                raise RegistryConflict(f"personal data table {table.model.__name__}: no label")
            self.personal_data.append(table)

    def check_personal_data(self, metadata: MetaData) -> None:
        """Refuse a table of `metadata` that points at `caregiver.id` without being registered:
        export, erase and withdrawal would miss it."""
        registered = {t.model.__table__.name for t in self.personal_data}
        missing = sorted(
            table.name
            for table in metadata.sorted_tables
            if table.name not in registered
            and any(fk.target_fullname == "caregiver.id" for fk in table.foreign_keys)
        )
        if missing:
            raise RegistryConflict(
                "tables with personal data not registered (Registry.add_personal_data): "
                + ", ".join(missing)
            )

    def check(self) -> None:
        """Refuse what single claims cannot see: a command both for staff and for everyone, two
        menu entries in one slot, a menu entry without its command."""
        problems = []
        for name in sorted(set(self.commands) & set(self.staff_commands)):
            problems.append(f"command {name!r} is both a caregiver and a staff command")
        for name in sorted(set(self.buttons) & set(self.staff_buttons)):
            problems.append(f"button prefix {name!r} is both a caregiver and a staff prefix")
        problems += _menu_problems(self.menu, self.commands, "menu")
        problems += _menu_problems(self.staff_menu, self.staff_commands, "staff menu")
        unknown = self.side_commands - set(self.commands)
        problems += [f"side command {name!r} is not a command" for name in sorted(unknown)]
        if problems:
            raise RegistryConflict("; ".join(problems))


async def suggested(
    ctx: Context, moment: str, answers: Mapping[str, str] | None = None
) -> list[Button]:
    """The buttons the features offer at `moment`, given the answers known then; each feature
    decides itself whether an offer fits (and e.g. that it is made only once)."""
    found: list[Button] = []
    for suggestion in ctx.core.registry.suggestions:
        found += await suggestion(ctx, moment, answers or {})
    return found


def _menu_problems(entries: Iterable[MenuEntry], commands: dict[str, Any], what: str) -> list[str]:
    problems: list[str] = []
    slots: dict[int, str] = {}
    seen: set[str] = set()
    for entry in entries:
        if entry.command in seen:
            problems.append(f"{what}: /{entry.command} has two entries")
        seen.add(entry.command)
        if entry.order in slots:
            problems.append(
                f"{what}: slot {entry.order} is taken by /{slots[entry.order]} and /{entry.command}"
            )
        slots[entry.order] = entry.command
        if entry.command not in commands and entry.command != "menu" and not entry.web_app:
            problems.append(f"{what}: /{entry.command} has no command")
    return problems
