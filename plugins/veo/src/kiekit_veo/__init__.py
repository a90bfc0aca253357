"""kiekit-veo: Google's Veo 3.1 through KIE (kie-api.md §3.3).

Models ``veo3`` (quality), ``veo3_fast`` and ``veo3_lite`` make videos from text or images;
``veo3/extend`` continues one, ``veo3/4k`` makes its 4K version (a paid task of its own,
journaled like every create) and ``veo3/1080p`` fetches its 1080P version (no task of KIE's
own: journaled as ``<task>-1080p``). Both, asked for by hand, are extra calls described by
:class:`VeoProvider` and read with :mod:`kiekit_veo.upgrades`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_veo.provider import (
    EXTEND_MODEL,
    GENERATE_MODELS,
    HD_MODEL,
    UHD_MODEL,
    Veo,
    Veo4k,
    Veo1080p,
    VeoExtend,
    VeoProvider,
)
from kiekit_veo.upgrades import Upgrade

__all__ = [
    "EXTEND_MODEL",
    "GENERATE_MODELS",
    "HD_MODEL",
    "UHD_MODEL",
    "Upgrade",
    "Veo",
    "Veo4k",
    "Veo1080p",
    "VeoExtend",
    "VeoProvider",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(VeoProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-veo")
