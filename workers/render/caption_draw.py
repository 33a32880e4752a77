"""One caption image: a cue in one state drawn with Pillow, placed inside the safe area.

Every state of a cue is drawn on a canvas of the same size at the same place (the largest
any of its states needs), so lines do not jump when the lit word changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .caption_fonts import FONT_FILES, font
from .caption_layout import Cue, Piece, padding, safe_box, space_width, stroke_px, text_width
from .spec import CaptionStyle

#: The translucent backing of the ``box`` preset (RGBA) and its corner radius per font pixel.
BOX_FILL = (0, 0, 0, 166)
BOX_RADIUS = 0.3
OUTLINE = (0, 0, 0, 255)
#: Where the caption block's bottom (``bottom``) or top (``top``) edge sits, as a fraction
#: of the frame height (clamped to the safe area).
BOTTOM_EDGE = 0.88
TOP_EDGE = 0.12

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class CaptionImage:
    """RGBA pixels (straight alpha) to lay over the frame at ``(x, y)`` (even), and each
    drawn word's box in frame pixels ``(x0, y0, x1, y1)``."""

    rgba: npt.NDArray[np.uint8]
    x: int
    y: int
    word_boxes: dict[int, Box]

    @property
    def width(self) -> int:
        return int(self.rgba.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgba.shape[0])


def _rgb(color: str) -> tuple[int, int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16), 255


def _piece_size(cue: Cue, piece: Piece, highlight: int | None) -> int:
    return round(cue.size * cue.grow) if piece.word == highlight and cue.grow != 1.0 else cue.size


def _line_geometry(cue: Cue, line: tuple[Piece, ...], highlight: int | None) -> list[float]:
    """Left edge of each piece from the line's start, then the line's width last."""
    space = space_width(cue.size)
    edges: list[float] = []
    x = 0.0
    for i, piece in enumerate(line):
        if i and not (piece.joins_previous and line[i - 1].word == piece.word):
            x += space
        edges.append(x)
        x += text_width(piece, _piece_size(cue, piece, highlight))
    edges.append(x)
    return edges


def _metrics(cue: Cue) -> tuple[int, int]:
    """Ascent and line height (with room for the outline and a grown word)."""
    top = round(cue.size * cue.grow)
    ascent, descent = font(FONT_FILES[0], top).getmetrics()
    return ascent, ascent + descent + 2 * stroke_px(top)


@lru_cache(maxsize=256)
def canvas_size(cue: Cue, style: CaptionStyle) -> tuple[int, int]:
    pad_x, pad_y = padding(style, cue.size)
    highlights = {state.highlight for state in cue.states}
    widest = max(_line_geometry(cue, line, lit)[-1] for line in cue.lines for lit in highlights)
    _, line_h = _metrics(cue)
    width = int(widest + 0.999) + 2 * pad_x
    height = line_h * len(cue.lines) + 2 * pad_y
    return width + width % 2, height + height % 2


def placement(
    cue: Cue, style: CaptionStyle, frame_w: int, frame_h: int
) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the cue's canvas: centred, at the style's position,
    clamped into the safe area (cropped to it, should it ever be larger)."""
    left, top, right, bottom = safe_box(frame_w, frame_h)
    width, height = canvas_size(cue, style)
    width, height = min(width, right - left), min(height, bottom - top)
    x = (frame_w - width) // 2
    if style.position == "top":
        y = round(frame_h * TOP_EDGE)
    elif style.position == "middle":
        y = (frame_h - height) // 2
    else:
        y = round(frame_h * BOTTOM_EDGE) - height
    y = min(max(y, top), bottom - height)
    return max(left, x - x % 2), max(top, y - y % 2), width, height


def draw_state(
    cue: Cue,
    style: CaptionStyle,
    highlight: int | None,
    frame_w: int,
    frame_h: int,
    unlit: CaptionImage | None = None,
) -> CaptionImage:
    """The cue with ``highlight`` lit (None: no word lit), as an image placed on the frame.

    ``unlit`` (the same cue drawn with no word lit) saves work where lighting a word moves
    nothing: only that word is drawn again, over a copy of it.
    """
    x, y, width, height = placement(cue, style, frame_w, frame_h)
    full_w, full_h = canvas_size(cue, style)
    only: int | None = None
    if unlit is not None and highlight is not None and cue.grow == 1.0:
        padded = np.zeros((full_h, full_w, 4), dtype=np.uint8)
        padded[:height, :width] = unlit.rgba
        image = Image.fromarray(padded, "RGBA")
        only = highlight
    else:
        image = Image.new("RGBA", (full_w, full_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    _, pad_y = padding(style, cue.size)
    boxed = style.preset == "box"
    if boxed and only is None:
        radius = round(cue.size * BOX_RADIUS)
        draw.rounded_rectangle((0, 0, full_w - 1, full_h - 1), radius=radius, fill=BOX_FILL)
    ascent, line_h = _metrics(cue)
    color, lit_color = _rgb(style.color), _rgb(style.highlight_color)
    boxes: dict[int, Box] = {}
    for row, line in enumerate(cue.lines):
        edges = _line_geometry(cue, line, highlight)
        start = (full_w - edges[-1]) / 2
        line_top = pad_y + row * line_h
        baseline = line_top + stroke_px(round(cue.size * cue.grow)) + ascent
        for piece, left in zip(line, edges, strict=False):
            size = _piece_size(cue, piece, highlight)
            lit = piece.word == highlight
            stroke = 0 if boxed else stroke_px(size)
            if only is None or piece.word == only:
                draw.text(
                    (start + left, baseline),
                    piece.text,
                    font=font(piece.face, size),
                    fill=lit_color if lit else color,
                    stroke_width=stroke,
                    stroke_fill=OUTLINE,
                    anchor="ls",
                )
            box = (
                x + round(start + left),
                y + line_top,
                x + round(start + left + text_width(piece, size)),
                y + line_top + line_h,
            )
            old = boxes.get(piece.word)
            boxes[piece.word] = box if old is None else _union(old, box)
    pixels = np.asarray(image, dtype=np.uint8)[:height, :width]
    return CaptionImage(np.ascontiguousarray(pixels), x, y, boxes)


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
