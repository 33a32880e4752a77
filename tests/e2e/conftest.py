"""One ``reelay dev`` stack per database backend (``database_url`` is parametrized)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, start_stack, stop_stack
from tests.media import make_video


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra REELAY_* variables for this module's stack; modules override it."""
    return {}


@pytest.fixture(scope="module")
def stack(
    redis_url: str,
    database_url: str,
    stack_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        redis_url=redis_url,
        database_url=database_url,
        extra_env=stack_env,
    )
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="session")
def source_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s 320×240 clip with stereo audio: long enough for several 1 s chunks."""
    return make_video(tmp_path_factory.mktemp("media") / "source.mp4", duration_s=6.0)
