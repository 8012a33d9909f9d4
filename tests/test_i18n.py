"""Every text goes through the catalogs: extraction, catalog upkeep and checks, translators.

The catalog checks run twice: on a small translated project in a temporary folder (they must
pass there) and on this repository (they pass once every text in code and dialogs is translated).
"""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import write_po

from bot.text.extract import (
    CatalogProblem,
    collect_messages,
    extract_dialogs,
    iter_translatable,
    main,
    missing_translations,
    placeholder_mismatches,
    unused_entries,
    update_catalogs,
)
from bot.text.i18n import (
    DATETIME_JOIN,
    MissingTranslation,
    catalog_path,
    choose_locale,
    get_translator,
    load_translator,
    read_catalog,
    set_strict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

DIALOG = """\
id: demo
command: demo
title: Hoe gaat het?
steps:
  - id: sleep_1
    text: "Slaap je {hours} uur?"
    options:
      - {value: "yes", label: "Ja", score: 2}
      - value: "no"
        label: |
          Nee
    next_steps: ["Rust uit", 3]
scoring:
  bands:
    - {id: low, max: 4, contacts: [huisarts]}
messages:
  paused: "Gestopt."
  nested:
    deeper: ["Diep", "Dieper"]
phones: ["113", "0800-0113"]
"""

CODE = """\
from bot.text.i18n import N_, _

BACK = N_("Terug naar het menu")
GREETING = _("Hallo {name}")
"""

ENGLISH = {
    "Hoe gaat het?": "How are you?",
    "Slaap je {hours} uur?": "Do you sleep {hours} hours?",
    "Ja": "Yes",
    "Nee": "No",
    "Rust uit": "Take a rest",
    "Gestopt.": "Stopped.",
    "Diep": "Deep",
    "Dieper": "Deeper",
    "Terug naar het menu": "Back to the menu",
    "Hallo {name}": "Hello {name}",
    DATETIME_JOIN: "{date} at {time}",
}


def extracted(source: str) -> list[tuple[int, str, list[str]]]:
    found = extract_dialogs(io.BytesIO(source.encode()), {}, (), {})
    return [(line, text, comments) for line, _func, text, comments in found]


def translate(root: Path, translations: dict[str, str]) -> None:
    """Fill in English translations as a translator would, in the .po file."""
    catalog = read_catalog("en", root / "locales")
    for msgid, translation in translations.items():
        catalog[msgid].string = translation
    with catalog_path("en", root / "locales").open("wb") as handle:
        write_po(handle, catalog)


def report(problems: Sequence[CatalogProblem]) -> str:
    advice = "run `python -m bot.text.extract update`, then translate the empty entries"
    return "\n".join([f"{len(problems)} catalog problem(s); {advice}:", *map(str, problems)])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny project: one code file and one dialog, catalogs not made yet."""
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "feature.py").write_text(CODE)
    # The real module: its texts (the date-and-time join) belong in every catalog.
    (tmp_path / "bot" / "text").mkdir()
    shutil.copy(REPO_ROOT / "bot" / "text" / "i18n.py", tmp_path / "bot" / "text" / "i18n.py")
    (tmp_path / "dialogs").mkdir()
    (tmp_path / "dialogs" / "demo.yaml").write_text(DIALOG)
    # Only bot/ and dialogs/ hold texts; a test's own literals are not for caregivers.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text('_("Niet voor de catalogus")\n')
    return tmp_path


@pytest.fixture
def translated(project: Path) -> Path:
    update_catalogs(project)
    translate(project, ENGLISH)
    return project


@pytest.fixture(params=["fixture", "repository"])
def tree(request: pytest.FixtureRequest) -> Path:
    if request.param == "fixture":
        return request.getfixturevalue("translated")
    return REPO_ROOT


@pytest.fixture
def lenient() -> Iterator[None]:
    set_strict(False)
    yield
    set_strict(True)  # the suite runs strict (tests/conftest.py)


# The catalogs -------------------------------------------------------------------------------


def test_every_extracted_text_is_translated_in_both_catalogs(tree: Path) -> None:
    problems = missing_translations(tree)
    assert not problems, report(problems)


def test_catalogs_hold_no_text_that_is_no_longer_extracted(tree: Path) -> None:
    problems = unused_entries(tree)
    assert not problems, report(problems)


def test_translations_keep_exactly_the_placeholders_of_their_source(tree: Path) -> None:
    problems = placeholder_mismatches(tree)
    assert not problems, report(problems)


def test_update_copies_dutch_and_leaves_english_to_translate(project: Path) -> None:
    counts = update_catalogs(project)

    assert counts == {
        "nl": {"added": 11, "removed": 0, "untranslated": 0},
        "en": {"added": 11, "removed": 0, "untranslated": 11},
    }
    dutch, english = (
        read_catalog("nl", project / "locales"),
        read_catalog("en", project / "locales"),
    )
    assert all(m.string == m.id for m in dutch if m.id)
    assert {m.id for m in english if m.id} == set(ENGLISH)
    assert english.get("Slaap je {hours} uur?").locations == [("dialogs/demo.yaml", 6)]
    assert english.get("Slaap je {hours} uur?").auto_comments == ["steps[0].text"]
    header = catalog_path("en", project / "locales").read_text()
    assert '"Language: en\\n"' in header
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert "charset=utf-8" in header


def test_checks_name_every_gap_with_its_location(project: Path) -> None:
    update_catalogs(project)
    translate(project, {"Hallo {name}": "Hello {naam}"})

    missing = [str(p) for p in missing_translations(project)]
    assert len(missing) == 10  # all English entries but the one translated
    assert "en: untranslated: bot/feature.py:3: 'Terug naar het menu'" in missing
    assert "en: untranslated: dialogs/demo.yaml:6: 'Slaap je {hours} uur?'" in missing
    assert [str(p) for p in placeholder_mismatches(project)] == [
        "en: placeholders (source {name}, translation {naam}): bot/feature.py:4: 'Hallo {name}'"
    ]


def test_a_fuzzy_translation_counts_as_missing(translated: Path) -> None:
    catalog = read_catalog("en", translated / "locales")
    catalog["Ja"].flags.add("fuzzy")
    with catalog_path("en", translated / "locales").open("wb") as handle:
        write_po(handle, catalog)

    assert [(p.locale, p.kind, p.msgid) for p in missing_translations(translated)] == [
        ("en", "fuzzy", "Ja")
    ]


def test_update_keeps_translations_and_drops_texts_no_longer_used(translated: Path) -> None:
    dialog = translated / "dialogs" / "demo.yaml"
    dialog.write_text(dialog.read_text().replace("Gestopt.", "Even gestopt."))
    assert [p.msgid for p in unused_entries(translated)] == ["Gestopt.", "Gestopt."]

    counts = update_catalogs(translated)

    assert counts["en"] == {"added": 1, "removed": 1, "untranslated": 1}
    assert unused_entries(translated) == []
    english = read_catalog("en", translated / "locales")
    assert english.get("Gestopt.") is None
    assert english.get("Even gestopt.").string == ""  # a changed source is a new text
    assert english.get("Ja").string == "Yes"
    assert "#~" not in catalog_path("en", translated / "locales").read_text()


def test_update_twice_leaves_the_catalogs_untouched(translated: Path) -> None:
    before = catalog_path("en", translated / "locales").read_bytes()
    update_catalogs(translated)
    assert catalog_path("en", translated / "locales").read_bytes() == before


def test_check_command_lists_the_gaps_and_fails(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["update", "--root", str(project)]) == 0
    assert main(["check", "--root", str(project)]) == 1
    assert "en: untranslated: dialogs/demo.yaml:8: 'Ja'" in capsys.readouterr().out

    translate(project, ENGLISH)
    assert main(["check", "--root", str(project)]) == 0


# The extractor ------------------------------------------------------------------------------


def test_extractor_takes_texts_under_translatable_keys_with_their_line() -> None:
    assert extracted(DIALOG)[:6] == [
        (3, "Hoe gaat het?", ["title"]),
        (6, "Slaap je {hours} uur?", ["steps[0].text"]),
        (8, "Ja", ["steps[0].options[0].label"]),
        (10, "Nee", ["steps[0].options[1].label"]),  # a block scalar, stripped
        (12, "Rust uit", ["steps[0].next_steps[0]"]),
        (17, "Gestopt.", ["messages.paused"]),
    ]


def test_extractor_takes_every_string_below_messages() -> None:
    assert [(line, text) for line, text, _ in extracted(DIALOG)][6:] == [
        (19, "Diep"),
        (19, "Dieper"),
    ]


def test_extractor_skips_ids_values_numbers_and_phone_numbers() -> None:
    texts = {text for _line, text, _comments in extracted(DIALOG)}
    assert texts.isdisjoint({"demo", "sleep_1", "yes", "no", "low", "huisarts", "113", "3"})


def test_a_mapping_under_a_translatable_key_keeps_the_ordinary_rules() -> None:
    source = "help:\n  id: faq\n  text: Zo werkt het\nnote: ''\n"
    assert extracted(source) == [(3, "Zo werkt het", ["help.text"])]


def test_loaded_yaml_gives_the_same_texts_as_the_extractor() -> None:
    from_file = [text for _line, text, _comments in extracted(DIALOG)]
    assert list(iter_translatable(yaml.safe_load(DIALOG))) == from_file


def test_code_texts_come_from_bot_only(project: Path) -> None:
    messages = collect_messages(project)
    assert messages["Terug naar het menu"] == ["bot/feature.py:3"]
    assert "Niet voor de catalogus" not in messages


# Locale and translator ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "telegram", "expected"),
    [
        (None, None, "nl"),
        (None, "en-GB", "en"),
        (None, "en_US", "en"),
        (None, "nl-BE", "nl"),
        (None, "de", "nl"),
        ("en", "nl", "en"),
        ("fr", "en", "en"),
        ("fr", "fr", "nl"),
    ],
)
def test_locale_is_the_stored_choice_then_telegrams_language_then_dutch(
    stored: str | None, telegram: str | None, expected: str
) -> None:
    assert choose_locale(stored, telegram) == expected


def test_dates_are_written_in_dutch_and_english() -> None:
    assert get_translator("nl").format_date(date(2026, 11, 23)) == "23 november 2026"
    assert get_translator("en").format_date(date(2026, 11, 23)) == "23 November 2026"


def test_a_late_moment_shows_the_date_in_amsterdam() -> None:
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert get_translator("nl").format_date(late) == "24 november 2026"
    assert get_translator("nl").format_date(late.replace(tzinfo=None)) == "24 november 2026"


def test_date_and_time_read_as_a_sentence(translated: Path) -> None:
    moment = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
    dutch = load_translator("nl", translated / "locales")
    english = load_translator("en", translated / "locales")
    assert dutch.format_datetime(moment) == "maandag 23 november 2026 om 19:30"
    assert english.format_datetime(moment) == "Monday 23 November 2026 at 19:30"
    assert dutch.format_datetime(moment, format="long") == "23 november 2026 om 19:30"


def test_numbers_use_the_locales_separators() -> None:
    assert get_translator("nl").format_number(1234.5) == "1.234,5"
    assert get_translator("en").format_number(1234.5) == "1,234.5"


def test_translator_translates_from_the_catalog(translated: Path) -> None:
    assert load_translator("en", translated / "locales").gettext("Ja") == "Yes"
    assert load_translator("nl", translated / "locales").gettext("Ja") == "Ja"
    assert load_translator("en", translated / "locales").gettext("") == ""


def test_strict_mode_refuses_a_text_missing_from_the_catalog(translated: Path) -> None:
    set_strict(True)
    english = load_translator("en", translated / "locales")
    with pytest.raises(MissingTranslation) as raised:
        english.gettext("Dit staat nergens")
    assert (raised.value.locale, raised.value.msgid) == ("en", "Dit staat nergens")


def test_an_untranslated_entry_is_missing_too(project: Path) -> None:
    update_catalogs(project)
    with pytest.raises(MissingTranslation):
        load_translator("en", project / "locales").gettext("Ja")


@pytest.mark.usefixtures("lenient")
def test_normal_mode_shows_the_dutch_text_and_warns_once(
    translated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    english = load_translator("en", translated / "locales")
    with caplog.at_level(logging.WARNING, logger="bot.text.i18n"):
        first = english.gettext("Alleen in het Nederlands")
        second = english.gettext("Alleen in het Nederlands")
    assert first == second == "Alleen in het Nederlands"
    assert [r.getMessage() for r in caplog.records] == [
        "no en translation for 'Alleen in het Nederlands'; showing the Dutch text"
    ]


def test_translators_are_shared_and_any_language_code_gets_one() -> None:
    assert get_translator("en") is get_translator("en")
    assert get_translator("en-GB") is get_translator("en")
    assert get_translator("C.UTF-8") is get_translator("nl")
    with pytest.raises(ValueError, match="unsupported locale 'de'"):
        load_translator("de")
