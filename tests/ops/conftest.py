"""The operations tests reuse the API suite's app fixtures."""

from tests.api.conftest import api, media  # noqa: F401
