"""What every Suno operation on KIE shares: a create path per model, a record-info path per
provider, a callback URL that KIE insists on, and how a status word becomes a state.

kie-api.md §3.6: Suno's paths are not under a ``suno`` prefix, every create call is a camelCase
POST that **requires** ``callBackUrl`` (a real 422 "Please enter callBackUrl." without it, even
for a caller who polls), and each kind of task is read at a record-info path of its own. A
status request carries only the task id, so kiekit needs one provider per record-info path;
each subclass names its models, their create paths and its status path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kiekit.plugin import (
    Asset,
    AssetRole,
    Input,
    KieError,
    MediaKind,
    ParentNotFinishedError,
    ParentTaskError,
    ProtocolError,
    Provider,
    Rate,
    Request,
    Results,
    State,
    TaskStatus,
    UnprocessableError,
    media_type_of,
    wire,
)

__all__ = ["NO_CALLBACK_URL", "SunoProvider", "file_asset"]

# KIE refuses a Suno create call without callBackUrl, even when the caller polls (kie-api.md
# §3.6, §9 item 10: the real answer is 422 "Please enter callBackUrl."). When the caller gives
# none, kiekit sends this address instead: `.invalid` is reserved by RFC 2606 and never
# resolves, so KIE's callback can reach no one and nothing leaks to a stranger's server. The
# caller polls record-info, as with every other family.
NO_CALLBACK_URL = "https://kiekit-no-callback.invalid/suno"

# What a file is when its URL has no extension (KIE's stream links have none, §3.6).
_DEFAULT_MEDIA_TYPES = {
    MediaKind.AUDIO: "audio/mpeg",
    MediaKind.IMAGE: "image/jpeg",
    MediaKind.VIDEO: "video/mp4",
}


def file_asset(
    url: Any, kind: MediaKind, *, task_id: str, label: str, role: AssetRole = AssetRole.MAIN
) -> Asset:
    """One result file of a known kind; ProtocolError if KIE gave no http(s) URL."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ProtocolError(f"result URL is not an http(s) URL: {url!r}", task_id=task_id)
    media_type = media_type_of(url) or _DEFAULT_MEDIA_TYPES.get(kind)
    return Asset(url=url, kind=kind, media_type=media_type, label=label, role=role)


# What each parent model's task is called in a refusal's words
_KINDS = {"suno/generate": "song", "suno/vocal-removal": "vocal separation"}


def track_ids(record: Any) -> tuple[str, ...]:
    """The track ids (``sunoData[].id``) of a song task's record-info ``data``; () for one
    of another shape."""
    response = record.get("response") if isinstance(record, Mapping) else None
    tracks = response.get("sunoData") if isinstance(response, Mapping) else None
    if not isinstance(tracks, list):
        return ()
    ids = (track.get("id") for track in tracks if isinstance(track, Mapping))
    return tuple(found for found in ids if isinstance(found, str) and found)


class SunoProvider(Provider):
    """Base of the Suno providers: one record-info path, one create path per model."""

    camel_case = True  # customMode, negativeTags, audioId, uploadUrl … (§3.6)
    create_paths: ClassVar[Mapping[str, str]]
    status_path: ClassVar[str]
    # record-info allows "max 3 queries/s per task" (kie-api.md §3.6, §8)
    status_rate_per_task = Rate(3, 1.0)

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        model = self.checked_model(model_id, params)
        body = wire.input_to_wire(params, camel_case=self.camel_case)
        body["callBackUrl"] = callback_url or NO_CALLBACK_URL  # required by KIE (see above)
        return Request("POST", self.create_paths[model.id], body=body)

    def status_request(self, task_id: str) -> Request:
        return Request("GET", self.status_path, query={"taskId": task_id})

    # -- a refused follow-up (WAV, stems, video, cover, MIDI, replace-section) ---------------

    # The model whose record-info reads the task each follow-up model names (its task_id)
    parents: ClassVar[Mapping[str, str]] = {}

    def parent_status_model(self, model_id: str, error: KieError) -> str | None:
        # only KIE's 422s leave the reason unsaid (refused_by_parent); a 402 or 429 says it
        return self.parents.get(model_id) if isinstance(error, UnprocessableError) else None

    def refused_by_parent(
        self, model_id: str, request: Request, error: KieError, parent: TaskStatus | None
    ) -> KieError:
        """KIE refuses a follow-up on a task it cannot build on with a 422 whose words do not
        say why: "Record does not exist" for an unknown task and for a wrong ``audioId``
        alike (§7), "record status is not success" for a song still running and for a failed
        one alike (the Veo pages' text, §3.3; the Suno pages document no other) [INF]. The
        parent's record, read after the refusal, tells them apart: not found, still running
        (ParentNotFinishedError: retry once it has succeeded; its first track's WAV is
        refused until the whole song is done), failed (ParentTaskError), or succeeded
        without the ``audio_id`` given (the refusal, naming ``audio_id``)."""
        source = request.parent_task_id
        if not isinstance(error, UnprocessableError) or source is None:
            return error
        kind = _KINDS.get(self.parents.get(model_id, ""), "task")
        said = f"KIE's answer: {error.code} {error.kie_message}"
        refused: KieError
        if parent is None:
            refused = ParentTaskError(
                f"{model_id}: KIE has no {kind} task {source} (mistyped, another account's, or "
                f"a task of another kind; {said})",
                parent_task_id=source,
                parent_state="not-found",
            )
            refused.field = "task_id"
        elif parent.state is State.FAILED:
            refused = ParentTaskError(
                f"{model_id}: {kind} task {source} failed ({parent.fail_status or parent.fail_code}"
                f"): nothing can be made of it ({said})",
                parent_task_id=source,
                parent_state="failed",
            )
        elif not parent.state.finished:
            stage = f", {parent.stage}" if parent.stage else ""
            refused = ParentNotFinishedError(
                f"{model_id}: {kind} task {source} is still running{stage}; KIE takes it only "
                f"once it has succeeded: wait for it, then ask again ({said})",
                parent_task_id=source,
                parent_state="running",
            )
        else:
            return self._not_its_track(error, request, parent)
        refused.code = error.code
        return refused

    @staticmethod
    def _not_its_track(error: KieError, request: Request, parent: TaskStatus) -> KieError:
        """A succeeded song that has no track ``audioId``: the refusal names ``audio_id``."""
        audio = (request.body or {}).get("audioId")
        tracks = track_ids(parent.raw)
        if isinstance(audio, str) and tracks and audio not in tracks:
            error.field = "audio_id"
            error.message += (
                f": audio_id {audio!r} is none of task {parent.task_id}'s tracks "
                f"({', '.join(tracks)})"
            )
        return error

    @staticmethod
    def status_of(
        task_id: str,
        word: Any,
        states: Mapping[Any, State],
        data: Any,
        *,
        error_code: str | None,
        error_message: str | None,
        stage: str | None = None,
        ready: Results | None = None,
    ) -> TaskStatus:
        """The state a status word names; an undocumented word is a ProtocolError. A failure
        without an ``errorCode`` (KIE leaves it null for e.g. SENSITIVE_WORD_ERROR) keeps the
        status word as its fail code, so the reason is never lost; a failure's word is its
        ``fail_status`` in any case: KIE's codes do not tell a sensitive-word refusal from a
        failed generation (400 is also "copyrighted lyrics", §3.6), the word does."""
        state = states.get(word) if isinstance(word, (str, int)) else None
        if state is None or isinstance(word, bool):
            raise ProtocolError(f"unknown Suno status {word!r}", task_id=task_id, payload=data)
        failed = state is State.FAILED
        code = error_code or (str(word) if failed else None)
        return TaskStatus.of(
            task_id,
            state,
            fail_code=code,
            fail_message=error_message,
            raw=data,
            stage=stage,
            fail_status=word if failed and isinstance(word, str) else None,
            ready=ready,
        )
