"""The alignment actor: a moment's transcript timed to its audio, written onto its captions.

Thin: load the moment, read its sound, call ``workers.align``, store and announce. A
failure the user can act on ends in ``moment.align_failed`` with a code; anything else is
retried by Dramatiq and, on the last try, announced as ``align_failed``.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from server.domain import alignment
from server.domain.models import Moment, Project
from workers.actors import RetryPolicy, declare_actor
from workers.align import (
    SAMPLE_RATE,
    align_words,
    group_captions,
    load_speech,
    spread_over_captions,
)
from workers.align.aligner import NoSpeech
from workers.render.errors import RenderError
from workers.runtime import WorkerRuntime, current_runtime
from workers.sources import local_source
from workers.step_runner import retries_left

logger = logging.getLogger("reelay.worker")

MAX_RETRIES = 3


def _captions_for(
    moment: Moment, transcript: str, rt: WorkerRuntime
) -> tuple[list[dict[str, Any]], float, str]:
    project = rt.run(Project.get(id=moment.project_id))
    path = str(rt.run(local_source(rt, project)))
    pcm = load_speech(path, moment.start_s, moment.end_s)
    if len(pcm) == 0:
        raise NoAudio("the moment has no audio to align words to")
    own = list(moment.captions or [])
    text = transcript or " ".join(str(c["text"]) for c in own)
    result = align_words(pcm, SAMPLE_RATE, text)
    if transcript or not own:
        captions = group_captions(result.words, moment.start_s)
    else:
        captions = spread_over_captions(result.words, own, moment.start_s)
    return captions, result.mean_confidence, result.method


class NoAudio(ValueError):
    """The source has no sound where the moment is."""


def align_moment(moment_id: str, transcript: str) -> None:
    """Time ``transcript`` (empty: the moment's caption text) to the moment's audio."""
    rt = current_runtime()
    moment = rt.run(Moment.get_or_none(id=moment_id))
    if moment is None:
        return
    try:
        captions, confidence, method = _captions_for(moment, transcript, rt)
    except NoAudio as exc:
        _fail(rt, moment, alignment.NO_AUDIO_CODE, str(exc))
        return
    except NoSpeech as exc:
        _fail(rt, moment, alignment.NO_SPEECH_CODE, str(exc))
        return
    except (RenderError, OSError, RuntimeError):
        logger.exception("aligning moment %s failed", moment_id)
        if retries_left(rt):
            raise
        _fail(rt, moment, alignment.ALIGN_FAILED_CODE, "the moment's audio could not be read")
        return
    rt.run(
        alignment.announce_aligned(
            rt.events, rt.enqueuer, moment, captions, mean_confidence=confidence, method=method
        )
    )
    logger.info("moment %s aligned (%s, confidence %.2f)", moment_id, method, confidence)


def _fail(rt: WorkerRuntime, moment: Moment, code: str, message: str) -> None:
    rt.run(alignment.announce_failed(rt.events, rt.enqueuer, moment, code, message))


def declare_actors(broker: dramatiq.Broker) -> None:
    declare_actor(broker, alignment.ALIGN_ACTOR, align_moment, RetryPolicy(600_000, MAX_RETRIES))
