"""The whole pipeline in one process: probe, plan, audio once, chunks, join — resumable."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace

from .analysis import FocusAnalysis, analyse_focus
from .audio import render_audio
from .camera import CameraSettings
from .cancel import CancelPoller
from .join import join_chunks
from .plan import plan_render, single_chunk
from .probe import probe
from .progress import ProgressTracker
from .spec import CancelCheck, OutputInfo, ProgressCallback, RenderPlan, RenderSpec
from .video import is_chunk_complete, render_chunk


def work_prefix(src_path: str, spec: RenderSpec, plan: RenderPlan) -> str:
    """A name prefix unique to this source, spec and plan, so a work dir is only reused for
    the very same render."""
    stat = os.stat(src_path)
    key = f"{os.path.abspath(src_path)}|{stat.st_size}|{stat.st_mtime_ns}|{spec!r}|{plan!r}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def audio_prefix(src_path: str, spec: RenderSpec) -> str:
    """A name prefix unique to this source and range: the moment's audio depends on nothing
    else, so a resumed render reuses it whatever the camera does."""
    stat = os.stat(src_path)
    key = (
        f"{os.path.abspath(src_path)}|{stat.st_size}|{stat.st_mtime_ns}|{spec.start_s}|{spec.end_s}"
    )
    return "audio-" + hashlib.sha256(key.encode()).hexdigest()[:16]


class _AudioBeside:
    """The moment's audio encoded on a thread of its own while the ``with`` body runs (an
    M4A already at ``out_path`` is kept). ``result`` after the block: the path, or None
    for a source without sound. A failing body stops the encode; a failing encode is
    raised when the block ends."""

    def __init__(
        self,
        src_path: str,
        spec: RenderSpec,
        plan: RenderPlan,
        out_path: str,
        should_cancel: CancelCheck | None,
    ) -> None:
        self._args = (src_path, spec, plan, out_path)
        self._should_cancel = should_cancel
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="reelay-audio", daemon=True)
        self.result: str | None = None

    def _cancelled(self) -> bool:
        return self._stop.is_set() or bool(self._should_cancel and self._should_cancel())

    def _run(self) -> None:
        out_path = self._args[3]
        if os.path.exists(out_path):
            self.result = out_path
            return
        try:
            self.result = render_audio(*self._args, should_cancel=self._cancelled)
        except BaseException as exc:  # raised in the caller's thread when the block ends
            self._error = exc

    def __enter__(self) -> _AudioBeside:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self._stop.set()
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error


def render(
    src_path: str,
    spec: RenderSpec,
    out_path: str,
    *,
    work_dir: str | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    chunked: bool = True,
    camera: CameraSettings | None = None,
    on_analysis: Callable[[FocusAnalysis], None] | None = None,
) -> OutputInfo:
    """Render ``spec`` of ``src_path`` to ``out_path``.

    Chunk files go to ``work_dir`` and are kept there, so a later call with the same arguments
    resumes after the last finished chunk; without ``work_dir`` a temporary one is used and
    removed. An auto-focus spec is analysed first, while the audio is encoded beside it
    (``on_analysis`` hears what was found).
    Raises RenderError subclasses (RenderCancelled on cancel).
    """
    source = probe(src_path)
    plan = plan_render(source, spec)
    own_dir = work_dir is None
    directory = tempfile.mkdtemp(prefix="reelay-render-") if own_dir else str(work_dir)
    try:
        os.makedirs(directory, exist_ok=True)
        # The audio never depends on the camera: with auto reframe it is encoded while the
        # faces are analysed, on the core the analysis leaves free.
        audio_path: str | None = os.path.join(directory, f"{audio_prefix(src_path, spec)}.m4a")
        with _AudioBeside(src_path, spec, plan, str(audio_path), should_cancel) as audio:
            if spec.needs_analysis:
                analysis = analyse_focus(
                    src_path, spec, source, camera=camera, should_cancel=should_cancel
                )
                spec = replace(spec, focus_track=analysis.track)
                if on_analysis is not None:
                    on_analysis(analysis)
        audio_path = audio.result
        if not chunked:
            plan = single_chunk(plan, spec)
        prefix = os.path.join(directory, work_prefix(src_path, spec, plan))
        chunk_paths = [f"{prefix}-chunk{c.index:04d}.mp4" for c in plan.chunks]
        tracker = ProgressTracker(plan.total_frames, len(plan.chunks), plan.fps)

        def report(frames: int, chunks: int) -> None:
            progress = tracker.update(frames, chunks)
            if on_progress is not None:
                on_progress(progress)

        poller = CancelPoller(should_cancel)
        todo = [
            (chunk, path)
            for chunk, path in zip(plan.chunks, chunk_paths, strict=True)
            if not is_chunk_complete(path, chunk)
        ]
        done_chunks = len(plan.chunks) - len(todo)
        done_frames = plan.total_frames - sum(chunk.frame_count for chunk, _ in todo)
        report(done_frames, done_chunks)
        for chunk, path in todo:
            poller.check()

            def on_frames(frames: int, base: int = done_frames, chunks: int = done_chunks) -> None:
                report(base + frames, chunks)

            render_chunk(
                src_path,
                spec,
                plan,
                chunk,
                path,
                on_frames=on_frames,
                should_cancel=should_cancel,
            )
            done_frames += chunk.frame_count
            done_chunks += 1
            report(done_frames, done_chunks)
        poller.check()
        return join_chunks(plan, chunk_paths, audio_path, out_path)
    finally:
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
