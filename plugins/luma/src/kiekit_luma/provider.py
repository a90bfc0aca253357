"""Luma Modify: restyle or transform an existing video (up to 10 s) from a text prompt.

Wire facts (kie-api.md §3.5, guide §3.5): ``POST /api/v1/modify/generate`` with a camelCase body
``{prompt, videoUrl, watermark?, callBackUrl?}`` — no model field; ``GET
/api/v1/modify/record-info`` reports ``successFlag`` 0–4 and, once the video exists,
``response.resultUrls``.

The one surprise: successFlag 4, CALLBACK_FAILED, means "generation succeeded but callback
failed" (§3.5, §6.1). The video was made and paid for; only KIE's POST to the caller's
``callBackUrl`` did not arrive. So 4 is a success here, with results, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from attrs import frozen
from kiekit.plugin import (
    Asset,
    Input,
    MediaKind,
    Model,
    State,
    SuccessFlagProvider,
    assets,
    text,
    url,
)

# KIE's Luma API names no model in its body; this id names the product, so that kiekit's
# registry, `kie run` and the README table can address it like every other model.
MODEL_ID = "luma/modify"

# §3.5 (and guide §3.5): 0 GENERATING, 1 SUCCESS, 2 CREATE_TASK_FAILED, 3 GENERATE_FAILED,
# 4 CALLBACK_FAILED — the video exists; only the callback delivery failed.
LUMA_FLAGS: Mapping[int, State] = {
    0: State.RUNNING,
    1: State.SUCCEEDED,
    2: State.FAILED,
    3: State.FAILED,
    4: State.SUCCEEDED,
}


@frozen
class LumaModify(Input):
    """Input of ``luma/modify``.

    ``video_url`` must be an http(s) URL KIE can fetch. KIE also limits the video to MP4, MOV
    or AVI, at most 500 MB and 10 s (§3.5); checking those needs the file itself, which a
    provider never touches, so KIE reports them (body code 422) when the task is created.
    KIE asks for English prompts (guide §3.5); kiekit does not guess at a prompt's language.
    """

    prompt: str = text()
    video_url: str = url(required=True)  # wire: videoUrl
    # a watermark identifier; None: no watermark
    watermark: str | None = text(default=None, required=False)


class LumaProvider(SuccessFlagProvider):
    name = "luma"
    models = (Model(MODEL_ID, LumaModify, MediaKind.VIDEO),)
    create_path = "/api/v1/modify/generate"
    status_path = "/api/v1/modify/record-info"
    flags: ClassVar[Mapping[int, State]] = LUMA_FLAGS

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        # `response.originUrls` (DOCCOPY get-luma-modify-details) is KIE's copy of the *input*
        # video, not a result: it is left out so a download fetches only the modified video.
        return assets(response.get("resultUrls"), MediaKind.VIDEO, task_id=task_id)
