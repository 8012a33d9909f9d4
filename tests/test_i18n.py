"""Every text goes through the catalogs, and both catalogs are complete."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest

from bot.i18n import MissingTranslation, choose_locale, get_translator, set_strict
from bot.i18n_extract import catalog_problems, collect_messages, extract_dialogs


def test_every_text_in_code_and_dialogs_is_translated_in_both_catalogs() -> None:
    problems = catalog_problems()
    assert not problems, "\n".join(problems)


def test_the_extractor_sees_the_dialog_texts() -> None:
    messages = collect_messages()
    assert "Heb je door het zorgen te weinig tijd voor jezelf?" in messages
    assert "Vraag {n} van {total}" in messages
    assert "113" not in messages  # phone numbers are data, not text


def test_extractor_takes_translatable_keys_and_messages_with_line_numbers() -> None:
    source = b"""id: demo
steps:
  - id: one
    text: "Eerste vraag?"
    options:
      - {value: a, label: "Ja", score: 1}
messages:
  paused: "Gestopt."
  nested:
    deeper: "Diep"
scoring:
  bands:
    - {id: low, title: "laag", next_steps: ["stap een", "stap twee"]}
"""
    found = [(line, text) for line, _f, text, _c in extract_dialogs(io.BytesIO(source), (), (), {})]
    assert found == [
        (4, "Eerste vraag?"), (6, "Ja"), (8, "Gestopt."), (10, "Diep"), (13, "laag"),
        (13, "stap een"), (13, "stap twee"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "telegram", "expected"),
    [(None, None, "nl"), (None, "en-GB", "en"), (None, "nl-BE", "nl"), (None, "de", "nl"),
     ("en", "nl", "en"), ("fr", "en", "en")],
)  # fmt: skip
def test_locale_is_the_stored_choice_then_telegrams_language_then_dutch(
    stored: str | None, telegram: str | None, expected: str
) -> None:
    assert choose_locale(stored, telegram) == expected


def test_dates_are_written_in_dutch_and_english() -> None:
    assert get_translator("nl").format_date(date(2026, 11, 23)) == "23 november 2026"
    assert get_translator("en").format_date(date(2026, 11, 23)) == "23 November 2026"
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already the 24th in Amsterdam
    assert get_translator("nl").format_date(late) == "24 november 2026"
    assert get_translator("nl").format_datetime(late) == "dinsdag 24 november 2026 om 00:30"


def test_strict_mode_refuses_unknown_texts_and_normal_mode_falls_back() -> None:
    translator = get_translator("en")
    with pytest.raises(MissingTranslation):
        translator.gettext("Dit staat nergens")
    set_strict(False)
    try:
        assert translator.gettext("Dit staat nergens") == "Dit staat nergens"
    finally:
        set_strict(True)
    assert translator.gettext("Vraag {n} van {total}") == "Question {n} of {total}"
