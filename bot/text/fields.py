"""Contact fields typed by people or read from files: Dutch phone numbers, web addresses and
e-mail addresses, parsed to one stored form and shown the Dutch way; and `CHECKS`, the registry
of the checks a typed dialog step can name (`check: phone_nl`, see `bot.engine.spec.Step`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

# Area codes of two digits after the 0 (and the non-geographic 084/085/087/088/091); all other
# landline codes have three.
_TWO_DIGIT_AREAS = frozenset(
    "10 13 15 20 23 24 26 30 33 35 36 38 40 43 45 46 50 53 55 58 70 71 72 73 74 75 76 77 78 79"
    " 84 85 87 88 91".split()
)  # fmt: skip
# Service numbers (free 0800, paid 0900/0906/0909): four or seven digits follow.
_SERVICE = re.compile(r"0(800|900|906|909)(\d{4}|\d{7})")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_URL = re.compile(r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?(/[^\s<>\"]*)?$")
URL_MAX = 200
EMAIL_MAX = 120


@dataclass
class FieldError(Exception):
    """Why typed text is not a usable value: `key` names the message that says so kindly."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def parse_phone(text: str) -> str | None:
    """A Dutch phone number in its stored form, or None when it is not one.

    Accepts landlines ("073-1234567", "(0413) 12 34 56"), mobiles (06), 084/085/087/088/091
    numbers and the +31 / 0031 forms with spaces, dashes, dots and brackets: stored as
    "+31731234567". Service numbers (0800, 0900, 0906, 0909) only work from within the country
    and keep their own form ("08001234"). Short numbers (112), foreign numbers and 097
    (machine-to-machine) are refused.
    """
    digits = re.sub(r"[\s().-]", "", text)
    if digits.startswith("+310"):  # "+31 (0)73 ..." written with the trunk zero
        digits = "+31" + digits[4:]
    if digits.startswith("0031"):
        digits = "+31" + digits[4:]
    if digits.startswith("+31"):
        digits = "0" + digits[3:]
    if _SERVICE.fullmatch(digits):
        return digits
    if not re.fullmatch(r"0[1-9]\d{8}", digits) or digits[1:3] in ("80", "90", "97"):
        return None
    return "+31" + digits[1:]


def format_phone(number: str) -> str:
    """A stored number the Dutch way: "073 123 4567", "0413 123 456", "06 12345678",
    "088 123 4567", "0800 1234", "0900 123 4567"."""
    if number.startswith("+31") and len(number) == 12:
        national = "0" + number[3:]
        if national.startswith("06"):
            return f"06 {national[2:]}"
        if national[1:3] in _TWO_DIGIT_AREAS:
            return f"{national[:3]} {national[3:6]} {national[6:]}"
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    match = _SERVICE.fullmatch(number)
    if match:
        prefix, rest = f"0{match.group(1)}", match.group(2)
        return f"{prefix} {rest}" if len(rest) == 4 else f"{prefix} {rest[:3]} {rest[3:]}"
    return number


def international_phone(number: str) -> str | None:
    """The +31 form with spaces ("+31 73 123 4567"), which every Telegram client recognises as
    a phone number and makes tappable; None for service numbers (not reachable as +31)."""
    if not (number.startswith("+31") and len(number) == 12):
        return None
    national = format_phone(number)
    return "+31 " + national[1:]


def valid_email(text: str) -> bool:
    return len(text) <= EMAIL_MAX and bool(_EMAIL.match(text))


def valid_url(text: str) -> bool:
    """An http(s) address of a named host (import files may still name http sites)."""
    return len(text) <= URL_MAX and bool(_URL.match(text))


# --- checks for typed dialog steps ----------------------------------------------------------


def check_phone_nl(text: str) -> str:
    number = parse_phone(text)
    if number is None:
        raise FieldError("typed_phone_nl")
    return number


def check_https_url(text: str) -> str:
    url = text.strip()
    if not re.match(r"^[a-z]+://", url, re.IGNORECASE):
        url = "https://" + url  # "www.steunpunt.nl" means the https site
    if url.lower().startswith("http://"):
        raise FieldError("typed_https_url_http")
    if len(url) > URL_MAX:
        raise FieldError("typed_text_long", {"max": URL_MAX, "length": len(url)})
    if not url.lower().startswith("https://"):
        raise FieldError("typed_https_url")
    url = "https://" + url[len("https://") :]
    if not valid_url(url):
        raise FieldError("typed_https_url")
    return url


def check_email(text: str) -> str:
    address = text.strip()
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    if len(address) > EMAIL_MAX:
        raise FieldError("typed_text_long", {"max": EMAIL_MAX, "length": len(address)})
    if not valid_email(address):
        raise FieldError("typed_email")
    return address


# The checks a typed text step can name: each takes the typed text (trimmed) and returns the
# value to store, or raises FieldError with the key of the message that says what is wrong.
CHECKS: dict[str, Callable[[str], str]] = {
    "phone_nl": check_phone_nl,
    "https_url": check_https_url,
    "email": check_email,
}
