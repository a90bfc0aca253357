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
    MediaKind,
    ProtocolError,
    Provider,
    Rate,
    Request,
    State,
    TaskStatus,
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

    @staticmethod
    def status_of(
        task_id: str,
        word: Any,
        states: Mapping[Any, State],
        data: Any,
        *,
        error_code: str | None,
        error_message: str | None,
    ) -> TaskStatus:
        """The state a status word names; an undocumented word is a ProtocolError. A failure
        without an ``errorCode`` (KIE leaves it null for e.g. SENSITIVE_WORD_ERROR) keeps the
        status word as its fail code, so the reason is never lost."""
        state = states.get(word) if isinstance(word, (str, int)) else None
        if state is None or isinstance(word, bool):
            raise ProtocolError(f"unknown Suno status {word!r}", task_id=task_id, payload=data)
        code = error_code or (str(word) if state is State.FAILED else None)
        return TaskStatus.of(task_id, state, fail_code=code, fail_message=error_message, raw=data)
