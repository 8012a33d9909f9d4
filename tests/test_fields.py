"""Contact fields: Dutch phone numbers stored as +31 and shown the Dutch way (tappable), https
web addresses and e-mail addresses; and the `check:` of a typed dialog step, which turns typed
text into the stored value or asks again saying what is wrong."""

from __future__ import annotations

import pytest

from bot.engine.spec import DialogError, parse_dialog
from bot.features import ACTIONS
from bot.text.fields import (
    CHECKS,
    FieldError,
    check_email,
    check_https_url,
    check_phone_nl,
    format_phone,
    international_phone,
    parse_phone,
)
from tests.test_typed_steps import Walk, form, texts  # noqa: F401  (the texts fixture)


@pytest.mark.parametrize(
    ("typed", "stored", "shown", "tappable"),
    [
        ("073-1234567", "+31731234567", "073 123 4567", "+31 73 123 4567"),
        ("+31 73 123 4567", "+31731234567", "073 123 4567", "+31 73 123 4567"),
        ("(073) 123 45 67", "+31731234567", "073 123 4567", "+31 73 123 4567"),
        ("0031 70 000 0000", "+31700000000", "070 000 0000", "+31 70 000 0000"),
        ("+31 (0)20 123 4567", "+31201234567", "020 123 4567", "+31 20 123 4567"),
        ("(0413) 12 34 56", "+31413123456", "0413 123 456", "+31 413 123 456"),
        ("06 1234 5678", "+31612345678", "06 12345678", "+31 6 12345678"),
        ("088-0767000", "+31880767000", "088 076 7000", "+31 88 076 7000"),
        ("0800-0113", "08000113", "0800 0113", None),
        ("0900 1234567", "09001234567", "0900 123 4567", None),
    ],
)
def test_dutch_phone_numbers_are_stored_in_one_form_and_shown_the_dutch_way(
    typed: str, stored: str, shown: str, tappable: str | None
) -> None:
    assert parse_phone(typed) == stored
    assert check_phone_nl(typed) == stored
    assert format_phone(stored) == shown
    assert international_phone(stored) == tappable


@pytest.mark.parametrize(
    "typed",
    ["12345", "073-000000", "073-12345678", "+32 2 000 0000", "bel ons", "112", "0800123456",
     "097 1234 5678", "0612345678 of 073"],
)  # fmt: skip
def test_what_is_no_dutch_phone_number_is_refused(typed: str) -> None:
    assert parse_phone(typed) is None
    with pytest.raises(FieldError) as refused:
        check_phone_nl(typed)
    assert refused.value.key == "typed_phone_nl"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://www.steunpunt.nl", "https://www.steunpunt.nl"),
        ("HTTPS://steunpunt.nl/mantelzorg?x=1", "https://steunpunt.nl/mantelzorg?x=1"),
        ("www.steunpunt.nl/contact", "https://www.steunpunt.nl/contact"),
    ],
)
def test_web_addresses_are_https(typed: str, stored: str) -> None:
    assert check_https_url(typed) == stored


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("http://www.steunpunt.nl", "typed_https_url_http"),
        ("javascript:alert(1)", "typed_https_url"),
        ("ftp://steunpunt.nl", "typed_https_url"),
        ('https://steunpunt.nl/"><script>', "typed_https_url"),
        ("bel ons maar", "typed_https_url"),
        ("https://steunpunt.nl/" + "a" * 200, "typed_text_long"),
    ],
)
def test_other_web_addresses_are_refused_saying_why(typed: str, key: str) -> None:
    with pytest.raises(FieldError) as refused:
        check_https_url(typed)
    assert refused.value.key == key


def test_e_mail_addresses() -> None:
    assert check_email("mailto:Info@Steunpunt.nl") == "Info@Steunpunt.nl"
    for bad in ("info@", "info at steunpunt.nl", "<b>@x.nl", "a@b", "x" * 120 + "@steunpunt.nl"):
        with pytest.raises(FieldError):
            check_email(bad)


def test_a_checked_text_step_stores_the_canonical_value_and_asks_again_kindly(
    texts,  # noqa: F811
) -> None:
    walk = Walk(
        form({"id": "phone", "type": "text", "check": "phone_nl", "text": "Nummer?"}), texts
    )
    answer = walk.says("bel me maar")
    assert "Dat is geen Nederlands telefoonnummer" in answer and "Nummer?" in answer
    assert walk.state.step == "phone"
    walk.says("(073) 123 45 67")
    assert walk.state.answers["phone"] == "+31731234567"


def test_the_length_bound_comes_before_the_check(texts) -> None:  # noqa: F811
    step = {"id": "site", "type": "text", "check": "https_url", "max": 30, "text": "Site?"}
    walk = Walk(form(step), texts)
    assert "Dat is wat lang" in walk.says("https://www.steunpunt.nl/" + "a" * 40)
    assert "veilige adressen" in walk.says("http://steunpunt.nl")
    walk.says("steunpunt.nl")
    assert walk.state.answers["site"] == "https://steunpunt.nl"


def test_a_dialog_file_naming_an_unknown_check_or_a_check_on_another_step_does_not_load() -> None:
    steps = [
        {"id": "a", "type": "text", "check": "postcode", "text": "A?"},
        {"id": "b", "type": "number", "check": "phone_nl", "text": "B?"},
        {"id": "done", "type": "end", "action": "questionnaire.result"},
    ]
    with pytest.raises(DialogError) as broken:
        parse_dialog({"id": "f", "version": 1, "title": "F", "steps": steps}, "f.yaml", ACTIONS, [])
    assert "steps[0].check: unknown check 'postcode' (known: phone_nl" in str(broken.value)
    assert "steps[1].check: only a text step has a check" in str(broken.value)
    assert set(CHECKS) == {"phone_nl", "https_url", "email"}
