"""Burned-in captions: each text drawn ONCE with Pillow, then blended into the YUV planes of
only the frames that show it, over only the caption's bounding box."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from .spec import Caption

FONT_FILE = "DejaVuSans-Bold.ttf"
_F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CaptionLayer:
    """A caption pre-converted to limited-range BT.601 YUV with premultiplied alpha."""

    x: int
    y: int
    y_pre: _F32
    y_keep: _F32
    uv_pre: tuple[_F32, _F32]
    uv_keep: _F32

    def blend(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A new yuv420p frame with this caption drawn over ``frame``."""
        planes = np.asarray(frame.to_ndarray(format="yuv420p"), dtype=np.uint8)
        height, width = frame.height, frame.width
        luma = planes[:height]
        chroma = planes[height:].reshape(2, height // 2, width // 2)
        h, w = self.y_keep.shape
        region = luma[self.y : self.y + h, self.x : self.x + w]
        region[...] = region * self.y_keep + self.y_pre + 0.5
        cy, cx, (ch, cw) = self.y // 2, self.x // 2, self.uv_keep.shape
        for plane, pre in zip(chroma, self.uv_pre, strict=True):
            part = plane[cy : cy + ch, cx : cx + cw]
            part[...] = part * self.uv_keep + pre + 0.5
        out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        out.pts = frame.pts
        out.time_base = frame.time_base
        return out


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    with resources.as_file(resources.files(__package__) / "fonts" / FONT_FILE) as path:
        return ImageFont.truetype(str(path), size)


def wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap by measured width; words wider than a line are split by character
    (which also covers scripts written without spaces)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if font.getlength(candidate) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            for char in word:
                if current and font.getlength(current + char) > max_width:
                    lines.append(current)
                    current = ""
                current += char
        if current:
            lines.append(current)
    return lines


def render_caption(text: str, frame_w: int, frame_h: int) -> CaptionLayer:
    """Draw white outlined text centred in the lower third, wrapped to 88 % of the width."""
    size = max(12, round(min(frame_w, frame_h) * 0.06))
    font = _font(size)
    stroke = max(2, size // 10)
    lines = wrap(text, font, frame_w * 0.88)
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + stroke * 2
    box_w = min(frame_w, int(max(font.getlength(line) for line in lines)) + 4 * stroke)
    box_w += box_w % 2
    box_h = line_h * len(lines) + 2 * stroke
    box_h += box_h % 2
    image = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text(
            (box_w / 2, stroke + i * line_h + line_h / 2),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
            anchor="mm",
        )
    image = image.crop((0, 0, min(box_w, frame_w), min(box_h, frame_h - frame_h % 2)))
    box_w, box_h = image.size
    bottom = round(frame_h * 0.9)
    y = max(0, min(bottom - box_h, frame_h - box_h))
    x = (frame_w - box_w) // 2
    return _to_layer(np.asarray(image, dtype=np.float32), x - x % 2, y - y % 2)


def _to_layer(rgba: _F32, x: int, y: int) -> CaptionLayer:
    r, g, b, a = (rgba[..., i] for i in range(4))
    alpha = a / 255.0
    luma = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    alpha_c = _half(alpha)
    return CaptionLayer(
        x=x,
        y=y,
        y_pre=(luma * alpha).astype(np.float32),
        y_keep=(1.0 - alpha).astype(np.float32),
        uv_pre=((_half(u * alpha)), _half(v * alpha)),
        uv_keep=(1.0 - alpha_c).astype(np.float32),
    )


def _half(plane: _F32) -> _F32:
    h, w = plane.shape
    quads = plane[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2)
    return np.asarray(quads.mean(axis=(1, 3)), dtype=np.float32)


class CaptionTrack:
    """The captions of one render, laid out lazily and reused for every frame that shows them."""

    def __init__(self, captions: tuple[Caption, ...], frame_w: int, frame_h: int) -> None:
        self._captions = captions
        self._size = (frame_w, frame_h)
        self._layers: dict[int, CaptionLayer] = {}

    def active(self, t: float) -> tuple[int, ...]:
        """Indices of the captions shown at source time ``t``."""
        return tuple(i for i, c in enumerate(self._captions) if c.start_s <= t < c.end_s)

    def apply(self, frame: av.VideoFrame, indices: tuple[int, ...]) -> av.VideoFrame:
        for i in indices:
            if i not in self._layers:
                self._layers[i] = render_caption(self._captions[i].text, *self._size)
            frame = self._layers[i].blend(frame)
        return frame
