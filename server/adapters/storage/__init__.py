"""Where files live: a small ``Storage`` protocol with a local-directory and an S3 backend.

Keys are ours (``projects/prj_x/source``) and validated: relative, ``/``-separated, no empty,
``.``/``..`` or hidden segments. Missing keys raise ``FileNotFoundError`` (``size``,
``get_file``); ``delete`` of a missing key is fine.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from server.adapters.storage.base import InvalidKey, Storage, UploadTooLarge, validate_key
from server.adapters.storage.local import LocalStorage
from server.adapters.storage.s3 import S3Storage
from server.settings import Settings

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageConfigError",
    "UploadTooLarge",
    "storage_from_settings",
    "validate_key",
]


class StorageConfigError(ValueError):
    """``REELAY_STORAGE_URL`` names a scheme we have no backend for."""


def storage_from_settings(settings: Settings) -> Storage:
    """``""`` → ``data_dir/media``; ``/abs/dir`` → that dir; ``s3://bucket/prefix`` → S3."""
    url = settings.resolved_storage_url
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        return S3Storage.from_url(
            url, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    if scheme == "":
        return LocalStorage(Path(url))
    raise StorageConfigError(f"REELAY_STORAGE_URL: unsupported scheme {scheme!r} in {url!r}")
