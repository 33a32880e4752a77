"""Malformed uploads are refused with the right 4xx and leave nothing behind; uploaded
names never reach the filesystem; content is judged by probing, not by name."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from server.domain.models import Project
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, upload
from tests.media import make_truncated, make_video


def make_huge_header(path: Path, side: int = 16000) -> Path:
    """An MP4 whose header and only frame claim ``side``×``side``, without encoding one.

    A 16×16 Motion-JPEG frame is written, then the sample entry's and the JPEG's SOF0
    width/height fields (fixed 16-bit slots) are rewritten.
    """
    container = av.open(str(path), "w")
    stream = container.add_stream("mjpeg", rate=5)
    stream.width = stream.height = 16
    stream.pix_fmt = "yuvj420p"
    frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode())
    container.close()
    data = bytearray(path.read_bytes())
    big = side.to_bytes(2, "big")
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = big + big
    entry = data.index(b"mp4v")  # VisualSampleEntry: type, 6+2 reserved/dref, 16 predefined
    data[entry + 28 : entry + 32] = big + big
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, media: Media) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    html = root / "page.mp4"
    html.write_text("<html><script>alert(1)</script></html>")
    return {
        "random bytes": media.garbage,
        "zero bytes": media.empty,
        "truncated mp4": make_truncated(root / "truncated.mp4", media.video, keep=0.3),
        "audio only": media.audio_only,
        "html named .mp4": html,
        "1x1 frame": make_video(root / "one.mp4", width=1, height=1, duration_s=0.5),
        "16000x16000 header": make_huge_header(root / "huge.mp4"),
    }


EXPECTED = {
    "random bytes": (415, "not_a_video"),
    "zero bytes": (415, "not_a_video"),
    "truncated mp4": (415, "not_a_video"),
    "audio only": (415, "not_a_video"),
    "html named .mp4": (415, "not_a_video"),
    "1x1 frame": (422, "source_too_small"),
    "16000x16000 header": (422, "source_too_large"),
}


def leftovers(api: Api) -> list[Path]:
    """Every file under the data dir except the SQLite database itself."""
    root = api.settings.data_dir
    return [p for p in root.rglob("*") if p.is_file() and "sqlite" not in p.name]


def escaped() -> bool:
    return Path("/tmp/reelay-evil.mp4").exists()


@pytest.mark.parametrize("name", list(EXPECTED))
async def test_malformed_upload_is_refused_and_leaves_nothing(
    api: Api, corpus: dict[str, Path], name: str
) -> None:
    status, code = EXPECTED[name]
    message = assert_error(await upload(api.alice, corpus[name]), status, code)
    assert str(api.settings.data_dir) not in message and "/tmp" not in message
    assert leftovers(api) == []
    assert await Project.all().count() == 0


async def test_probe_not_extension_decides(api: Api, media: Media, tmp_path: Path) -> None:
    renamed = tmp_path / "notes.txt"
    renamed.write_bytes(media.video.read_bytes())
    response = await upload(api.alice, renamed)
    assert response.status_code == 201, response.text


async def test_bodies_that_are_not_uploads(api: Api) -> None:
    response = await api.alice.post("/api/projects", json={"file": "x"})
    assert_error(response, 415, "unsupported_media_type")
    response = await api.alice.post("/api/projects", data={"name": "no file"}, files={})
    assert response.status_code in (415, 422), response.text
    response = await api.alice.post(
        "/api/projects",
        content=b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code in (400, 415), response.text
    assert leftovers(api) == []


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../../tmp/reelay-evil.mp4",
        "/etc/passwd",
        "..\\..\\windows\\evil.mp4",
        "clip.mp4\0.sh",
        ".htaccess",
        "x" * 1000 + ".mp4",
        "ünïcödé 動画.mp4",
        "clip.../..",
    ],
)
async def test_uploaded_names_never_reach_the_filesystem(
    api: Api, media: Media, filename: str
) -> None:
    with media.video.open("rb") as handle:
        response = await api.alice.post(
            "/api/projects", files={"file": (filename, handle, "video/mp4")}
        )
    assert response.status_code == 201, response.text
    created = await Project.get(id=response.json()["id"])
    assert created.source_key.startswith(f"projects/{created.id}/source")
    stored = [p.relative_to(api.settings.data_dir / "media") for p in leftovers(api)]
    assert [str(p) for p in stored] == [created.source_key]
    assert not escaped()
    assert len(response.json()["name"]) <= 255
