"""The face detector auto reframe relies on: the astronaut's face found wherever it is on a
1920×1080 frame, and nothing found in test patterns."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.media import _picture
from tests.subject_media import FACE_BOX, PHOTO_SIDE, _background, _photo
from workers.render.faces import FaceDetector

SMALL = (384, 216)


def _small(picture: np.ndarray) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    return np.asarray(frame.to_ndarray(width=SMALL[0], height=SMALL[1], format="rgb24"))


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_the_face_is_found_wherever_it_is(detector: FaceDetector) -> None:
    background, photo = _background(), _photo()
    hits = trials = 0
    for left in range(0, 1920 - PHOTO_SIDE, 57):
        for top in (0, 284, 568):
            picture = background.copy()
            picture[top : top + PHOTO_SIDE, left : left + PHOTO_SIDE] = photo
            faces = detector.detect(_small(picture))
            x0, y0, x1, y1 = FACE_BOX
            trials += 1
            hits += len(faces) == 1 and (
                (left + x0) / 1920 <= faces[0].cx <= (left + x1) / 1920
                and (top + y0) / 1080 <= faces[0].cy <= (top + y1) / 1080
            )
            if faces:
                near = detector.detect_near(_small(picture), faces[0])
                assert near and abs(near[0].cx - faces[0].cx) < 0.01
    assert hits / trials >= 0.95, f"{hits}/{trials}"


@pytest.mark.parametrize("pattern", ["texture", "gradient", "bars", "noise"])
def test_patterns_have_no_face(detector: FaceDetector, pattern: str) -> None:
    rng = np.random.default_rng(3)
    pictures = {
        "texture": lambda: _background(),
        "gradient": lambda: _picture(7, 1920, 1080),
        "bars": lambda: np.repeat(
            np.array(
                [
                    [
                        [192, 192, 192],
                        [192, 192, 0],
                        [0, 192, 192],
                        [0, 192, 0],
                        [192, 0, 192],
                        [192, 0, 0],
                        [0, 0, 192],
                    ]
                ],
                dtype=np.uint8,
            ).repeat(275, axis=1)[:, :1920],
            1080,
            axis=0,
        ),
        "noise": lambda: rng.integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8),
    }
    assert detector.detect(_small(pictures[pattern]())) == []
