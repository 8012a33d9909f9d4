"""The dialog engine on its own: loading and validating dialog files, and stepping through them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.engine.flow import Event, advance, button_data, parse_button, start
from bot.engine.spec import DIALOGS_DIR, DialogError, parse_dialog
from bot.features import ACTIONS
from bot.text.content import Content, Texts, load_content


class Identity:
    locale = "nl"

    def gettext(self, msgid: str) -> str:
        return msgid

    def format_date(self, value: object) -> str:
        return str(value)


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(DIALOGS_DIR, ACTIONS)


@pytest.fixture
def texts(content: Content) -> Texts:
    return Texts(content, Identity())


def small_dialog(**changes: object) -> dict:
    data = {
        "id": "mini",
        "version": 1,
        "title": "Mini",
        "answer_sets": {"yn": [{"value": "y", "label": "Ja", "score": 1},
                               {"value": "n", "label": "Nee", "score": 0}]},
        "steps": [
            {"id": "one", "text": "Eerste vraag?", "options": "yn"},
            {"id": "two", "text": "Tweede vraag?", "options": "yn"},
            {"id": "done", "type": "end", "action": "questionnaire.result"},
        ],
        "scoring": {"bands": [{"id": "low", "min": 0, "max": 1, "title": "laag", "meaning": "m"},
                              {"id": "high", "min": 2, "max": 2, "title": "hoog", "meaning": "m",
                               "contacts": ["huisarts"]}]},
    }  # fmt: skip
    data.update(changes)
    return data


def parse(data: dict) -> object:
    return parse_dialog(data, "mini.yaml", ACTIONS, ["huisarts", "steunpunt"])


def test_shipped_dialogs_load_and_selfcheck_has_ten_questions(content: Content) -> None:
    selfcheck = content.dialogs["selfcheck"]
    assert len(selfcheck.questions) == 10
    assert selfcheck.max_score == 20
    assert [b.id for b in selfcheck.bands] == ["light", "moderate", "heavy", "overloaded"]


def test_a_valid_small_dialog_parses() -> None:
    dialog = parse(small_dialog())
    assert dialog.questions == ("one", "two")
    assert dialog.band_for(2).id == "high"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id": "Bad Id"}, "mini.yaml: id: expected an id"),
        ({"version": 0}, "mini.yaml: version: expected a whole number >= 1"),
        ({"steps": []}, "mini.yaml: steps: expected a non-empty list"),
        (
            {"steps": [{"id": "one", "text": "Q?", "options": "nope"},
                       {"id": "done", "type": "end", "action": "questionnaire.result"}]},
            "mini.yaml: steps[0].options: unknown answer set 'nope'",
        ),
        (
            {"steps": [{"id": "one", "text": "Q?", "options": "yn", "next": "nowhere"},
                       {"id": "done", "type": "end", "action": "questionnaire.result"}]},
            "mini.yaml: steps[0]: 'next' points to unknown step 'nowhere'",
        ),
        (
            {"steps": [{"id": "one", "text": "Q?", "options": "yn"},
                       {"id": "one", "text": "Q?", "options": "yn"},
                       {"id": "done", "type": "end", "action": "questionnaire.result"}]},
            "mini.yaml: steps[1].id: duplicate step id 'one'",
        ),
        (
            {"steps": [{"id": "one", "text": "Q?", "options": "yn"},
                       {"id": "done", "type": "end", "action": "explode"}]},
            "mini.yaml: steps[1].action: unknown action 'explode'",
        ),
        (
            {"steps": [{"id": "one", "text": "Q?", "options": "yn"}]},
            "mini.yaml: steps[0]: the last step must be of type 'end'",
        ),
        (
            {"steps": [{"id": "one", "text": "", "options": "yn"},
                       {"id": "done", "type": "end", "action": "questionnaire.result"}]},
            "mini.yaml: steps[0].text: expected a non-empty text",
        ),
        (
            {"scoring": {"bands": [{"id": "low", "min": 0, "max": 0, "title": "t", "meaning": "m"},
                                   {"id": "high", "min": 2, "max": 2, "title": "t", "meaning": "m",
                                    "contacts": ["huisarts"]}]}},
            "mini.yaml: scoring.bands: scores 1..1 have no band",
        ),
        (
            {"scoring": {"bands": [{"id": "all", "min": 0, "max": 2, "title": "t",
                                    "meaning": "m"}]}},
            "the heaviest band must name a human to contact",
        ),
        (
            {"scoring": {"bands": [{"id": "all", "min": 0, "max": 2, "title": "t", "meaning": "m",
                                    "contacts": ["tante"]}]}},
            "mini.yaml: scoring.bands[0].contacts: unknown contact 'tante'",
        ),
    ],
)  # fmt: skip
def test_a_broken_dialog_is_refused_naming_file_path_and_problem(
    change: dict, expected: str
) -> None:
    with pytest.raises(DialogError) as info:
        parse(small_dialog(**change))
    assert expected in str(info.value)


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    for name in ("messages.yaml", "contacts.yaml", "distress.yaml"):
        (tmp_path / name).write_text((DIALOGS_DIR / name).read_text(encoding="utf-8"))
    (tmp_path / "broken.yaml").write_text("id: x\nsteps: [\n  - oops: {\n")
    with pytest.raises(DialogError, match=r"broken\.yaml: line \d+: not valid YAML"):
        load_content(tmp_path, ACTIONS)


def test_yaml_yes_without_quotes_is_caught_as_a_bad_value(tmp_path: Path) -> None:
    data = small_dialog()
    data["answer_sets"]["yn"][0]["value"] = True  # what `value: yes` becomes in YAML 1.1
    with pytest.raises(DialogError, match=r"answer_sets\.yn\[0\]\.value"):
        parse(data)


def test_choosing_an_answer_records_it_and_asks_the_next_question(
    content: Content, texts: Texts
) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    outcome = advance(dialog, state, Event("button", button_data(dialog, state, "1")), texts)
    assert [(r.step, r.value, r.score) for r in outcome.recorded] == [("time", "sometimes", 1)]
    assert outcome.state.step == "health"
    assert outcome.reply.pressed_label == "Soms"
    assert "Vraag 2 van 10" in outcome.reply.messages[-1].text


def test_back_returns_to_the_previous_question_keeping_the_answer(
    content: Content, texts: Texts
) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    state = advance(dialog, state, Event("button", button_data(dialog, state, "2")), texts).state
    outcome = advance(dialog, state, Event("button", button_data(dialog, state, "back")), texts)
    assert outcome.state.step == "time"
    assert outcome.state.answers == {"time": "often"}
    assert "Vraag 1 van 10" in outcome.reply.messages[-1].text


def test_an_old_button_gets_an_explanation_and_the_current_question(
    content: Content, texts: Texts
) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    old = button_data(dialog, state, "0")
    state = advance(dialog, state, Event("button", old), texts).state
    state = advance(dialog, state, Event("button", button_data(dialog, state, "0")), texts).state
    outcome = advance(dialog, state, Event("button", old), texts)
    assert outcome.recorded == []
    assert "eerdere vraag" in outcome.reply.messages[0].text
    assert "Vraag 3 van 10" in outcome.reply.messages[-1].text


def test_a_double_tap_is_answered_once(content: Content, texts: Texts) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    press = Event("button", button_data(dialog, state, "0"))
    state = advance(dialog, state, press, texts).state
    again = advance(dialog, state, press, texts)
    assert again.recorded == [] and again.reply.messages == []
    assert again.reply.toast


def test_typed_label_counts_as_the_button_and_other_text_is_explained(
    content: Content, texts: Texts
) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    typed = advance(dialog, state, Event("text", "  SOMS "), texts)
    assert typed.recorded[0].value == "sometimes"
    other = advance(dialog, typed.state, Event("text", "x" * 4000), texts)
    assert other.recorded == []
    assert "knoppen" in other.reply.messages[0].text
    assert "x" * 50 not in "".join(m.text for m in other.reply.messages)


def test_an_urgent_answer_is_marked_for_the_caller(content: Content, texts: Texts) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    state.step = "endurance"
    cannot = [o.value for o in dialog.steps["endurance"].options].index("cannot")
    outcome = advance(
        dialog, state, Event("button", button_data(dialog, state, str(cannot))), texts
    )
    assert outcome.urgent and outcome.completed


def test_forged_button_data_is_not_accepted(content: Content, texts: Texts) -> None:
    dialog = content.dialogs["selfcheck"]
    state = start(dialog)
    for data in [
        "q:selfcheck:0:99",
        "q:other:0:1",
        "q:selfcheck:x:1",
        "garbage",
        "q:selfcheck:7:1",
    ]:
        outcome = advance(dialog, state, Event("button", data), texts)
        assert outcome.recorded == [], data
    assert parse_button("q:selfcheck:3:back") == ("selfcheck", 3, "back")


def test_every_dialog_file_is_plain_yaml_with_quoted_values() -> None:
    for path in DIALOGS_DIR.glob("*.yaml"):
        yaml.safe_load(path.read_text(encoding="utf-8"))
