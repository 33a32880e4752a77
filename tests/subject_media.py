"""Videos with a face whose place the test knows, built from scikit-image's astronaut photo
pasted on a textured 1920×1080 canvas, and a way to find where a 9:16 output was cropped.

The face box inside the 512×512 photo is ``FACE_BOX`` (measured once, generous); a script
says where the photo's left edge is at every time, so each frame's face box is known.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

WIDTH, HEIGHT = 1920, 1080
PHOTO_SIDE = 512
#: The astronaut's face in the photo's own pixels: x0, y0, x1, y1.
FACE_BOX = (170, 60, 285, 185)
PHOTO_TOP = 300

#: Photo left edge (pixels) at time t.
Script = Callable[[float], float]


@functools.cache
def _background() -> npt.NDArray[np.uint8]:
    """A smooth random texture (so a crop can be found back by matching), no face in it."""
    rng = np.random.default_rng(16)
    coarse = rng.integers(40, 200, size=(27, 48, 3)).astype(np.float32)
    rows = np.linspace(0, 26, HEIGHT)
    cols = np.linspace(0, 47, WIDTH)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, 26), np.minimum(c0 + 1, 47)
    fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    top = coarse[r0][:, c0] * (1 - fc) + coarse[r0][:, c1] * fc
    bottom = coarse[r1][:, c0] * (1 - fc) + coarse[r1][:, c1] * fc
    return (top * (1 - fr) + bottom * fr).astype(np.uint8)


@functools.cache
def _photo() -> npt.NDArray[np.uint8]:
    from skimage import data

    return np.asarray(data.astronaut(), dtype=np.uint8)


def face_box(script: Script, t: float) -> tuple[float, float, float, float]:
    """The face's box (source pixels) in the frame shown at ``t``."""
    left = round(script(t))
    x0, y0, x1, y1 = FACE_BOX
    return left + x0, PHOTO_TOP + y0, left + x1, PHOTO_TOP + y1


@dataclass(frozen=True)
class SubjectVideo:
    path: Path
    duration_s: float
    fps: int
    script: Script | None


def _compose(
    script: Script | None,
    t: float,
    background: npt.NDArray[np.uint8],
    photo: npt.NDArray[np.uint8],
) -> npt.NDArray[np.uint8]:
    picture = background.copy()
    if script is not None:
        left = round(script(t))
        picture[PHOTO_TOP : PHOTO_TOP + PHOTO_SIDE, left : left + PHOTO_SIDE] = photo
    return picture


def make_subject_video(
    path: Path, script: Script | None, *, duration_s: float, fps: int = 25
) -> SubjectVideo:
    """Write the video (H.264, no audio, keyframe every 2 s); ``script`` None: no face."""
    background, photo = _background(), _photo()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "26", "g": str(2 * fps)}
        stream.codec_context.time_base = Fraction(1, fps)
        for index in range(round(duration_s * fps)):
            picture = _compose(script, index / fps, background, photo)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return SubjectVideo(path, duration_s, fps, script)


def piecewise(moves: Sequence[tuple[float, float]]) -> Script:
    """A script through ``(t, left)`` keyframes, linear between them; two keyframes at the
    same time make a jump."""

    def left(t: float) -> float:
        if t <= moves[0][0]:
            return moves[0][1]
        for (t0, x0), (t1, x1) in itertools.pairwise(moves):
            if t0 <= t < t1:
                return x0 + (x1 - x0) * (t - t0) / (t1 - t0)
        return moves[-1][1]

    return left


def find_crop_x(output_rgb: npt.NDArray[np.uint8], video: SubjectVideo, t: float) -> float:
    """Where (source pixels, left edge) a full-height crop of ``video``'s picture at ``t``
    was taken that looks like ``output_rgb``: both in grey, shrunk 4× across and to 27 bands
    of rows, then the best match along x (±4 px)."""
    src = _resize_rows(_small_picture(video.script, t), BANDS, WIDTH // SCALE)
    crop_w = round(output_rgb.shape[1] * HEIGHT / output_rgb.shape[0] / SCALE)
    out = _resize_rows(output_rgb.astype(np.float32).mean(axis=2), BANDS, crop_w)
    windows = sliding_window_view(src, out.shape)[0]
    errors = np.abs(windows - out[None]).mean(axis=(1, 2))
    return float(np.argmin(errors) * SCALE)


SCALE, BANDS = 4, 27


@functools.cache
def _small_grey(which: str) -> npt.NDArray[np.float32]:
    picture = _background() if which == "background" else _photo()
    return _shrink(picture.astype(np.float32).mean(axis=2), SCALE)


def _small_picture(script: Script | None, t: float) -> npt.NDArray[np.float32]:
    """The grey picture at ``t``, 4× smaller, composed small (within a pixel of shrinking)."""
    picture = _small_grey("background").copy()
    if script is not None:
        left, top, side = round(script(t)) // SCALE, PHOTO_TOP // SCALE, PHOTO_SIDE // SCALE
        picture[top : top + side, left : left + side] = _small_grey("photo")
    return picture


def _shrink(picture: npt.NDArray[np.float32], scale: int) -> npt.NDArray[np.float32]:
    h, w = picture.shape[0] // scale * scale, picture.shape[1] // scale * scale
    return picture[:h, :w].reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))


def _resize_rows(
    picture: npt.NDArray[np.float32], height: int, width: int
) -> npt.NDArray[np.float32]:
    """Area-average resize (sizes shrink): a plain box filter is enough for matching."""
    ys = (np.arange(height + 1) * picture.shape[0] / height).astype(int)
    xs = (np.arange(width + 1) * picture.shape[1] / width).astype(int)
    summed = np.add.reduceat(np.add.reduceat(picture, ys[:-1], axis=0), xs[:-1], axis=1)
    counts = np.outer(np.diff(ys), np.diff(xs))
    return summed / counts
