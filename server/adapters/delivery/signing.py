"""Endpoint secrets and Standard Webhooks signatures (the ``standardwebhooks`` library).

The signature covers ``{webhook-id}.{webhook-timestamp}.{body}``; receivers verify it with
the same library (``Webhook(secret).verify(body, headers)``) and deduplicate on the id.
"""

from __future__ import annotations

import base64
import math
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the contract asks for 24 or more


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(secret: str, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``at`` (UTC)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }
