"""The live preview's HLS media playlist, built on request from the export's row.

An EVENT playlist (RFC 8216 §4.3.3.5) only ever grows: it lists the unbroken run of
finished chunks from the first, one MPEG-TS segment each, and ends with
``#EXT-X-ENDLIST`` once the export is completed. Segment timestamps continue across
segments (they are the chunks' places on the clip's timeline), so no discontinuity is
needed and the player never stalls at a join.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from server.domain.models import Export, ExportStatus
from workers.render.spec import ChunkPlan, RenderPlan

MEDIA_TYPE = "application/vnd.apple.mpegurl"
#: EXT-X-VERSION: 6 is the lowest that allows everything we write (and what the issue asks).
HLS_VERSION = 6


def export_plan(export: Export) -> RenderPlan | None:
    """The current attempt's stored render plan, or None before it is planned."""
    stored: Any = export.plan
    if not isinstance(stored, dict) or stored.get("attempt") != export.attempt:
        return None
    try:
        return RenderPlan.from_json(stored["plan"])
    except (KeyError, TypeError, ValueError):
        return None


def playable_chunks(export: Export, plan: RenderPlan) -> int:
    """How many segments the playlist lists now: every chunk once completed; the announced
    prefix while the export is active; none once it was cancelled or failed."""
    status = ExportStatus(export.status)
    if export.preview_chunks <= 0:
        return 0
    if status is ExportStatus.COMPLETED:
        return len(plan.chunks)
    if status.is_active:
        return min(export.preview_chunks, len(plan.chunks))
    return 0


def chunk_duration_s(plan: RenderPlan, chunk: ChunkPlan) -> float:
    return float(chunk.frame_count / Fraction(plan.fps_num, plan.fps_den))


def media_playlist(
    plan: RenderPlan, segments: int, *, ended: bool, uri: Callable[[int], str]
) -> str:
    """The playlist text listing the first ``segments`` chunks; ``uri(i)`` names segment i."""
    target = math.ceil(max(chunk_duration_s(plan, c) for c in plan.chunks) - 1e-9)
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for chunk in plan.chunks[:segments]:
        lines.append(f"#EXTINF:{chunk_duration_s(plan, chunk):.6f},")
        lines.append(uri(chunk.index))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
