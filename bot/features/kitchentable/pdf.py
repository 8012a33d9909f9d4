"""The one-page PDF "Mijn situatie als mantelzorger": the caregiver's answers laid out on A4.

Pure: texts come in already translated, bytes go out. Made with fpdf2 and the DejaVu Sans font
that matplotlib ships (a dependency already), so any European script prints, not only latin-1.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import TTFFont

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT = "body"
MARGIN, TOP, BOTTOM = 18.0, 16.0, 14.0  # mm
BODY_SIZE, BODY_LINE = 10.0, 5.0  # pt, mm
HEADING_SIZE, HEADING_LINE = 11.0, 6.5
SECTION_GAP = 2.5
INK, GREY = (20, 20, 20), (95, 95, 95)
ELLIPSIS = "…"


@dataclass(frozen=True)
class Paragraph:
    """A block of text under a heading; `own_words` are typed by the caregiver and may be
    shortened to keep the page to one sheet, everything else always prints in full."""

    text: str
    own_words: bool = True
    muted: bool = False


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Sheet:
    """Everything on the page, translated: the title block, the sections, and the box at the
    bottom ("Goed om te weten")."""

    title: str
    subtitle: str
    fields: tuple[str, str]  # labels of the lines to fill in by hand: name, date of the talk
    sections: tuple[Section, ...]
    know_title: str
    know: str
    truncated_mark: str
    language: str
    created: datetime


class _Page(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        for style, name in FONT_FILES.items():
            self.add_font(FONT, style, str(_FONTS / name))
        self.set_margins(MARGIN, TOP, MARGIN)
        self.set_auto_page_break(False)
        self.c_margin = 0

    @property
    def width(self) -> float:
        return self.w - 2 * MARGIN

    def lines(self, text: str, size: float = BODY_SIZE, width: float | None = None) -> list[str]:
        """The lines `text` takes in the body font at `size` over `width` (the text width)."""
        self.set_font(FONT, "", size)
        lines = self.multi_cell(
            width or self.width, BODY_LINE, text, align="L", dry_run=True, output="LINES"
        )
        assert isinstance(lines, list)
        return lines

    @property
    def covered(self) -> set[int]:
        """The characters the body font can draw."""
        font = self.fonts[FONT]
        assert isinstance(font, TTFFont)
        return set(font.cmap)


def printable(text: str, covered: set[int]) -> str:
    """`text` with only what the font can draw (else it prints as an empty box): control and
    format characters go, and so do emoji and combining marks the font lacks; other characters
    it lacks become "?", so a reader sees that something was there."""
    out = []
    for char in text.replace("\r\n", "\n").replace("\t", " "):
        category = unicodedata.category(char)
        if char == "\n":
            out.append(char)
        elif category in ("Cc", "Cf"):
            continue
        elif ord(char) in covered:
            out.append(char)
        elif category not in ("Mn", "So", "Sk"):
            out.append("?")
    return "".join(out)


def _shortened(page: _Page, lines: list[str], keep: int, mark: str) -> str:
    """The first `keep` of `lines`, the last one cut at a word so that "… (ingekort)" fits."""
    page.set_font(FONT, "", BODY_SIZE)
    words = lines[keep - 1].split()
    while words and page.get_string_width(" ".join(words) + f"{ELLIPSIS} {mark}") > page.width:
        words.pop()
    last = " ".join(words).rstrip(",;:")
    return "\n".join([*lines[: keep - 1], f"{last}{ELLIPSIS} {mark}"])


def _budget(needs: list[int], available: int) -> list[int]:
    """Lines per paragraph: all they need when that fits, else the longest are capped at the
    same number of lines (at least one each), so a long answer cannot push the others off."""
    if sum(needs) <= available:
        return needs
    cap = max(needs)
    while cap > 1 and sum(min(n, cap) for n in needs) > available:
        cap -= 1
    return [min(n, cap) for n in needs]


def render(sheet: Sheet) -> tuple[bytes, bool]:
    """The PDF of `sheet` on one A4 page, and whether any of the caregiver's words were cut."""
    page = _Page()
    covered = page.covered
    page.set_title(printable(sheet.title, covered))
    page.set_lang(sheet.language)
    page.set_creator("mantelzorg-bot")
    page.set_creation_date(sheet.created)
    page.add_page()

    sections = [
        Section(
            printable(s.heading, covered),
            tuple(
                Paragraph(printable(p.text, covered), p.own_words, p.muted) for p in s.paragraphs
            ),
        )
        for s in sheet.sections
    ]
    know = printable(sheet.know, covered)
    know_height = 8.0 + len(page.lines(know, size=8.5, width=page.width - 8.0)) * 4.0 + 3.0
    head_height = 10.0 + 6.0 + 10.0
    fixed = head_height + know_height + 4.0
    needs: list[int] = []
    for section in sections:
        fixed += HEADING_LINE + SECTION_GAP
        for paragraph in section.paragraphs:
            count = len(page.lines(paragraph.text))
            if paragraph.own_words and not paragraph.muted:
                needs.append(count)
            else:
                fixed += count * BODY_LINE
    available = int((page.h - TOP - BOTTOM - fixed) // BODY_LINE)
    budgets = iter(_budget(needs, max(available, len(needs))))
    truncated = False

    page.set_text_color(*INK)
    page.set_font(FONT, "B", 18)
    page.cell(page.width, 10.0, printable(sheet.title, covered), new_x="LMARGIN", new_y="NEXT")
    page.set_font(FONT, "", 9.5)
    page.set_text_color(*GREY)
    page.cell(page.width, 6.0, printable(sheet.subtitle, covered), new_x="LMARGIN", new_y="NEXT")
    page.set_font(FONT, "", BODY_SIZE)
    name, talk = (printable(f, covered) for f in sheet.fields)
    page.cell(page.width, 10.0, f"{name} ______________________________    {talk} ____________")
    page.ln(10.0)
    page.set_draw_color(*GREY)

    for section in sections:
        page.set_text_color(*INK)
        page.set_font(FONT, "B", HEADING_SIZE)
        page.cell(page.width, HEADING_LINE, section.heading, new_x="LMARGIN", new_y="NEXT")
        for paragraph in section.paragraphs:
            text = paragraph.text
            if paragraph.own_words and not paragraph.muted:
                keep, lines = next(budgets), page.lines(text)
                if len(lines) > keep:
                    text, truncated = _shortened(page, lines, keep, sheet.truncated_mark), True
            page.set_text_color(*(GREY if paragraph.muted else INK))
            page.set_font(FONT, "", BODY_SIZE)
            page.multi_cell(page.width, BODY_LINE, text, align="L", new_x="LMARGIN", new_y="NEXT")
        page.ln(SECTION_GAP)

    top = page.h - BOTTOM - know_height
    page.set_fill_color(238, 242, 246)
    page.rect(MARGIN, top, page.width, know_height, style="F")
    page.set_xy(MARGIN + 4.0, top + 3.0)
    page.set_text_color(*INK)
    page.set_font(FONT, "B", 9.5)
    page.cell(page.width - 8.0, 5.0, printable(sheet.know_title, covered))
    page.set_xy(MARGIN + 4.0, top + 8.0)
    page.set_font(FONT, "", 8.5)
    page.multi_cell(page.width - 8.0, 4.0, know, align="L")
    return bytes(page.output()), truncated
