"""The bundled caption fonts, and which one draws a given word.

DejaVu Sans Bold covers Latin, Greek, Cyrillic, Arabic and Hebrew; WenQuanYi Micro Hei
covers Chinese, Japanese and Korean (and Latin). Each word is drawn with the first font that
has a glyph for every character of it, so a caption may mix scripts. Text is laid out with
libraqm when Pillow has it (shaping for Arabic, bidi within a word).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fontTools.ttLib import TTFont
from PIL import ImageFont, features

#: Font files under ``fonts/``, in order of preference.
FONT_FILES = ("DejaVuSans-Bold.ttf", "WenQuanYiMicroHei.ttf")


def _path(name: str) -> str:
    with resources.as_file(resources.files(__package__) / "fonts" / name) as path:
        return str(path)


@lru_cache(maxsize=len(FONT_FILES))
def coverage(name: str) -> frozenset[int]:
    """The code points ``name`` has glyphs for."""
    font = TTFont(_path(name), lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


@lru_cache(maxsize=64)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """The font file ``name`` at ``size`` pixels, laid out by raqm when available."""
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(_path(name), size, layout_engine=layout)


def _drawn(char: str) -> bool:
    """Characters that need a glyph of their own (not joiners, marks of direction, spaces)."""
    return not char.isspace() and char not in "\u200c\u200d\u200e\u200f\ufeff"


@lru_cache(maxsize=4096)
def face_for(text: str) -> str:
    """The first bundled font with a glyph for every character of ``text``; else the one
    that has the most of them."""
    needed = {ord(char) for char in text if _drawn(char)}
    best, best_count = FONT_FILES[0], -1
    for name in FONT_FILES:
        have = len(needed & coverage(name))
        if have == len(needed):
            return name
        if have > best_count:
            best, best_count = name, have
    return best
