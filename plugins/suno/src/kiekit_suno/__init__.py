"""kiekit-suno: Suno music through KIE (kie-api.md §3.6).

Songs (``suno/generate``, ``suno/extend``, ``suno/upload-cover``, ``suno/upload-extend``,
``suno/add-instrumental``, ``suno/add-vocals``, ``suno/replace-section``) and the operations on
them (``suno/lyrics``, ``suno/wav``, ``suno/vocal-removal``, ``suno/midi``, ``suno/mp4``,
``suno/cover``). One provider per record-info path, because a status request carries only the
task id. The synchronous style boost, timestamped lyrics and persona are requests to send with
``Client.call``: :func:`boost_style_request`, :func:`timestamped_lyrics_request`,
:func:`generate_persona_request`.

Every other ``suno/…`` id is refused before anything is sent (:mod:`kiekit_suno.namespace`):
KIE serves no Suno operation as a market job, so the market plugin must not pick one up.

KIE requires a ``callBackUrl`` on every Suno create call, even when you poll; without one of
yours kiekit sends :data:`NO_CALLBACK_URL`, an address that can never be reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import Provider, hookimpl, version_attribute

from kiekit_suno.base import NO_CALLBACK_URL, SunoProvider
from kiekit_suno.music import (
    MUSIC_MODELS,
    VERSIONS,
    SunoAddInstrumental,
    SunoAddVocals,
    SunoExtend,
    SunoGenerate,
    SunoMusicProvider,
    SunoReplaceSection,
    SunoUploadCover,
    SunoUploadExtend,
)
from kiekit_suno.namespace import SunoNamespaceProvider
from kiekit_suno.persona import Persona, generate_persona_request, persona_of
from kiekit_suno.style import boost_style_request, boosted_style
from kiekit_suno.timestamped import (
    AlignedWord,
    TimestampedLyrics,
    timestamped_lyrics,
    timestamped_lyrics_request,
)
from kiekit_suno.tools import (
    SunoCover,
    SunoCoverProvider,
    SunoLyrics,
    SunoLyricsProvider,
    SunoMidi,
    SunoMidiProvider,
    SunoMp4,
    SunoMp4Provider,
    SunoVocalRemoval,
    SunoVocalRemovalProvider,
    SunoWav,
    SunoWavProvider,
)

__all__ = [
    "MUSIC_MODELS",
    "NO_CALLBACK_URL",
    "VERSIONS",
    "AlignedWord",
    "Persona",
    "SunoAddInstrumental",
    "SunoAddVocals",
    "SunoCover",
    "SunoCoverProvider",
    "SunoExtend",
    "SunoGenerate",
    "SunoLyrics",
    "SunoLyricsProvider",
    "SunoMidi",
    "SunoMidiProvider",
    "SunoMp4",
    "SunoMp4Provider",
    "SunoMusicProvider",
    "SunoNamespaceProvider",
    "SunoProvider",
    "SunoReplaceSection",
    "SunoUploadCover",
    "SunoUploadExtend",
    "SunoVocalRemoval",
    "SunoVocalRemovalProvider",
    "SunoWav",
    "SunoWavProvider",
    "TimestampedLyrics",
    "boost_style_request",
    "boosted_style",
    "generate_persona_request",
    "kiekit_register_providers",
    "persona_of",
    "timestamped_lyrics",
    "timestamped_lyrics_request",
]


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    for provider in (
        SunoMusicProvider(),
        SunoLyricsProvider(),
        SunoWavProvider(),
        SunoVocalRemovalProvider(),
        SunoMidiProvider(),
        SunoMp4Provider(),
        SunoCoverProvider(),
        SunoNamespaceProvider(),  # every other suno/ id: refused (kiekit_suno.namespace)
    ):
        register(provider)


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-suno")
