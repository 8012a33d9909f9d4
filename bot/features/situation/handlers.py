"""`/situatie`: short guides for the moment a caregiver is in (dementia, a hospital stay ending,
a care home, work, young carers, the last phase, a child): the summary first, who can help and
rights behind buttons, the caregiver's own steunpunt. Also the suggestions other features ask
for through `registry.suggestions` (each guide once), and the end action of the work-and-care
dialog (`dialogs/work_care.yaml`): a plain summary for the talk with the employer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, PersonalData, Registry
from bot.db.models import DialogRun
from bot.distress import own_steunpunt_card
from bot.engine.codec import ANY, ButtonCodec, Optional
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import DIALOGS_DIR, Dialog, DialogError
from bot.features.situation.guides import LIST, Guide, Guides, load_guides
from bot.features.situation.models import SituationOffer
from bot.text.content import Content

COMMAND = "situatie"
# si:list | si:<guide> | si:<guide>:who | si:<guide>:rights
BUTTONS = ButtonCodec("si", {ANY: (Optional(("who", "rights")),)})
WORK_ACTION = "situation.work_summary"
WORK_COMMAND = "werkgesprek"  # the command of dialogs/work_care.yaml
# Commands a guide may link to; each needs a message `situation_link_<command>`, and its button
# is shown only when the command exists in this bot.
LINKS = frozenset({"zelftest", "respijt", "mijnavonden", WORK_COMMAND, "checkin", "steunpunt"})
MENU_ORDER = 60


class Situations:
    """The feature's handlers, bound to the guides read at start."""

    def __init__(self, guides: Guides) -> None:
        self.guides = guides

    # --- the list and one guide -------------------------------------------------------------

    @staticmethod
    def _menu_button(ctx: Context) -> Button:
        return command_button(ctx.texts.get("button_menu"), "menu")

    def list_message(self, ctx: Context) -> OutMessage:
        buttons = [Button(ctx.texts.tr(g.label), BUTTONS.pack(g.key)) for g in self.guides.guides]
        return OutMessage(ctx.texts.get("situation_list"), rows(*buttons, self._menu_button(ctx)))

    def _nav(self, ctx: Context, guide: Guide, *shown: str) -> list[Button]:
        """The guide's own buttons except the ones already on screen (`shown`)."""
        t = ctx.texts.get
        buttons = []
        if "who" not in shown:
            buttons.append(Button(t("situation_who_button"), BUTTONS.pack(guide.key, "who")))
        if guide.rights and "rights" not in shown:
            buttons.append(Button(t("situation_rights_button"), BUTTONS.pack(guide.key, "rights")))
        if "guide" not in shown:
            buttons.append(Button(t("situation_back_button"), BUTTONS.pack(guide.key)))
        return buttons

    def guide_message(self, ctx: Context, guide: Guide) -> OutMessage:
        """What often happens now and the first steps; the rest behind buttons."""
        tr = ctx.texts.tr
        lines = [f"<b>{tr(guide.title)}</b>", tr(guide.summary)]
        if guide.next_steps:
            lines += ["", ctx.texts.get("situation_first_steps")]
            lines += [f"• {tr(step)}" for step in guide.next_steps]
        commands = ctx.core.registry.commands
        links = [
            command_button(ctx.texts.get(f"situation_link_{link}"), link)
            for link in guide.links
            if link in commands
        ]
        buttons = [*self._nav(ctx, guide, "guide"), *links]
        buttons += [
            Button(ctx.texts.get("situation_other_button"), BUTTONS.pack(LIST)),
            self._menu_button(ctx),
        ]
        return OutMessage("\n".join(lines), rows(*buttons))

    async def who_messages(self, ctx: Context, guide: Guide) -> list[OutMessage]:
        """Who can help, each with what to ask, then the caregiver's own steunpunt (its card, or
        a button to find it): always a way to a person."""
        t, tr = ctx.texts.get, ctx.texts.tr
        lines = [t("situation_who_title")]
        for helper in guide.helpers:
            name = f"• <b>{tr(helper.title)}</b>"
            if helper.phone:
                name += f": {helper.phone}"
            lines.append(f"{name}\n  {tr(helper.text)}")
            lines.append(f"  {t('situation_ask', question=tr(helper.prompt))}")
        nav = rows(*self._nav(ctx, guide, "who"), self._menu_button(ctx))
        card = await own_steunpunt_card(ctx)
        if card is not None:
            own = OutMessage(f"{t('situation_card_intro')}\n{card.text}", (*card.buttons, *nav))
            return [OutMessage("\n".join(lines)), own]
        find = []
        if "steunpunt" in ctx.core.registry.commands:
            find = [command_button(t("situation_find_steunpunt"), "steunpunt")]
        steunpunt = OutMessage(t("situation_steunpunt"), (*rows(*find), *nav))
        return [OutMessage("\n".join(lines)), steunpunt]

    def rights_message(self, ctx: Context, guide: Guide) -> OutMessage:
        t, tr = ctx.texts.get, ctx.texts.tr
        lines = [t("situation_rights_title")]
        lines += [f"• <b>{tr(right.title)}</b>: {tr(right.text)}" for right in guide.rights]
        lines += ["", f"<i>{t('situation_rights_decides')}</i>"]
        return OutMessage(
            "\n".join(lines), rows(*self._nav(ctx, guide, "rights"), self._menu_button(ctx))
        )

    async def on_command(self, ctx: Context, event: Event) -> Reply:
        return Reply().add(self.list_message(ctx))

    async def on_button(self, ctx: Context, event: Event) -> Reply:
        """`si:list`, `si:<guide>`, `si:<guide>:who`, `si:<guide>:rights`."""
        pressed = BUTTONS.unpack(event.text)
        if pressed is None:
            return ctx.stale_button()
        if pressed.action == LIST and not pressed.values:
            return Reply().add(self.list_message(ctx))
        guide = self.guides.get(pressed.action)
        what = pressed.text(0)
        if guide is None:
            return ctx.stale_button()
        if what == "":
            return Reply().add(self.guide_message(ctx, guide))
        if what == "who":
            return Reply().add(*await self.who_messages(ctx, guide))
        if what == "rights" and guide.rights:
            return Reply().add(self.rights_message(ctx, guide))
        return ctx.stale_button()

    # --- suggested, not pushed ----------------------------------------------------------------

    async def suggest(self, ctx: Context, moment: str, answers: Mapping[str, str]) -> list[Button]:
        """At most one button: the first fitting guide not offered before to this caregiver.
        Without consent nothing is stored, so nothing is offered (it could not stay once)."""
        if not ctx.has_consent:
            return []
        for key in self.guides.fitting(moment, answers):
            if await ctx.session.get(SituationOffer, (ctx.caregiver.id, key)) is not None:
                continue
            ctx.session.add(
                SituationOffer(caregiver_id=ctx.caregiver.id, guide=key, offered_at=ctx.now)
            )
            guide = self.guides.get(key)
            if guide is None:
                return [Button(ctx.texts.get("situation_suggest_list"), BUTTONS.pack(LIST))]
            return [Button(ctx.texts.tr(guide.button), BUTTONS.pack(guide.key))]
        return []

    # --- work and care --------------------------------------------------------------------

    async def on_work_summary(
        self, ctx: Context, dialog: Dialog, run: DialogRun, state: State
    ) -> list[OutMessage]:
        """End action of `dialogs/work_care.yaml`: one plain message to copy or forward (no
        markup, no buttons: it reads the same wherever it is pasted), then the leave types of
        the guide that links to this dialog."""
        answers = state.answers

        def t(key: str, /, **values: str) -> str:
            return ctx.texts.dialog_message(dialog, key, **values)

        start = answers.get("start", "")
        when = ctx.texts.translator.format_date(date.fromisoformat(start), "full") if start else ""
        duration = answers.get("duration", "")
        lines = [
            t("summary_title"),
            "",
            t("summary_intro"),
            t("summary_need", need=t(f"need_{answers.get('need', '')}")),
            t("summary_start", date=when),
            t(
                "summary_duration",
                duration=answers.get("duration_own", "")
                if duration == "own"
                else t(f"duration_{duration}"),
            ),
        ]
        if answers.get("note"):
            lines.append(t("summary_note", note=answers["note"]))
        lines += ["", t("summary_close")]
        guide = next((g for g in self.guides.guides if WORK_COMMAND in g.links), None)
        if guide is None or not guide.rights:
            after = OutMessage(t("copy_hint"), rows(self._menu_button(ctx)))
        else:
            rights = self.rights_message(ctx, guide)
            after = OutMessage(f"{t('copy_hint')}\n\n{rights.text}", rights.buttons)
        return [OutMessage("\n".join(lines)), after]


def _check_work_dialog(dialog: Dialog | None) -> None:
    """Every answer of the work dialog has its words for the summary (`need_<value>`...)."""
    if dialog is None:
        return
    missing = [
        f"{step}_{option.value}"
        for step in ("need", "duration")
        for option in dialog.steps[step].options
        if option.value != "own" and f"{step}_{option.value}" not in dialog.messages
    ]
    if missing:
        raise DialogError(f"{dialog.source}: messages: missing summary words {missing}")


def register(registry: Registry, content: Content, directory: Path = DIALOGS_DIR) -> None:
    links = {link for link in LINKS if f"situation_link_{link}" in content.messages}
    feature = Situations(load_guides(directory, content, links))
    _check_work_dialog(content.dialog_for_command(WORK_COMMAND))
    registry.commands.update({COMMAND: feature.on_command, "situation": feature.on_command})
    registry.menu.append(MenuEntry(COMMAND, "menu_situation", MENU_ORDER))
    registry.buttons[BUTTONS.prefix] = feature.on_button
    registry.actions[WORK_ACTION] = feature.on_work_summary
    registry.suggestions.append(feature.suggest)
    registry.add_personal_data(
        PersonalData(
            SituationOffer,
            SituationOffer.caregiver_id,
            label="kept_situation_offer",
            timed=SituationOffer.offered_at,
        )
    )
