"""What the test servers run: ``create_app`` with a static dir from the environment.

``REELAY_TEST_STATIC_DIR`` lets browser tests serve their own page beside the client.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette

from server.app import STATIC_DIR, create_app


def make_app() -> Starlette:
    return create_app(static_dir=Path(os.environ.get("REELAY_TEST_STATIC_DIR") or STATIC_DIR))
