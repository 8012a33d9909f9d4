"""Helpers of the console's pages: Telegram's HTML subset shown safely in a page, and a small
inline SVG line chart (no script, no styles: allowed by the console's CSP).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from html.parser import HTMLParser

from markupsafe import Markup

# Telegram's formatting tags that keep their meaning on a page; everything else shows as text.
KEPT_TAGS = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "s": "s", "code": "code",
             "pre": "pre", "blockquote": "blockquote"}  # fmt: skip
HIDDEN_TAGS = ("script", "style")


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.hidden = 0  # inside <script> or <style>: their content is not text either

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        kept = KEPT_TAGS.get(tag)
        if kept:
            self.out.append(f"<{kept}>")
            self.open.append(kept)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        kept = KEPT_TAGS.get(tag)
        if kept and kept in self.open:
            while self.open:
                closing = self.open.pop()
                self.out.append(f"</{closing}>")
                if closing == kept:
                    break

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.out.append(escape(data, quote=False).replace("\n", "<br>\n"))


def telegram_html(text: str) -> Markup:
    """A message in Telegram's HTML (as the bot sends it) as page HTML: the formatting tags
    stay, links become their text, every other tag and attribute is dropped."""
    parser = _Sanitiser()
    parser.feed(text)
    parser.close()
    parser.out += [f"</{tag}>" for tag in reversed(parser.open)]
    return Markup("".join(parser.out))


def line_chart(
    points: Sequence[tuple[float, float]],
    *,
    width: int = 320,
    height: int = 140,
    label: str,
    x_labels: tuple[str, str] = ("", ""),
    y_max_label: str = "",
) -> Markup:
    """Points (x, y) with y rising, as a step line in an SVG `width` x `height`; `label` is
    its accessible name (role img). All values are numbers or escaped text."""
    pad_left, pad_bottom, pad_top, pad_right = 34, 22, 8, 8
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    xs = [x for x, _ in points] or [0.0]
    ys = [y for _, y in points] or [0.0]
    x0, x1 = min(xs), max(xs)
    top = max(ys) or 1.0
    span = (x1 - x0) or 1.0

    def at(x: float, y: float) -> str:
        px = pad_left + (x - x0) / span * inner_w
        py = pad_top + inner_h - y / top * inner_h
        return f"{px:.1f},{py:.1f}"

    path: list[str] = []
    previous = 0.0
    for x, y in points:
        path += [at(x, previous), at(x, y)]
        previous = y
    if points:
        path.append(at(x1, previous))
    axis_y = pad_top + inner_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" class="chart">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{pad_left}" y1="{axis_y}" x2="{width - pad_right}" y2="{axis_y}" '
        'stroke="#444" stroke-width="1"/>',
        f'<line x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" y2="{axis_y}" '
        'stroke="#444" stroke-width="1"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 10}" text-anchor="end" font-size="11" '
        f'fill="#222">{escape(y_max_label or str(int(top)))}</text>',
        f'<text x="{pad_left - 4}" y="{axis_y}" text-anchor="end" font-size="11" '
        'fill="#222">0</text>',
        f'<text x="{pad_left}" y="{height - 6}" font-size="11" fill="#222">'
        f"{escape(x_labels[0])}</text>",
        f'<text x="{width - pad_right}" y="{height - 6}" text-anchor="end" font-size="11" '
        f'fill="#222">{escape(x_labels[1])}</text>',
    ]
    if path:
        parts.append(
            f'<polyline points="{" ".join(path)}" fill="none" stroke="#0b5cad" stroke-width="2.5"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
