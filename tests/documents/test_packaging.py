"""The wheel carries the fonts and their licences, so a fresh install prints any name."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FONTS = "payment_adapters/documents/fonts/"


@pytest.mark.slow
def test_the_wheel_holds_the_fonts_and_their_licences(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("payment_service-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        sizes = {info.filename: info.compress_size for info in archive.infolist()}

    assert {
        FONTS + "DejaVuSans.ttf",
        FONTS + "DejaVuSans-Bold.ttf",
        FONTS + "DroidSansFallback.ttf",
        FONTS + "LICENSE-DejaVu.txt",
        FONTS + "LICENSE-DroidSansFallback.txt",
    } <= names
    # The fonts keep the wheel at a few megabytes.
    assert sum(size for name, size in sizes.items() if name.startswith(FONTS)) < 4_000_000
