"""reelay's render engine: a pure library that cuts, reframes, captions and encodes clips.

Workers call ``probe`` → ``plan_render`` → ``render_audio`` + ``render_chunk`` (anywhere) →
``join_chunks``; ``render`` does all of it in one process.
"""

from __future__ import annotations

from .audio import render_audio
from .engine import render
from .errors import (
    InvalidRenderSpec,
    MomentOutOfRange,
    NotAVideo,
    RenderCancelled,
    RenderError,
    UnsupportedCodec,
)
from .join import join_chunks
from .plan import output_size, plan_render
from .probe import probe
from .progress import ProgressTracker
from .spec import (
    OUTPUT_SIZES,
    CancelCheck,
    Caption,
    ChunkPlan,
    OutputInfo,
    Progress,
    ProgressCallback,
    RenderPlan,
    RenderSpec,
    SourceInfo,
)
from .video import is_chunk_complete, render_chunk

__all__ = [
    "OUTPUT_SIZES",
    "CancelCheck",
    "Caption",
    "ChunkPlan",
    "InvalidRenderSpec",
    "MomentOutOfRange",
    "NotAVideo",
    "OutputInfo",
    "Progress",
    "ProgressCallback",
    "ProgressTracker",
    "RenderCancelled",
    "RenderError",
    "RenderPlan",
    "RenderSpec",
    "SourceInfo",
    "UnsupportedCodec",
    "is_chunk_complete",
    "join_chunks",
    "output_size",
    "plan_render",
    "probe",
    "render",
    "render_audio",
    "render_chunk",
]
