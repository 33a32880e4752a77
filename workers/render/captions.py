"""Burned-in captions: each distinct caption image (a cue in one state: which word is lit)
is drawn ONCE with Pillow, converted once to YUVA, and composited in C by an FFmpeg
``overlay`` filter graph kept per image — no per-frame pixel work in Python.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

import av
import av.filter

from .caption_draw import CaptionImage, draw_state
from .caption_layout import Cue, layout_caption
from .spec import Caption, CaptionStyle

#: (cue index, state index): one distinct caption image.
ImageKey = tuple[int, int]
_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True)
class _Span:
    start_s: float
    end_s: float
    key: ImageKey


class _Overlay:
    """``main + caption → overlay → sink`` for one place and size, configured once and
    shared by every state of a cue: each frame goes in with the caption image to lay on it
    (a reference to the image converted once, never a copy)."""

    def __init__(self, image: CaptionImage, frame_w: int, frame_h: int) -> None:
        graph = av.filter.Graph()
        self.main = graph.add_buffer(
            width=frame_w, height=frame_h, format=av.VideoFormat("yuv420p"), time_base=_TIME_BASE
        )
        self.layer = graph.add_buffer(
            width=image.width,
            height=image.height,
            format=av.VideoFormat("yuva420p"),
            time_base=_TIME_BASE,
        )
        overlay = graph.add("overlay", f"x={image.x}:y={image.y}:format=yuv420")
        self.sink = graph.add("buffersink")
        self.main.link_to(overlay, 0, 0)
        self.layer.link_to(overlay, 0, 1)
        overlay.link_to(self.sink)
        graph.configure()
        self.graph = graph
        self._pts = 0

    def composite(self, frame: av.VideoFrame, layer: av.VideoFrame) -> av.VideoFrame:
        pts, time_base = frame.pts, frame.time_base
        layer.pts = frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self._pts += 1
        self.layer.push(layer)
        self.main.push(frame)
        out = self.sink.pull()
        assert isinstance(out, av.VideoFrame)
        out.pts, out.time_base = pts, time_base
        frame.pts, frame.time_base = pts, time_base
        return out


def _layer(image: CaptionImage) -> av.VideoFrame:
    """The image as a YUVA frame, converted once by libswscale."""
    layer = av.VideoFrame.from_ndarray(image.rgba, format="rgba").reformat(format="yuva420p")
    layer.time_base = _TIME_BASE
    return layer


class CaptionTrack:
    """The captions of one render: laid out up front (cheap), each image drawn and its
    overlay graph built the first time a frame shows it, then reused."""

    def __init__(
        self,
        captions: tuple[Caption, ...],
        frame_w: int,
        frame_h: int,
        style: CaptionStyle | None = None,
    ) -> None:
        self.style = style or CaptionStyle()
        self._size = (frame_w, frame_h)
        self.cues: list[Cue] = []
        spans: list[_Span] = []
        for caption in captions:
            for cue in layout_caption(caption, self.style, frame_w, frame_h):
                index = len(self.cues)
                self.cues.append(cue)
                spans.extend(
                    _Span(state.start_s, state.end_s, (index, n))
                    for n, state in enumerate(cue.states)
                )
        self._spans = sorted(spans, key=lambda s: (s.start_s, s.key))
        self._starts = [s.start_s for s in self._spans]
        self._longest = max((s.end_s - s.start_s for s in self._spans), default=0.0)
        self._overlays: dict[int, _Overlay] = {}
        self._layers: dict[ImageKey, av.VideoFrame] = {}
        self._unlit: dict[int, CaptionImage] = {}

    def active(self, t: float) -> tuple[ImageKey, ...]:
        """The caption images shown at source time ``t``, in drawing order."""
        last = bisect.bisect_right(self._starts, t)
        first = bisect.bisect_left(self._starts, t - self._longest)
        return tuple(s.key for s in self._spans[first:last] if s.start_s <= t < s.end_s)

    def image(self, key: ImageKey) -> CaptionImage:
        """The pixels of one caption image (the frames use the converted cache)."""
        cue_index, state_index = key
        cue = self.cues[cue_index]
        highlight = cue.states[state_index].highlight
        if highlight is None:
            return self._unlit_image(cue_index)
        return draw_state(
            cue, self.style, highlight, *self._size, unlit=self._unlit_image(cue_index)
        )

    def _unlit_image(self, cue_index: int) -> CaptionImage:
        if cue_index not in self._unlit:
            self._unlit[cue_index] = draw_state(self.cues[cue_index], self.style, None, *self._size)
        return self._unlit[cue_index]

    def apply(self, frame: av.VideoFrame, keys: tuple[ImageKey, ...]) -> av.VideoFrame:
        """``frame`` (yuv420p, the output size) with the images ``keys`` laid over it."""
        for key in keys:
            layer = self._layers.get(key)
            if layer is None:
                image = self.image(key)
                layer = self._layers[key] = _layer(image)
                if key[0] not in self._overlays:
                    self._overlays[key[0]] = _Overlay(image, *self._size)
            frame = self._overlays[key[0]].composite(frame, layer)
        return frame
