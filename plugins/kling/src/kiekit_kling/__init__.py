"""kiekit-kling: Kuaishou's Kling 3.0 models on KIE's market jobs API (kie-api.md §2.4)."""

from __future__ import annotations

from collections.abc import Callable

from kiekit.plugin import Provider, hookimpl

from kiekit_kling.provider import Element, KlingProvider, MotionControl, Shot, Video

__all__ = [
    "Element",
    "KlingProvider",
    "MotionControl",
    "Shot",
    "Video",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(KlingProvider())
