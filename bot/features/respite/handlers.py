"""`/respijt`: which respite care fits this caregiver, who arranges it and how it is usually paid.

The questions are the YAML dialog `dialogs/respite.yaml`; the forms, funding routes and local
providers are data in `dialogs/data/`. `advise` decides (pure); the end actions store and render;
a follow-up two weeks later asks whether it worked out (a scheduled row).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from bot.app.dispatch import Context
from bot.app.registry import PersonalData, Registry, ShareSource, suggested
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import DialogRun
from bot.distress import DistressIntent, crisis_reply
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import DIALOGS_DIR, Dialog, DialogError, load_yaml
from bot.features.onboarding.handlers import consent_question
from bot.features.respite.models import RespiteAdvice
from bot.features.steunpunt.directory import steunpunt_by_key
from bot.features.steunpunt.handlers import Finder, fallback_contacts
from bot.jobs.scheduled import ScheduledMessage, schedule
from bot.text.content import Content
from bot.text.dates import at_local, local_date

DIALOG_ID = "respite"
COMMAND = "respijt"
ADVICE_ACTION = "respite.advice"
NOW_ACTION = "respite.now"
# rs:<what>:<advice id>:<value>: opt/pay:<option> (a form, how it is paid), sum:all (the
# summary again), fu:yes|no (the follow-up offer), ans:<answer> (the follow-up answer).
BUTTONS = ButtonCodec("rs", {what: (int, str) for what in ("opt", "pay", "sum", "fu", "ans")})
FOLLOWUP_KIND = "respite_followup"
FOLLOWUP_AFTER = timedelta(days=14)
# An evening moment: caregivers who work read it after work, and it is outside quiet hours.
FOLLOWUP_AT = time(19, 0)
OPTION_TEXTS = ("title", "short", "what", "who", "ask")
FOLLOWUP_ANSWERS = ("done", "not_yet", "help")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_MUNICIPALITY_RE = re.compile(r"^GM\d{4}$")

Conditions = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class RespiteOption:
    """A respite form: when it fits, which routes can pay for it, and its (Dutch source) texts."""

    id: str
    title: str
    short: str  # a few words for the button "Meer over <short>"
    what: str
    who: str
    ask: str
    fits: Conditions
    funding: tuple[str, ...]
    volunteer: bool = False


@dataclass(frozen=True)
class Provider:
    """A local provider of some forms in some municipalities; `example` ones are fictional."""

    key: str
    name: str
    forms: frozenset[str]
    municipalities: frozenset[str]
    website: str = ""
    email: str = ""
    example: bool = False


@dataclass(frozen=True)
class Catalogue:
    routes: Mapping[str, Conditions]
    options: tuple[RespiteOption, ...]
    providers: tuple[Provider, ...] = ()


@dataclass(frozen=True)
class Advised:
    """An advised form with the funding routes that can apply to these answers."""

    option: RespiteOption
    routes: tuple[str, ...]


# ---------------------------------------------------------------- deciding (pure)


def matches(conditions: Conditions, answers: Mapping[str, str]) -> bool:
    return all(answers.get(question) in allowed for question, allowed in conditions.items())


def advise(answers: Mapping[str, str], catalogue: Catalogue) -> list[Advised]:
    """The forms that fit the answers, each with only the funding routes valid for them."""
    advised = []
    for option in catalogue.options:
        if option.volunteer and answers.get("volunteers") != "yes":
            continue
        if not matches(option.fits, answers):
            continue
        routes = tuple(r for r in option.funding if matches(catalogue.routes[r], answers))
        if routes:
            advised.append(Advised(option, routes))
    return advised


def next_steps(answers: Mapping[str, str]) -> list[str]:
    """Message keys of the next steps; the steunpunt first, as it knows the local supply."""
    wlz = answers.get("wlz")
    if answers.get("home") == "care_home":
        # Respite in the home-care sense does not apply; the home's contact person does.
        return ["next_care_home"]
    keys = ["next_steunpunt"]
    keys.append(
        {"provider": "next_wlz_provider", "pgb": "next_wlz_pgb", "unknown": "next_wlz_unknown"}.get(
            wlz or "", ""
        )
    )
    if answers.get("person") == "child" and wlz in ("no", "unknown"):
        keys.append("next_jeugdwet")
    elif wlz == "no":
        keys.append("next_wmo")
    return [k for k in keys if k]


def local_providers(
    catalogue: Catalogue, municipality_code: str | None, option_ids: list[str]
) -> list[Provider]:
    if not municipality_code:
        return []
    wanted = set(option_ids)
    return [
        p for p in catalogue.providers if municipality_code in p.municipalities and p.forms & wanted
    ]


# ---------------------------------------------------------------- loading and validating


def _conditions(raw: Any, path: str, dialog: Dialog, problems: list[str]) -> Conditions:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{path}: expected a mapping of question -> answers")
        return {}
    conditions: dict[str, frozenset[str]] = {}
    for question, values in raw.items():
        step = dialog.steps.get(question)
        if step is None or step.type != "choice":
            problems.append(f"{path}.{question}: not a question of {dialog.source}")
            continue
        known = {o.value for o in step.options}
        if not isinstance(values, list) or not values:
            problems.append(f"{path}.{question}: expected a list of answers")
            continue
        unknown = [v for v in values if v not in known]
        if unknown:
            problems.append(
                f"{path}.{question}: unknown answers {unknown} (known: {sorted(known)})"
            )
        conditions[question] = frozenset(str(v) for v in values)
    return conditions


def _options(
    raw: Any, routes: Mapping[str, Conditions], dialog: Dialog, problems: list[str]
) -> list[RespiteOption]:
    options: list[RespiteOption] = []
    if not isinstance(raw, list) or not raw:
        problems.append("options: expected a list of respite forms")
        return options
    for i, item in enumerate(raw):
        path = f"options[{i}]"
        if not isinstance(item, dict) or not _KEY_RE.match(str(item.get("id", ""))):
            problems.append(f"{path}: expected a mapping with an id like 'day_care'")
            continue
        texts = item.get("messages") or {}
        missing = [k for k in OPTION_TEXTS if not isinstance(texts.get(k), str) or not texts[k]]
        if missing:
            problems.append(f"{path}.messages: missing texts {missing}")
            continue
        funding = item.get("funding")
        if not isinstance(funding, list) or not funding:
            problems.append(f"{path}.funding: expected a list of route ids")
            continue
        unknown = [r for r in funding if r not in routes]
        if unknown:
            problems.append(f"{path}.funding: unknown routes {unknown}")
        options.append(
            RespiteOption(
                id=item["id"],
                fits=_conditions(item.get("fits"), f"{path}.fits", dialog, problems),
                funding=tuple(funding),
                volunteer=item.get("volunteer") is True,
                **{k: texts[k].strip() for k in OPTION_TEXTS},
            )
        )
    if len({o.id for o in options}) != len(options):
        problems.append("options: ids must be unique")
    return options


def _providers(path: Path, option_ids: set[str], problems: list[str]) -> list[Provider]:
    raw = (load_yaml(path) or {}).get("providers") or []
    providers: list[Provider] = []
    for i, item in enumerate(raw if isinstance(raw, list) else [None]):
        where = f"{path.name}: providers[{i}]"
        if not isinstance(item, dict) or not _KEY_RE.match(str(item.get("key", ""))):
            problems.append(f"{where}: expected a mapping with a key like 'logeerhuis-oost'")
            continue
        forms, codes = item.get("forms") or [], item.get("municipalities") or []
        website, email = str(item.get("website") or ""), str(item.get("email") or "")
        if not isinstance(item.get("name"), str) or not item["name"].strip():
            problems.append(f"{where}.name: expected a name")
        if not forms or not set(forms) <= option_ids:
            problems.append(f"{where}.forms: expected option ids of respite_options.yaml")
        if not codes or not all(_MUNICIPALITY_RE.match(str(c)) for c in codes):
            problems.append(f"{where}.municipalities: expected CBS codes like 'GM0796'")
        if not website and not email:
            problems.append(f"{where}: needs a website or an email address")
        if website and not website.startswith("https://"):
            problems.append(f"{where}.website: expected an https:// address")
        providers.append(
            Provider(
                key=str(item["key"]),
                name=str(item.get("name", "")).strip(),
                forms=frozenset(forms),
                municipalities=frozenset(str(c) for c in codes),
                website=website,
                email=email,
                example=item.get("example") is True,
            )
        )
    return providers


def load_catalogue(directory: Path, dialog: Dialog) -> Catalogue:
    """Read and check the forms, routes and providers against the questions of `dialog`."""
    path = directory / "data" / "respite_options.yaml"
    data = load_yaml(path) or {}
    problems: list[str] = []
    raw_routes = data.get("routes")
    routes: dict[str, Conditions] = {}
    if not isinstance(raw_routes, dict) or not raw_routes:
        problems.append("routes: expected a mapping of route id -> when")
        raw_routes = {}
    for route_id, item in raw_routes.items():
        when = item.get("when") if isinstance(item, dict) else None
        routes[route_id] = _conditions(when, f"routes.{route_id}.when", dialog, problems)
        if f"route_{route_id}" not in dialog.messages:
            problems.append(f"routes.{route_id}: no message 'route_{route_id}' in {dialog.source}")
    options = _options(data.get("options"), routes, dialog, problems)
    problems = [f"{path.name}: {p}" for p in problems]
    providers: list[Provider] = []
    for provider_file in sorted((directory / "data").glob("respite_providers*.yaml")):
        providers += _providers(provider_file, {o.id for o in options}, problems)
    if problems:
        raise DialogError("\n".join(problems))
    return Catalogue(routes=routes, options=tuple(options), providers=tuple(providers))


# ---------------------------------------------------------------- rendering and storing


class Respite:
    """The feature's handlers, bound to the catalogue and the steunpunt finder's card."""

    def __init__(self, catalogue: Catalogue, finder: Finder) -> None:
        self.catalogue = catalogue
        self.finder = finder

    @staticmethod
    def _t(ctx: Context, key: str, /, **values: Any) -> str:
        return ctx.texts.dialog_message(ctx.content.dialogs[DIALOG_ID], key, **values)

    # --- passed on to the steunpunt (warm handover, `registry.shares`) ---------------------

    async def share_latest(self, ctx: Context) -> dict[str, Any] | None:
        """The latest advice: the caregiver's answers and the forms that fitted."""
        advice = await ctx.session.scalar(
            select(RespiteAdvice)
            .where(RespiteAdvice.caregiver_id == ctx.caregiver.id)
            .order_by(RespiteAdvice.advised_at.desc(), RespiteAdvice.id.desc())
            .limit(1)
        )
        if advice is None:
            return None
        return {
            "answers": dict(advice.answers),
            "option_ids": list(advice.option_ids),
            "advised_at": advice.advised_at.isoformat(),
        }

    def share_text(self, ctx: Context, data: Mapping[str, Any]) -> str:
        """What the steunpunt sees: when, the caregiver's answers in words, the fitting forms."""
        dialog = ctx.content.dialogs[DIALOG_ID]
        answers = dict(data.get("answers") or {})
        when = datetime.fromisoformat(str(data["advised_at"]))
        lines = [self._t(ctx, "share_title", date=ctx.texts.translator.format_date(when))]
        for step_id in dialog.order:
            step = dialog.steps[step_id]
            option = next((o for o in step.options if o.value == answers.get(step_id)), None)
            if option is not None and step.type == "choice" and step_id != "safety":
                lines.append(f"• {ctx.texts.tr(option.label)}")
        if answers.get("safety") == "cannot":
            lines.append(f"• {self._t(ctx, 'share_cannot')}")
        titles = [
            ctx.texts.tr(a.option.title)
            for a in advise(answers, self.catalogue)
            if a.option.id in (data.get("option_ids") or [])
        ]
        if titles:
            lines.append(self._t(ctx, "share_options", options=", ".join(titles)))
        return "\n".join(lines)

    async def steunpunt_card(self, ctx: Context) -> OutMessage:
        """The caregiver's own steunpunt; when unknown, an offer to find it first."""
        row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
        if row is not None and row.steunpunt_key:
            steunpunt = await steunpunt_by_key(ctx.session, row.steunpunt_key)
            if steunpunt is not None:
                card = self.finder.card(ctx, steunpunt, saved=True)
                return OutMessage(f"{self._t(ctx, 'card_intro')}\n{card.text}", card.buttons)
        if "steunpunt" in ctx.core.registry.commands:
            return OutMessage(
                self._t(ctx, "card_unknown"),
                rows(command_button(self._t(ctx, "card_find"), "steunpunt")),
            )
        return OutMessage("\n".join(ctx.texts.contact_lines(["steunpunt"])))

    def option_message(
        self, ctx: Context, advice: RespiteAdvice, advised: Advised, providers: list[Provider]
    ) -> OutMessage:
        """One form in short: what it is, who arranges it, what to ask; payment behind a button."""
        option, tr = advised.option, ctx.texts.tr
        lines = [
            f"<b>{tr(option.title)}</b>",
            tr(option.what),
            "",
            self._t(ctx, "advice_who", text=tr(option.who)),
            self._t(ctx, "advice_ask", text=f"“{tr(option.ask)}”"),
        ]
        mine = [p for p in providers if option.id in p.forms]
        if mine:
            lines += ["", self.providers_text(ctx, mine)]
        pay = Button(self._t(ctx, "advice_pay_button"), BUTTONS.pack("pay", advice.id, option.id))
        return OutMessage("\n".join(lines), rows(pay, self._summary_button(ctx, advice)))

    def funding_message(self, ctx: Context, advice: RespiteAdvice, advised: Advised) -> OutMessage:
        lines = [
            f"<b>{ctx.texts.tr(advised.option.title)}</b>",
            self._t(ctx, "advice_funding"),
            *(f"• {self._t(ctx, f'route_{r}')}" for r in advised.routes),
        ]
        if len(advised.routes) > 1:
            lines.append(self._t(ctx, "advice_combined"))
        lines += ["", self._t(ctx, "advice_decides")]
        return OutMessage("\n".join(lines), rows(self._summary_button(ctx, advice)))

    def providers_text(self, ctx: Context, providers: list[Provider]) -> str:
        lines = [self._t(ctx, "providers_title")]
        for provider in providers:
            name = f"• <b>{html.escape(provider.name)}</b>"
            if provider.example:
                name += " " + self._t(ctx, "provider_example")
            lines.append(name)
            for contact in (provider.website, provider.email):
                if contact:
                    lines.append(f"  {html.escape(contact)}")
        return "\n".join(lines)

    def _summary_button(self, ctx: Context, advice: RespiteAdvice) -> Button:
        return Button(self._t(ctx, "advice_back_button"), BUTTONS.pack("sum", advice.id, "all"))

    def summary_message(self, ctx: Context, advice: RespiteAdvice) -> OutMessage:
        """The advice in short: the forms that fit, each a button, and the next step."""
        advised = advise(advice.answers, self.catalogue)
        # The first line stays neutral: a notification preview shows no worries or situation.
        lines = [self._t(ctx, "advice_intro"), self._t(ctx, "advice_count", count=len(advised))]
        lines += [f"• {ctx.texts.tr(a.option.title)}" for a in advised]
        lines += ["", self._t(ctx, "advice_next")]
        lines += [f"• {self._t(ctx, key)}" for key in next_steps(advice.answers)]
        buttons = [
            Button(
                self._t(ctx, "advice_more_button", title=ctx.texts.tr(a.option.short)),
                BUTTONS.pack("opt", advice.id, a.option.id),
            )
            for a in advised
        ]
        return OutMessage("\n".join(lines), rows(*buttons))

    async def _store(self, ctx: Context, state: State, option_ids: list[str]) -> RespiteAdvice:
        advice = RespiteAdvice(
            caregiver_id=ctx.caregiver.id,
            answers=dict(state.answers),
            option_ids=option_ids,
            advised_at=ctx.now,
        )
        ctx.session.add(advice)
        await ctx.session.flush()
        return advice

    async def on_advice(
        self, ctx: Context, dialog: Dialog, run: DialogRun, state: State
    ) -> list[OutMessage]:
        """End action: a short summary (details behind buttons), own steunpunt, follow-up."""
        advised = advise(state.answers, self.catalogue)
        advice = await self._store(ctx, state, [a.option.id for a in advised])
        summary = self.summary_message(ctx, advice)
        # A guide for this situation (care home, last phase, a child...), offered once.
        offered = await suggested(ctx, "respite.advice", state.answers)
        return [
            OutMessage(summary.text, (*summary.buttons, *rows(*offered))),
            await self.steunpunt_card(ctx),
            OutMessage(
                self._t(ctx, "followup_offer"),
                rows(
                    Button(self._t(ctx, "followup_yes"), BUTTONS.pack("fu", advice.id, "yes")),
                    Button(self._t(ctx, "followup_no"), BUTTONS.pack("fu", advice.id, "no")),
                ),
            ),
        ]

    async def on_now(
        self, ctx: Context, dialog: Dialog, run: DialogRun, state: State
    ) -> list[OutMessage]:
        """End action of the safety question's "no": urgent replacement now, no questionnaire.
        Who cannot go on at all gets the crisis answer of acute exhaustion first."""
        await self._store(ctx, state, [])
        messages: list[OutMessage] = []
        if state.answers.get("safety") == "cannot":
            messages += (await crisis_reply(ctx, DistressIntent.EXHAUSTION)).messages
        now = "\n".join([self._t(ctx, "now_intro"), "", self._t(ctx, "now_options")])
        messages.append(OutMessage(now))
        if not any("steunpunt" in b.data for m in messages for row in m.buttons for b in row):
            messages.append(await self.steunpunt_card(ctx))
        # E.g. asking the steunpunt to get in touch (`registry.suggestions`).
        offered = await suggested(ctx, "respite.now", state.answers)
        messages.append(
            OutMessage(self._t(ctx, "now_later"), rows(*offered, self._menu_button(ctx)))
        )
        return messages

    # --- the follow-up ---------------------------------------------------------------------

    async def on_button(self, ctx: Context, event: Event) -> Reply:
        """Buttons `rs:fu:<advice>:yes|no` (the offer) and `rs:ans:<advice>:<answer>`."""
        pressed = BUTTONS.unpack(event.text)
        if pressed is None:
            return ctx.stale_button()
        if not ctx.has_consent:
            return Reply().add(consent_question(ctx, "consent_needed", then=COMMAND))
        advice = await ctx.session.get(RespiteAdvice, pressed.number(0))
        if advice is None or advice.caregiver_id != ctx.caregiver.id:
            return ctx.stale_button()
        what, value = pressed.action, pressed.text(1)
        if what in ("opt", "pay", "sum"):
            return await self._details(ctx, advice, what, value) or ctx.stale_button()
        if what == "fu" and value in ("yes", "no"):
            return await self._answer_offer(ctx, advice, value == "yes")
        if what == "ans" and value in FOLLOWUP_ANSWERS:
            return await self._answer_followup(ctx, advice, value)
        return ctx.stale_button()

    async def _details(
        self, ctx: Context, advice: RespiteAdvice, what: str, option_id: str
    ) -> Reply | None:
        """A button of the summary: one form, how it is paid, or the summary again."""
        if what == "sum":
            return Reply().add(self.summary_message(ctx, advice))
        advised = next(
            (a for a in advise(advice.answers, self.catalogue) if a.option.id == option_id), None
        )
        if advised is None:
            return None
        if what == "pay":
            return Reply().add(self.funding_message(ctx, advice, advised))
        row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
        municipality = row.municipality_code if row else None
        providers = local_providers(self.catalogue, municipality, [advised.option.id])
        return Reply().add(self.option_message(ctx, advice, advised, providers))

    async def _answer_offer(self, ctx: Context, advice: RespiteAdvice, accepted: bool) -> Reply:
        if not accepted:
            return Reply(pressed_label=self._t(ctx, "followup_no")).add(
                OutMessage(self._t(ctx, "followup_declined"), rows(self._menu_button(ctx)))
            )
        if advice.followup_due_at is None:
            # One follow-up at a time: a newer advice replaces the question about an older one.
            await ctx.session.execute(
                delete(ScheduledMessage).where(
                    ScheduledMessage.caregiver_id == ctx.caregiver.id,
                    ScheduledMessage.kind == FOLLOWUP_KIND,
                    ScheduledMessage.status == "pending",
                )
            )
            due = at_local(local_date(ctx.now + FOLLOWUP_AFTER), FOLLOWUP_AT)
            payload = {"advice_id": advice.id}
            schedule(ctx.session, ctx.caregiver.id, FOLLOWUP_KIND, due, ctx.now, payload)
            advice.followup_due_at = due
        date = ctx.texts.translator.format_date(advice.followup_due_at)
        return Reply(pressed_label=self._t(ctx, "followup_yes")).add(
            OutMessage(self._t(ctx, "followup_planned", date=date), rows(self._menu_button(ctx)))
        )

    async def _answer_followup(self, ctx: Context, advice: RespiteAdvice, answer: str) -> Reply:
        advice.followup_answer = answer
        reply = Reply(pressed_label=self._t(ctx, f"followup_{answer}"))
        if answer == "done":
            return reply.add(
                OutMessage(self._t(ctx, "followup_done_reply"), rows(self._menu_button(ctx)))
            )
        if answer == "not_yet":
            again = command_button(self._t(ctx, "button_respite_again"), COMMAND)
            return reply.add(
                OutMessage(self._t(ctx, "followup_not_yet_reply")),
                await self.steunpunt_card(ctx),
                OutMessage(ctx.texts.get("menu_title"), rows(again, self._menu_button(ctx))),
            )
        buttons = [self._menu_button(ctx)]
        if "hulp" in ctx.core.registry.commands:
            buttons.insert(0, command_button(self._t(ctx, "button_help_contacts"), "hulp"))
        return reply.add(
            OutMessage(self._t(ctx, "followup_help_reply")),
            await self.steunpunt_card(ctx),
            OutMessage(
                "\n".join(ctx.texts.contact_lines(["steunpunt", "huisarts"])), rows(*buttons)
            ),
        )

    @staticmethod
    def _menu_button(ctx: Context) -> Button:
        return command_button(ctx.texts.get("button_menu"), "menu")

    async def send_followup(self, ctx: Context, row: ScheduledMessage) -> OutMessage | None:
        """Scheduled handler: the question, unless the advice is gone or consent withdrawn."""
        advice = await ctx.session.get(RespiteAdvice, int(row.payload.get("advice_id", 0)))
        if advice is None or advice.caregiver_id != ctx.caregiver.id or not ctx.has_consent:
            return None
        buttons = [
            Button(self._t(ctx, f"followup_{a}"), BUTTONS.pack("ans", advice.id, a))
            for a in FOLLOWUP_ANSWERS
        ]
        # The first line is neutral: a lock-screen preview does not say what it is about.
        return OutMessage(self._t(ctx, "followup_question"), rows(*buttons))


def register(registry: Registry, content: Content, directory: Path = DIALOGS_DIR) -> None:
    registry.add_personal_data(
        PersonalData(
            RespiteAdvice,
            RespiteAdvice.caregiver_id,
            label="kept_respite_advice",
            timed=RespiteAdvice.advised_at,
        )
    )
    dialog = content.dialogs.get(DIALOG_ID)
    if dialog is None:
        return
    feature = Respite(load_catalogue(directory, dialog), Finder(fallback_contacts(directory)))
    registry.actions[ADVICE_ACTION] = feature.on_advice
    registry.actions[NOW_ACTION] = feature.on_now
    registry.buttons[BUTTONS.prefix] = feature.on_button
    registry.scheduled[FOLLOWUP_KIND] = feature.send_followup
    registry.shares["respite"] = ShareSource(
        latest=feature.share_latest, describe=feature.share_text, order=20
    )
