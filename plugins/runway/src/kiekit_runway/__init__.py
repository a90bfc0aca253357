"""kiekit-runway: Runway through KIE — generate, extend, and Aleph (kie-api.md §3.4).

Two providers, because KIE polls them at different paths and a status request carries only the
task id: :class:`RunwayProvider` (``runway/generate``, ``runway/extend``: record-detail) and
:class:`AlephProvider` (``runway/aleph``: Aleph's record-info).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_runway.aleph import AlephGenerate, AlephProvider, AlephRecord
from kiekit_runway.provider import (
    RunwayExtend,
    RunwayGenerate,
    RunwayProvider,
    RunwayRecord,
    VideoInfo,
)
from kiekit_runway.shared import VideoExpiredError

__all__ = [
    "AlephGenerate",
    "AlephProvider",
    "AlephRecord",
    "RunwayExtend",
    "RunwayGenerate",
    "RunwayProvider",
    "RunwayRecord",
    "VideoExpiredError",
    "VideoInfo",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(RunwayProvider())
    register(AlephProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-runway")
