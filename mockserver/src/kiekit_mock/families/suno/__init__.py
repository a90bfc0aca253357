"""Suno music (kie-api.md §3.6): songs in :mod:`.music`, the other operations in :mod:`.tools`,
the synchronous style boost in :mod:`.style`, their files in :mod:`.files`. All Suno tasks are
the store's ``"suno"`` family; the final callback of any of them is :func:`callback_payload`."""

from __future__ import annotations

from typing import Any

from ...state import Transition
from . import files, music, style, tools
from .common import MUSIC

ROUTE_TABLES = (music.ROUTES, tools.ROUTES, style.ROUTES, files.ROUTES)


def callback_payload(transition: Transition) -> dict[str, Any]:
    if transition.task.model in MUSIC:
        return music.callback_payload(transition)
    return tools.callback_payload(transition)


__all__ = ["ROUTE_TABLES", "callback_payload"]
