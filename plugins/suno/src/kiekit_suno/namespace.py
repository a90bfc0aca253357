"""The ``suno/`` model ids are kiekit-suno's: one it does not serve is refused, not sent.

KIE serves Suno on paths of its own (kie-api.md §3.6: ``/api/v1/generate/…``, ``/api/v1/lyrics``,
…), never as a market job: a ``suno/…`` id the market plugin's ``*`` pattern picked up would go
to ``/api/v1/jobs/createTask``, which KIE answers 422 "model not supported" (§2.4) — or, worse,
an offline test against a lenient mock passes. So kiekit-suno claims the whole namespace with
the pattern ``suno/*``, more specific than the market's ``*``; the exact ids of the other
providers still win (the registry's rule). Whatever reaches this provider is an id kiekit-suno
does not serve: refused with a ValidationError on ``model`` before any input is read or
anything is sent, naming the id, what KIE has for it if kiekit knows, and the operations
kiekit-suno serves. ``kie models suno/…`` says the same (it asks for the model's fields).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, NoReturn

from attrs import frozen
from kiekit.plugin import (
    Input,
    InputField,
    Model,
    Provider,
    Request,
    Results,
    TaskStatus,
    ValidationError,
)

from kiekit_suno.music import MUSIC_MODELS
from kiekit_suno.tools import COVER, LYRICS, MIDI, MP4, VOCAL_REMOVAL, WAV

__all__ = ["NAMESPACE", "SERVED", "UNSERVED", "SunoNamespaceProvider", "refusal"]

NAMESPACE = "suno/*"
# The task operations kiekit-suno serves, in the README's order
SERVED = (*MUSIC_MODELS, LYRICS, WAV, VOCAL_REMOVAL, MIDI, MP4, COVER)
_CALLS = (
    "kiekit_suno.boost_style_request, kiekit_suno.timestamped_lyrics_request and "
    "kiekit_suno.generate_persona_request"
)

_NOT_SOURCED = (
    "not implemented: kie-api.md §3.6 names only its path, KIE's page for it could not be "
    "read, and no source read shows where its status is read (plugins/suno/README.md)"
)
_TIMESTAMPED = (
    "it is a synchronous call, not a task (kie-api.md §3.6): "
    "kie.call(kiekit_suno.timestamped_lyrics_request(task_id, audio_id)), "
    "read with kiekit_suno.timestamped_lyrics"
)
_PERSONA = (
    "it is a synchronous call, not a task (kie-api.md §3.6): kie.call(kiekit_suno."
    "generate_persona_request(task_id, audio_id, name, description)), read with "
    "kiekit_suno.persona_of"
)
_BOOST = (
    "it is a synchronous call, not a task (kie-api.md §3.6): "
    "kie.call(kiekit_suno.boost_style_request(content)), read with kiekit_suno.boosted_style"
)
# Suno operations KIE has (kie-api.md §3.6) under the names a user is likely to try, and why
# kiekit does not run them as tasks
UNSERVED: Mapping[str, str] = {
    "suno/mashup": f"KIE has it at POST /api/v1/generate/mashup; {_NOT_SOURCED}",
    "suno/sounds": f"KIE has it at POST /api/v1/generate/sounds; {_NOT_SOURCED}",
    "suno/persona": _PERSONA,
    "suno/generate-persona": _PERSONA,
    "suno/voice": f"KIE's custom voice is at /api/v1/voice/…; {_NOT_SOURCED}",
    "suno/timestamped-lyrics": _TIMESTAMPED,
    "suno/get-timestamped-lyrics": _TIMESTAMPED,
    "suno/style": _BOOST,
    "suno/boost-style": _BOOST,
}


def refusal(model_id: str) -> ValidationError:
    """Why ``model_id`` (a ``suno/…`` id kiekit-suno does not serve) is refused, naming what
    kiekit-suno serves and the closest of those ids when it looks like a typo."""
    why = UNSERVED.get(model_id)
    close = difflib.get_close_matches(model_id, SERVED, n=2, cutoff=0.8)
    guess = ""
    if why is None and close:
        guess = "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    reason = f" ({why})" if why else ""
    return ValidationError(
        "model",
        f"{model_id!r} is not a Suno operation kiekit-suno serves{reason}{guess}; it is not "
        f"sent (KIE serves no suno/ id as a market job). kiekit-suno serves the tasks "
        f"{', '.join(SERVED)}, and the calls {_CALLS}",
    )


@frozen
class _Unserved(Input):
    """The input of an id this provider refuses: never built (``model`` refuses first)."""


class SunoNamespaceProvider(Provider):
    """Owns ``suno/*`` so that no other plugin's pattern sends a Suno id to the wrong path;
    every id it is asked about is refused (module docstring)."""

    name = "suno-namespace"
    models = (Model(NAMESPACE, _Unserved, None),)

    def model(self, model_id: str) -> Model:
        if model_id == NAMESPACE:  # the pattern itself, as a registry asks for it
            return self.models[0]
        raise refusal(model_id)

    def input_fields(self, model_id: str) -> tuple[InputField, ...]:
        self.model(model_id)
        return ()

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        raise refusal(model_id)

    def status_request(self, task_id: str) -> Request:
        self._never()

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        self._never()

    def extract_results(self, task_id: str, data: Any) -> Results:
        self._never()

    @staticmethod
    def _never() -> NoReturn:
        # no task is ever created through this provider, so none is ever read through it
        raise ValidationError("model", f"kiekit-suno serves no task at {NAMESPACE!r}")
