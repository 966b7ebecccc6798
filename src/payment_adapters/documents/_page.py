"""The page every document is printed on: fonts, running head and foot, the status mark.

Determinism: the creation date is the document's own date (never the clock), the file /ID is
fpdf2's hash of the finished content, fonts are the ones shipped in ``fonts/`` (never the
system's), and nothing else varies between two renderings of one document.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Final

import attrs
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, TableHeadingsDisplay, VAlign, XPos, YPos
from fpdf.fonts import FontFace, TTFFont
from fpdf.table import Table

from payment_adapters.documents import _text
from payment_adapters.documents.model import Party

__all__ = ["FONT", "LINE_HEIGHT", "DocumentPdf", "Head", "Mark"]

FONT: Final = "DejaVu"
_FONT_FILES: Final = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_FALLBACK: Final = "DroidFallback"
_FALLBACK_FILE: Final = "DroidSansFallback.ttf"

MARGIN: Final = 18.0
_TOP: Final = 16.0
_BOTTOM: Final = 24.0  # room for the foot

INK: Final = (33, 37, 41)
MUTED: Final = (108, 117, 125)
RULE: Final = (206, 212, 218)
SHADE: Final = (241, 243, 245)
ACCENT: Final = (31, 58, 96)
LINE_HEIGHT: Final = 4.4

Rgb = tuple[int, int, int]

# Font files extracted from a zipped install stay for the life of the process: fpdf2 reads
# them by path, and again when it subsets them at output.
_EXTRACTED = ExitStack()


@functools.cache
def _font_path(name: str) -> str:
    resource = files("payment_adapters.documents") / "fonts" / name
    if isinstance(resource, Path):
        return str(resource)
    return str(_EXTRACTED.enter_context(as_file(resource)))


@attrs.frozen(slots=True)
class Mark:
    """A status printed as a stamp under the title and as a faint diagonal watermark."""

    text: str
    color: Rgb


@attrs.frozen(slots=True)
class Head:
    """What the page knows about its document: title, number, issuer, date."""

    kind: str  # "Invoice", "Credit note", "Receipt"
    reference: str
    issuer: Party
    created: datetime
    mark: Mark | None = None


class DocumentPdf(FPDF):
    """An A4 page in the house style, with the running head and foot of one document."""

    def __init__(self, head: Head, texts: Iterable[str]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.head = head
        self.set_margins(MARGIN, _TOP, MARGIN)
        self.set_auto_page_break(auto=True, margin=_BOTTOM)
        self.c_margin = 1.5
        self.alias_nb_pages(_text.PAGES_ALIAS)
        self.set_creation_date(head.created)
        title = f"{head.kind} {head.reference}".strip()
        self.set_title(title)
        self.set_author(head.issuer.name or head.kind)
        self.set_creator("payment-service")
        self.set_lang("en")
        self._add_fonts(texts)
        self.set_text_color(*INK)
        self.set_font(FONT, size=9)

    # ------------------------------------------------------------------ fonts
    def _add_fonts(self, texts: Iterable[str]) -> None:
        for style, name in _FONT_FILES.items():
            self.add_font(FONT, style, _font_path(name))
        # The CJK fallback is large to parse: load it only when a glyph needs it.
        main = self.fonts[FONT.lower()]
        covered = main.cmap if isinstance(main, TTFFont) else {}
        if any(ord(c) not in covered for text in texts for c in _text.clean(text)):
            self.add_font(_FALLBACK, "", _font_path(_FALLBACK_FILE))
            self.set_fallback_fonts([_FALLBACK], exact_match=False)

    def _render_styled_text_line(self, *args: Any, **kwargs: Any) -> bool:
        # fpdf2 (2.8.9, its issue 1772) selects the page's font inside the q/Q of a line whose
        # first glyph comes from a fallback font, so after that line the PDF is back on the
        # previous font while fpdf2 believes its own is set, and later lines print wrong
        # glyphs (a CJK address line garbled the next one). Selecting it first avoids that.
        if self.page > 0 and self.current_font is not None and not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
        return super()._render_styled_text_line(*args, **kwargs)

    # ------------------------------------------------------------------ running head and foot
    def header(self) -> None:
        if self.page_no() == 1:
            return
        # Later pages: who and what, so a loose page still says where it belongs.
        half = self.epw / 2
        self.set_font(FONT, "B", 9)
        self.set_text_color(*INK)
        self.cell(half, 5, self.fit(_text.clean(self.head.issuer.name), half))
        self.set_font(FONT, "", 9)
        self.set_text_color(*MUTED)
        continued = f"{self.head.kind} {_text.clean(self.head.reference)} (continued)"
        self.cell(half, 5, self.fit(continued, half), align=Align.R)
        self.set_xy(self.l_margin, self.get_y() + 5)
        self.rule(self.get_y() + 1.5)
        self.set_y(self.get_y() + 5)
        self.set_text_color(*INK)

    def footer(self) -> None:
        # Drawn last on each page, over the content: a filled table cell cannot hide it.
        if self.head.mark is not None:
            self._watermark(self.head.mark)
        self.set_y(-(_BOTTOM - 8))
        self.rule(self.get_y() - 2)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        issuer = self.head.issuer
        parts = [issuer.name, f"Tax ID {issuer.tax_id}" if issuer.tax_id else "", issuer.email]
        line = "  ·  ".join(_text.clean(p) for p in parts if _text.clean(p))
        self.cell(self.epw - 30, 4, self.fit(line, self.epw - 32))
        self.set_x(self.l_margin + self.epw - 30)
        self.cell(30, 4, f"Page {self.page_no()} of {_text.PAGES_ALIAS}", align=Align.R)
        self.set_text_color(*INK)

    def _watermark(self, mark: Mark) -> None:
        x, y, font = self.x, self.y, (self.font_family, self.font_style, self.font_size_pt)
        size = 96.0
        self.set_font(FONT, "B", size)
        width = self.get_string_width(mark.text)
        # Long words (UNCOLLECTIBLE) shrink to fit the page's diagonal.
        if width > 190:
            size = size * 190 / width
            self.set_font(FONT, "B", size)
            width = self.get_string_width(mark.text)
        cx, cy = self.w / 2, self.h / 2 + 20
        with (
            self.local_context(fill_opacity=0.09, text_color=mark.color),
            self.rotation(30, cx, cy),
        ):
            self.text(cx - width / 2, cy + size * 0.35 / 2.83, mark.text)
        self.set_font(*font)
        self.set_xy(x, y)

    # ------------------------------------------------------------------ drawing helpers
    def fit(self, text: str, width: float) -> str:
        """Cleaned text for one line in the current font, cut with an ellipsis where too wide."""
        line = text
        width -= self.c_margin  # the padding on the side the text is aligned to
        if self.get_string_width(line) > width:
            while line and self.get_string_width(line + "…") > width:
                line = line[:-1]
            line = line.rstrip() + "…"
        return _text.visual(line)

    def rule(self, y: float, x1: float | None = None, x2: float | None = None) -> None:
        self.set_draw_color(*RULE)
        self.set_line_width(0.25)
        self.line(
            self.l_margin if x1 is None else x1, y, self.w - self.r_margin if x2 is None else x2, y
        )

    def label(self, text: str, x: float, w: float, *, align: Align = Align.L) -> None:
        """A small upper-case caption over a block: BILL TO, FROM, NOTES."""
        self.set_xy(x, self.get_y())
        self.set_font(FONT, "B", 7)
        self.set_text_color(*MUTED)
        self.cell(w, 4, text.upper(), align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def party(self, party: Party, x: float, w: float, *, name_size: float = 10) -> float:
        """Name, address, tax id and e-mail of ``party`` from the current y; returns the end y."""
        name = _text.clean(party.name)
        if name:
            self.set_xy(x, self.get_y())
            self.set_font(FONT, "B", name_size)
            self.multi_cell(w, name_size * 0.5, _text.visual(name), align=Align.L, new_x=XPos.LEFT)
        self.set_font(FONT, "", 9)
        rows = [*party.address]
        if party.tax_id:
            rows.append(f"Tax ID: {party.tax_id}")
        if party.email:
            rows.append(party.email)
        for row in rows:
            self.set_x(x)
            self.multi_cell(w, 4.4, _text.visual(_text.clean(row)), align=Align.L, new_x=XPos.LEFT)
        return self.get_y()

    def title_block(self, title: str, rows: Sequence[tuple[str, str]], x: float, w: float) -> float:
        """The document's title, its status stamp and its key facts, right-aligned at ``x``."""
        self.set_xy(x, _TOP - 1)
        self.set_font(FONT, "B", 20)
        self.set_text_color(*ACCENT)
        self.cell(w, 10, title.upper(), align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_y(self.get_y() + 1.5)
        # Labels take the room they need (at most 42 %): a long value, such as a payment's
        # 30-character reference, gets the rest before its type is made smaller.
        self.set_font(FONT, "", 8.5)
        needed = max((self.get_string_width(label) for label, _ in rows), default=0.0)
        label_w = min(w * 0.42, needed + 2 * self.c_margin + 1)
        for label, value in rows:
            self.set_x(x)
            self.set_font(FONT, "", 8.5)
            self.set_text_color(*MUTED)
            self.cell(label_w, 5, label)
            self.set_text_color(*INK)
            # A number must print whole: a long one gets smaller type before it is ever cut.
            shown, size = _text.clean(value), 8.5
            self.set_font(FONT, "B", size)
            while size > 6 and self.get_string_width(shown) > w - label_w - self.c_margin:
                size -= 0.5
                self.set_font(FONT, "B", size)
            shown = self.fit(shown, w - label_w)
            self.cell(w - label_w, 5, shown, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        if self.head.mark is not None:
            self.set_y(self.get_y() + 2.5)
            self._stamp(self.head.mark, x + w)
        return self.get_y()

    def labelled_party(self, caption: str, party: Party, width: float) -> float:
        """``caption`` over ``party`` at the left margin from the current y; returns the end y.

        The current y is left where it was, so a box can be set beside the block.
        """
        start = self.get_y()
        self.label(caption, self.l_margin, width)
        if party.name or party.address or party.email or party.tax_id:
            self.party(party, self.l_margin, width, name_size=10.5)
        else:
            self.set_font(FONT, "", 9)
            self.set_text_color(*MUTED)
            self.cell(width, 4.4, "No details given", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(*INK)
        end = self.get_y()
        self.set_y(start)
        return end

    def summary_box(self, caption: str, amount: str, note: str, width: float) -> float:
        """A shaded box at the right margin: caption, amount (large), note; returns the end y."""
        x = self.l_margin + self.epw - width
        top = self.get_y()
        self.set_fill_color(*SHADE)
        self.rect(x, top, width, 22, style="F")
        self.set_xy(x + 4, top + 3)
        self.set_font(FONT, "B", 7)
        self.set_text_color(*MUTED)
        self.cell(width - 8, 4, caption.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FONT, "B", 15)
        self.set_text_color(*INK)
        self.cell(width - 8, 8, amount, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(width - 8, 4, note, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.set_y(top + 22)
        return self.get_y()

    def _stamp(self, mark: Mark, right: float) -> None:
        self.set_font(FONT, "B", 10)
        width = self.get_string_width(mark.text) + 8
        self.set_draw_color(*mark.color)
        self.set_text_color(*mark.color)
        self.set_line_width(0.6)
        self.set_x(right - width)
        self.cell(width, 7.5, mark.text, border=1, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def amount_rows(
        self,
        rows: Sequence[tuple[str, str, bool]],
        x: float,
        w: float,
        *,
        strong: frozenset[int] = frozenset(),
        ruled: frozenset[int] = frozenset(),
        shaded: frozenset[int] = frozenset(),
    ) -> None:
        """Label and amount per row, the amount flush right; ``rows`` are (label, amount, muted)."""
        amount_w = w * 0.45
        for index, (label, amount, muted) in enumerate(rows):
            height = 7.0 if index in strong else 5.6
            if index in ruled:
                self.rule(self.get_y() + 0.6, x, x + w)
                self.set_y(self.get_y() + 1.2)
            self.set_x(x)
            bold = "B" if index in strong else ""
            size = 10.0 if index in strong else 8.5
            if index in shaded:
                self.set_fill_color(*SHADE)
            self.set_font(FONT, bold, size)
            self.set_text_color(*(MUTED if muted else INK))
            fill = index in shaded
            self.cell(w - amount_w, height, label, fill=fill)
            self.cell(
                amount_w, height, amount, align=Align.R, fill=fill, new_x=XPos.LEFT, new_y=YPos.NEXT
            )
        self.set_text_color(*INK)
        self.set_x(self.l_margin)

    def notes(self, heading: str, text: str | None) -> None:
        lines = _text.paragraph(text)
        if not lines:
            return
        self.set_y(self.get_y() + 5)
        self.label(heading, self.l_margin, self.epw)
        self.set_font(FONT, "", 8.5)
        for line in lines:
            self.multi_cell(
                self.epw, 4.4, _text.visual(line) or " ", align=Align.L, new_x=XPos.LMARGIN
            )

    @contextmanager
    def data_table(
        self, headings: Sequence[str], widths: Sequence[float], aligns: Sequence[Align]
    ) -> Iterator[Table]:
        """A table over the text width, its heading row repeated on every page it spans."""
        self.set_fill_color(255, 255, 255)  # rows are not filled: the table takes this as theirs
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.set_font(FONT, "", 8.5)
        heading = FontFace(family=FONT, emphasis="BOLD", size_pt=8, color=MUTED, fill_color=SHADE)
        with self.table(
            col_widths=tuple(widths),
            width=self.epw,
            text_align=tuple(aligns),
            v_align=VAlign.T,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=heading,
            line_height=LINE_HEIGHT,
            padding=(1.6, 1.5, 1.6, 1.5),
            repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
        ) as table:
            row = table.row()
            for text in headings:
                row.cell(text)
            yield table

    def keep_together(self, height: float) -> None:
        """Start a new page unless ``height`` fits on this one (a block is never split)."""
        if self.will_page_break(height):
            self.add_page()

    def finish(self) -> bytes:
        return bytes(self.output())
