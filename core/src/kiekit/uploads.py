"""What an upload gives back: a file on KIE's upload host, ready to be a model's input URL."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from kiekit.settings import DEFAULT_UPLOAD_BASE_URL

__all__ = ["DEFAULT_UPLOAD_BASE_URL", "UPLOAD_RETENTION_DAYS", "UploadedFile"]

# Each upload page says 3 days; the upload quickstart says 24 h (kie-api.md §1, §8, §9 item 11).
UPLOAD_RETENTION_DAYS = 3


@frozen
class UploadedFile:
    """A file KIE keeps for a few days (3 per the upload pages, 24 h per the quickstart):
    pass ``download_url`` as an image/video/audio input of a task.

    ``file_path`` is where it lives on the host (``kieai/<user id>/<upload path>/<file name>``);
    ``size`` is in bytes. Fields KIE leaves out are None.
    """

    file_name: str
    file_path: str
    download_url: str
    size: int | None = None
    mime_type: str | None = None
    uploaded_at: datetime | None = None
