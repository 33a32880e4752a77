"""reelay's render engine: a pure library that cuts, reframes, captions and encodes clips.

Workers call ``probe`` → ``plan_render`` → ``render_audio`` + ``render_chunk`` (anywhere) →
``join_chunks``; ``render`` does all of it in one process. ``make_segment`` and
``make_poster`` turn a finished chunk into live-preview media.
"""

from __future__ import annotations

from ._av import media_error
from .audio import render_audio
from .engine import render
from .errors import (
    InvalidRenderSpec,
    MomentOutOfRange,
    MomentTooShort,
    NotAVideo,
    OutputTooLarge,
    RenderCancelled,
    RenderError,
    UnsupportedCodec,
)
from .join import join_chunks
from .plan import check_output_size, moment_frames, output_size, output_size_for, plan_render
from .preview import PREVIEW_OFFSET_S, make_poster, make_segment, segment_duration_s
from .probe import probe
from .progress import ProgressTracker
from .spec import (
    OUTPUT_SIZES,
    CancelCheck,
    Caption,
    CaptionStyle,
    ChunkPlan,
    OutputBounds,
    OutputInfo,
    Progress,
    ProgressCallback,
    RenderPlan,
    RenderSpec,
    SourceInfo,
    Word,
)
from .video import is_chunk_complete, render_chunk

__all__ = [
    "OUTPUT_SIZES",
    "PREVIEW_OFFSET_S",
    "CancelCheck",
    "Caption",
    "CaptionStyle",
    "ChunkPlan",
    "InvalidRenderSpec",
    "MomentOutOfRange",
    "MomentTooShort",
    "NotAVideo",
    "OutputBounds",
    "OutputInfo",
    "OutputTooLarge",
    "Progress",
    "ProgressCallback",
    "ProgressTracker",
    "RenderCancelled",
    "RenderError",
    "RenderPlan",
    "RenderSpec",
    "SourceInfo",
    "UnsupportedCodec",
    "Word",
    "check_output_size",
    "is_chunk_complete",
    "join_chunks",
    "make_poster",
    "make_segment",
    "media_error",
    "moment_frames",
    "output_size",
    "output_size_for",
    "plan_render",
    "probe",
    "render",
    "render_audio",
    "render_chunk",
    "segment_duration_s",
]
