"""Looking at rendered PDFs as a reader would: their text, their word boxes, their pages as PNG.

pypdf reads the text back (what copy and paste or a search gets); poppler's ``pdftotext -bbox``
gives each word's box on the page and ``pdftoppm`` draws the pages. The PNGs are written to
``tests/artifacts/documents/`` (git-ignored) for a person to look at after a run.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import attrs
import pytest
from pypdf import PageObject, PdfReader

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "documents"
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)
_PAGE = re.compile(r"<page width=")


def poppler(tool: str) -> str:
    """The path of a poppler-utils program; the test fails (never skips) without it."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install Debian's poppler-utils (.ci/run does)")
    return path


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text as pypdf extracts it (what a reader can search and copy)."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def all_text(pdf: bytes) -> str:
    return "\n".join(pages_text(pdf))


@attrs.frozen
class Word:
    """One word and its box, in points from the page's top left corner."""

    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def overlaps(self, other: Word, slack: float = 0.3) -> bool:
        return (
            self.page == other.page
            and self.x0 + slack < other.x1
            and other.x0 + slack < self.x1
            and self.y0 + slack < other.y1
            and other.y0 + slack < self.y1
        )


def words(pdf: bytes) -> list[Word]:
    """Every word with its box (poppler's ``pdftotext -bbox``)."""
    done = subprocess.run(
        [poppler("pdftotext"), "-bbox", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    html = done.stdout.decode()
    found: list[Word] = []
    for page, chunk in enumerate(_PAGE.split(html)[1:], start=1):
        for x0, y0, x1, y1, text in _WORD.findall(chunk):
            found.append(Word(page, unescape(text), float(x0), float(y0), float(x1), float(y1)))
    return found


def render_pngs(pdf: bytes, name: str, dpi: int = 72) -> list[Path]:
    """Draw every page to ``tests/artifacts/documents/<name>-<n>.png``; the PDF is kept too."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [poppler("pdftoppm"), "-r", str(dpi), "-png", str(source), str(ARTIFACTS / name)],
        check=True,
        capture_output=True,
    )
    # pdftoppm numbers pages with as many digits as the last page needs: sort by number.
    pngs = list(ARTIFACTS.glob(f"{name}-*.png"))
    return sorted(pngs, key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def positioned_text(pdf: bytes) -> list[str]:
    """Every run of text with where it starts and its size: the layout, as lines of text.

    ``page  y  x  size  text``, in points from the bottom left corner rounded to 0.1 pt, top
    of the page first. It comes from the PDF's own text operators (fpdf2 places every line
    itself, from the metrics of the fonts shipped in the package), so it is the same on every
    machine; only a change of layout, or of fpdf2's placement, changes it.
    """
    lines: list[str] = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1):
        runs = _runs(page)
        for (y, x, size), texts in sorted(runs.items(), key=lambda item: (-item[0][0], item[0][1])):
            text = "".join(texts).strip()
            if text:
                lines.append(f"{number} {y:6.1f} {x:6.1f} {size:4.1f} {text}")
    return lines


def _runs(page: PageObject) -> dict[tuple[float, float, float], list[str]]:
    """The page's text by (y, x, size) of where each text object starts."""
    runs: dict[tuple[float, float, float], list[str]] = {}

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        if not text:
            return
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        key = (round(y, 1), round(x, 1), round(size, 1))
        runs.setdefault(key, []).append(text.replace("\n", ""))

    page.extract_text(visitor_text=visit)
    return runs
