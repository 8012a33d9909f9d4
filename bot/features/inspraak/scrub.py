"""Taking names and numbers out of a typed comment before it is stored, so what staff read does
not point at anyone: e-mail addresses, links, @names, postcodes, phone and house numbers (every
number), and every word with a capital letter that is not a common first word of a sentence.

Conservative on purpose: "Mijn moeder gaat naar de Dagopvang" loses "Dagopvang" too. A name
typed without a capital ("jan helpt mij") is not recognised; the caregiver is told to leave
names out, and sees what is kept.
"""

from __future__ import annotations

import re

NAME, NUMBER, EMAIL, LINK, POSTCODE = "[naam]", "[nummer]", "[e-mail]", "[link]", "[postcode]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:nl|com|org|net|eu|be)\b\S*", re.I)
_HANDLE = re.compile(r"@\w+")
# 5211AB, 5211 AB, 5211ab (not "5211 of": a number and a word).
_POSTCODE = re.compile(r"\b\d{4}(?:\s?[A-Z]{2}|[a-z]{2})\b")
# Digits with the separators of phone and house numbers (+31 6-12 34 56 78, 12a, 1.234).
_NUMBER = re.compile(r"\+?\d(?:[\d\s().-]*\d)?[a-zA-Z]?\b")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# A name of several words with Dutch infixes in between is one [naam] ("Jan van der Berg").
_NAMES = re.compile(
    r"\[naam\](?:\s+(?:(?:van|de|der|den|het|ten|ter|te|la|le|du)\s+)*\[naam\])+", re.I
)

# Words that often start a sentence with a capital and are no name (Dutch and English).
COMMON = frozenset(
    """
    aan al alle alleen als altijd andere antwoord bij daar dan dat de deze die dit door echt een
    eens eerst en er erg even ga geef geen goed graag haar hem het hier hij hoe hulp ik in is ja
    je jij juist kan kun laat liever maar me meer met mij mijn minder misschien mn moet na naar
    nee niet niets nog nooit nu of ok oké om ons onze ook op over pas soms steeds tijd toch
    tot u uw vaak van veel verder vooral voor waar wanneer want wat we weinig wel welke wie wij
    willen wil zelf zij ze zo zonder zou zoals zeker bel kijk zie neem vraag heb ben was word
    wordt gaat kom komt hoop denk vind weet sinds samen thuis elke iedere iemand mensen mail
    stuur lees bedankt dank hallo hoi beste fijn jammer helaas
    a all also and as at be but for from he help her here him how i if in is it just maybe me
    more my no not now of often ok on or our she so sometimes that the then there they this to
    too very we what when where who why with yes you your
    """.split()
)
# Words of care itself, often written with a capital, that name nobody.
CARE_WORDS = frozenset(
    """
    wmo wlz ciz pgb zvw zorgkantoor steunpunt gemeente mantelzorg mantelzorger mantelzorgers
    respijt respijtzorg dagopvang dagbesteding logeeropvang huisarts thuiszorg wijkteam
    zorg vrijwilliger vrijwilligers casemanager dementie
    """.split()
)


def scrub(text: str) -> str:
    """`text` with names and numbers replaced by [naam], [nummer], [e-mail], [link],
    [postcode]; whitespace tidied."""
    text = _EMAIL.sub(EMAIL, text)
    text = _LINK.sub(LINK, text)
    text = _HANDLE.sub(NAME, text)
    text = _POSTCODE.sub(POSTCODE, text)
    text = _NUMBER.sub(NUMBER, text)
    text = _WORD.sub(_name_or_word, text)
    text = _NAMES.sub(NAME, text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


def _name_or_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word[0].isupper() and word.casefold() not in COMMON | CARE_WORDS:
        return NAME
    return word
