"""What Runway and Aleph results share: the expiry of their files, and the cover still."""

from __future__ import annotations

from typing import Any

import attrs
from kiekit.plugin import (
    Asset,
    AssetRole,
    MediaKind,
    ProtocolError,
    Results,
    ResultsExpiredError,
    asset,
)

__all__ = ["VideoExpiredError", "check_expire_flag", "cover", "with_cover"]

RETENTION_DAYS = 14  # Runway videos are kept 14 days, then expireFlag turns 1 (kie-api.md §3.4, §8)


class VideoExpiredError(ResultsExpiredError, ProtocolError):
    """The task succeeded, but KIE has deleted its video: ``expireFlag`` is 1.

    Raised by ``extract_results`` (and so by ``wait``) instead of handing out a dead link. The
    task cannot be fetched again: generate it anew. kiekit's :class:`ResultsExpiredError`, as
    every family's expiry is (the journal closes its row, ``kie resume`` owes it no more); a
    ProtocolError too, as before, so code that catches kiekit's "cannot use this answer"
    errors catches it still.
    """

    def __init__(self, task_id: str, *, payload: Any = None) -> None:
        ProtocolError.__init__(
            self,
            f"the video has expired (expireFlag 1): KIE keeps Runway results "
            f"{RETENTION_DAYS} days; generate it again",
            task_id=task_id,
            payload=payload,
        )


def check_expire_flag(flag: int | None, *, task_id: str, payload: Any) -> None:
    """0 (or absent) is fine, 1 means the files are gone; any other value is not documented."""
    if flag == 1:
        raise VideoExpiredError(task_id, payload=payload)
    if flag not in (None, 0):
        raise ProtocolError(f"undocumented expireFlag {flag!r}", task_id=task_id, payload=payload)


def cover(cover_url: Any, *, task_id: str) -> tuple[Asset, ...]:
    """The video's cover still at ``cover_url`` — an IMAGE labelled ``cover``, an extra beside
    the video — if KIE gave one; ProtocolError if what it gave is no http(s) URL."""
    if not cover_url:
        return ()
    return (
        asset(cover_url, MediaKind.IMAGE, task_id=task_id, label="cover", role=AssetRole.EXTRA),
    )


def with_cover(results: Results, cover_url: Any) -> Results:
    """``results`` plus the cover still at ``cover_url``, unless they hold it already (the
    providers' ``extract_results`` include the cover now: this is kept for code that called it)."""
    if any(item.url == cover_url for item in results.assets):
        return results
    return attrs.evolve(
        results, assets=(*results.assets, *cover(cover_url, task_id=results.task_id))
    )
