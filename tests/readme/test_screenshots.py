"""The README's screenshots (``make screenshots``, ``tools/screenshots.py``): every picture the
README shows is committed, small and not blank; the tool refuses a blank or an oversized one."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import REPO
from tools import screenshots
from tools.browser import non_blank

IMAGES = REPO / "docs" / "images"


def test_every_readme_picture_is_committed_small_and_not_blank():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\]\(docs/images/([\w.-]+\.png)\)", readme))
    committed = {path.name for path in IMAGES.glob("*.png")}
    assert shown == committed
    assert {"ui_partitions.png", "ui_drift_check.png", "ui_plots.png", "report.png"} <= shown
    for name in sorted(committed):
        png = (IMAGES / name).read_bytes()
        assert len(png) < screenshots.MAX_BYTES, name
        assert non_blank(png), name
        assert Image.open(io.BytesIO(png)).width >= 1000, name


def _page() -> bytes:
    """A page-like picture: white, a dark header, a red and a green bar, some text."""
    image = Image.new("RGB", (1440, 900), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1440, 80), fill=(20, 20, 40))
    draw.rectangle((100, 200, 900, 240), fill=(40, 200, 120))
    draw.rectangle((900, 200, 1300, 240), fill=(200, 40, 30))
    for row in range(20):
        draw.text(
            (100, 300 + 25 * row), f"credit_risk|2026-12-02-{row:02d}:00  drifted", fill="black"
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_page_is_saved_smaller_and_still_readable(tmp_path):
    page = _page()
    path = screenshots.save(tmp_path, "page.png", page)
    saved = Image.open(path)
    assert saved.mode == "P" and saved.size == (1440, 900)
    assert non_blank(path.read_bytes())
    # the palette keeps the colours: the red bar is still red
    assert saved.convert("RGB").getpixel((1000, 220)) == (200, 40, 30)


def test_a_blank_or_oversized_picture_is_refused(tmp_path):
    blank = io.BytesIO()
    Image.new("RGB", (1440, 900), (248, 248, 248)).save(blank, "PNG")
    with pytest.raises(SystemExit, match="blank"):
        screenshots.save(tmp_path, "blank.png", blank.getvalue())
    noise = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (900, 1440, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(noise, "PNG")
    with pytest.raises(SystemExit, match="over 300,000"):
        screenshots.save(tmp_path, "noise.png", noise.getvalue())
    assert list(tmp_path.iterdir()) == []
