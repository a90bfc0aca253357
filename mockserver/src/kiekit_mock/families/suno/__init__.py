"""Suno music (kie-api.md §3.6): songs in :mod:`.music`, the other operations in :mod:`.tools`,
the synchronous style boost in :mod:`.style`, timestamped lyrics in :mod:`.timestamped` and
personas in :mod:`.persona`, their files in :mod:`.files`. All Suno tasks are
the store's ``"suno"`` family; the final callback of any of them is :func:`callback_payload`."""

from __future__ import annotations

from typing import Any

from ...runtime import Runtime
from ...state import TaskSnapshot, Transition
from . import files, music, persona, style, timestamped, tools
from .common import MUSIC

ROUTE_TABLES = (
    music.ROUTES,
    tools.ROUTES,
    style.ROUTES,
    timestamped.ROUTES,
    persona.ROUTES,
    files.ROUTES,
)


def callback_payload(transition: Transition) -> dict[str, Any]:
    if transition.task.model in MUSIC:
        return music.callback_payload(transition)
    return tools.callback_payload(transition)


def owe_stages(rt: Runtime, task: TaskSnapshot) -> None:
    """A song's staged callbacks before its final one (music.owe_stages); other operations
    have none."""
    if task.model in MUSIC:
        music.owe_stages(rt, task)


__all__ = ["ROUTE_TABLES", "callback_payload", "owe_stages"]
