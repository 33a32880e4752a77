"""Reframing in C: crop around the focus point, rotate upright, scale to the exact output size.

The crop is chosen in *display* space (SAR and rotation applied) and mapped back to coded
pixels, so cropping happens before any rotation or scaling and touches the fewest pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import av.filter
import av.filter.context
import av.video.stream

from .spec import SourceInfo

#: The scaler used for every resize; lanczos keeps downscaled detail without ringing worth noting.
SCALE_FLAGS = "lanczos"


@dataclass(frozen=True)
class CropRect:
    """A rectangle in coded (stored) pixels."""

    x: int
    y: int
    width: int
    height: int


def crop_rect(
    source: SourceInfo, out_w: int, out_h: int, focus_x: float, focus_y: float | None = None
) -> CropRect:
    """The largest region with the output's display aspect, centred on ``focus_x`` (and
    ``focus_y`` when the crop is shorter than the frame; None: centred) and clamped to the
    frame; returned in coded pixels."""
    disp_w, disp_h = float(source.width), float(source.height)
    target = out_w / out_h
    if disp_w / disp_h > target:
        w, h = disp_h * target, disp_h
        x = min(max(focus_x * disp_w - w / 2, 0.0), disp_w - w)
        y = 0.0
    else:
        w, h = disp_w, disp_w / target
        centre = 0.5 if focus_y is None else focus_y
        x, y = 0.0, min(max(centre * disp_h - h / 2, 0.0), disp_h - h)
    cx, cy, cw, ch = _to_coded(source, x, y, w, h)
    sar = source.sample_aspect_ratio or 1.0
    return _snap(source, cx / sar, cy, cw / sar, ch)


def _to_coded(
    source: SourceInfo, x: float, y: float, w: float, h: float
) -> tuple[float, float, float, float]:
    """Map a display rectangle back through the clockwise display rotation (SAR-scaled space)."""
    sar = source.sample_aspect_ratio or 1.0
    coded_w = source.coded_width * sar
    coded_h = float(source.coded_height)
    if source.rotation == 90:
        return y, coded_h - x - w, h, w
    if source.rotation == 270:
        return coded_w - y - h, x, h, w
    if source.rotation == 180:
        return coded_w - x - w, coded_h - y - h, w, h
    return x, y, w, h


def _snap(source: SourceInfo, x: float, y: float, w: float, h: float) -> CropRect:
    """Round to whole pixels inside the frame; x/y even so chroma planes stay aligned."""
    cw = min(max(2, round(w)), source.coded_width)
    ch = min(max(2, round(h)), source.coded_height)
    cx = min(max(0, 2 * round(x / 2)), source.coded_width - cw)
    cy = min(max(0, 2 * round(y / 2)), source.coded_height - ch)
    return CropRect(cx, cy, cw, ch)


def _rotation_filters(rotation: int) -> list[tuple[str, str | None]]:
    if rotation == 90:
        return [("transpose", "clock")]
    if rotation == 270:
        return [("transpose", "cclock")]
    if rotation == 180:
        return [("hflip", None), ("vflip", None)]
    return []


class Reframer:
    """The filter graph of one chunk and where its crop sits; ``move`` shifts the crop
    between frames (the crop filter's own command), so a moving camera costs no rebuild."""

    def __init__(
        self,
        stream: av.video.stream.VideoStream,
        source: SourceInfo,
        out_w: int,
        out_h: int,
        focus: tuple[float, float | None],
    ) -> None:
        self.source, self.out_w, self.out_h = source, out_w, out_h
        self.rect = crop_rect(source, out_w, out_h, *focus)
        self.graph, self._crop = _build(stream, source, out_w, out_h, self.rect)

    def move(self, focus: tuple[float, float | None]) -> CropRect:
        """Put the crop's centre at ``focus`` for the next frames pushed; returns the rect."""
        rect = crop_rect(self.source, self.out_w, self.out_h, *focus)
        if rect != self.rect and self._crop is not None:
            if rect.x != self.rect.x:
                self._crop.process_command("x", str(rect.x))
            if rect.y != self.rect.y:
                self._crop.process_command("y", str(rect.y))
            self.rect = rect
        return self.rect


def _build(
    stream: av.video.stream.VideoStream,
    source: SourceInfo,
    out_w: int,
    out_h: int,
    rect: CropRect,
) -> tuple[av.filter.Graph, av.filter.context.FilterContext | None]:
    """buffer → crop → scale (yuv420p) → rotate → setsar=1 → buffersink, configured; and the
    crop node (None when the crop is the whole frame).

    Scaling happens before rotation, so for a 90° source the scaler targets the swapped size.
    """
    rotation_steps = _rotation_filters(source.rotation)
    scale_w, scale_h = (out_h, out_w) if source.rotation in (90, 270) else (out_w, out_h)
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    full = rect.width == source.coded_width and rect.height == source.coded_height
    crop = None
    if not full:
        crop = graph.add("crop", f"{rect.width}:{rect.height}:{rect.x}:{rect.y}:exact=1")
        nodes.append(crop)
    nodes.append(graph.add("scale", f"{scale_w}:{scale_h}:flags={SCALE_FLAGS}"))
    nodes.append(graph.add("format", "yuv420p"))
    for name, args in rotation_steps:
        nodes.append(graph.add(name, args))
    nodes.append(graph.add("setsar", "1"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes)
    graph.configure()
    return graph, crop
