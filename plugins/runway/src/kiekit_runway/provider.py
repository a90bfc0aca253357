"""Runway: a video from text or an image (``runway/generate``), or a finished one extended
(``runway/extend``).

Runway is a family of its own on KIE, neither the market jobs API nor a successFlag product
(kie-api.md §3.4):

- ``POST /api/v1/runway/generate`` and ``POST /api/v1/runway/extend`` take camelCase bodies and
  answer ``{"taskId": …}``;
- ``GET /api/v1/runway/record-detail?taskId=`` reports ``state`` in Runway's own words —
  ``wait | queueing | generating | success | fail`` — not the market's ``waiting | queuing``
  (§9.3); the video is ``videoInfo.videoUrl``, its cover still ``videoInfo.imageUrl`` (an extra);
  ``expireFlag`` turns 1 once KIE has deleted the files (after 14 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen
from kiekit.plugin import (
    Input,
    MediaKind,
    Model,
    ProtocolError,
    Provider,
    Request,
    Results,
    State,
    TaskStatus,
    ValidationError,
    asset,
    choice,
    text,
    url,
    wire,
)

from kiekit_runway.shared import check_expire_flag, cover, with_cover

__all__ = ["RunwayExtend", "RunwayGenerate", "RunwayProvider", "RunwayRecord", "VideoInfo"]

GENERATE = "runway/generate"
EXTEND = "runway/extend"
CREATE_PATHS = {GENERATE: "/api/v1/runway/generate", EXTEND: "/api/v1/runway/extend"}
STATUS_PATH = "/api/v1/runway/record-detail"

# §3.4 [SRC≠]: the current page offers 5 or 10 seconds, another version 5 or 8; all are accepted.
DURATIONS = (5, 8, 10)
SHORT_DURATION = 5  # 1080p only for the short video ("if 1080p is selected, 10-second video
# cannot be generated", D:runway-api/generate-ai-video; guide §3.4: "1080p only for 5 s")
QUALITIES = ("720p", "1080p")
# 16:9 and 9:16 on every page; 1:1, 4:3, 3:4 in the guide's list and, with 21:9, in the older
# zh-CN page (there for the gen4-turbo models). Accepted all; KIE has the last word.
ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")

# §3.4, guide §1.2: Runway's vocabulary. The market's "waiting"/"queuing" (§2.2) are NOT Runway
# words (§9.3) and no source shows record-detail using them: they are protocol errors here.
STATES: Mapping[str, State] = {
    "wait": State.QUEUED,
    "queueing": State.QUEUED,
    "generating": State.RUNNING,
    "success": State.SUCCEEDED,
    "fail": State.FAILED,
}
MARKET_SPELLINGS = ("waiting", "queuing")


@frozen
class RunwayGenerate(Input):
    """Input of ``runway/generate``. ``duration`` and ``quality`` default as the guide's own
    client does (5 s, 720p); ``aspect_ratio`` is required when no ``image_url`` is given."""

    prompt: str = text()
    image_url: str | None = url(default=None)
    # [INF] §3.4 gives no JSON type: KIE reads "5" as 5 (as market inputs, §2.2); sent as 5
    duration: int | None = choice(*DURATIONS, default=SHORT_DURATION, numerals=True)
    quality: str | None = choice(*QUALITIES, default="720p")
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    water_mark: str | None = text(default=None, required=False)  # "" = no watermark

    def check(self) -> None:
        if (
            self.quality == "1080p"
            and self.duration is not None
            and self.duration != SHORT_DURATION
        ):
            raise ValidationError(
                "quality",
                f"1080p is only available for {SHORT_DURATION}-second videos; "
                f"got duration {self.duration} (use 720p, or duration {SHORT_DURATION})",
            )
        if self.image_url is None and self.aspect_ratio is None:
            # "For text-only generation, aspect ratio must be explicitly specified" (§3.4)
            raise ValidationError(
                "aspect_ratio", "is required for text-only generation (no image_url given)"
            )


@frozen
class RunwayExtend(Input):
    """Input of ``runway/extend``: continue the video of an earlier, succeeded Runway task."""

    task_id: str = text()
    prompt: str = text()
    quality: str | None = choice(*QUALITIES, default="720p")
    water_mark: str | None = text(default=None, required=False)


@attrs.frozen
class VideoInfo(wire.WireRecord):
    video_id: wire.Code | None = None
    task_id: wire.Code | None = None
    video_url: str | None = None
    image_url: str | None = None  # the cover still


@attrs.frozen
class RunwayRecord(wire.WireRecord):
    """record-detail ``data``. One doc version names the ids ``id``/``parentId`` (numbers)
    instead of ``taskId``/``parentTaskId``, and gives ``failCode`` as int 400 instead of a
    string (§3.4 [SRC≠]): every id and code is read as either."""

    state: str
    task_id: wire.Code | None = None
    parent_task_id: wire.Code | None = None  # set on an extension: the video it continues
    id: wire.Code | None = None
    parent_id: wire.Code | None = None
    generate_param: Mapping[str, Any] | None = None
    generate_time: str | None = None
    video_info: VideoInfo | None = None
    fail_code: wire.Code | None = None
    fail_msg: str | None = None
    expire_flag: int | None = None


class RunwayProvider(Provider):
    """``runway/generate`` and ``runway/extend``; both are polled at record-detail."""

    name = "runway"
    models = (
        Model(GENERATE, RunwayGenerate, MediaKind.VIDEO),
        Model(EXTEND, RunwayExtend, MediaKind.VIDEO),
    )
    camel_case = True  # imageUrl, aspectRatio, waterMark, taskId (§3.4)

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        model = self.checked_model(model_id, params)
        body = wire.input_to_wire(params, camel_case=self.camel_case)
        if callback_url:
            body["callBackUrl"] = callback_url
        return Request("POST", CREATE_PATHS[model.id], body=body)

    def status_request(self, task_id: str) -> Request:
        return Request("GET", STATUS_PATH, query={"taskId": task_id})

    def record(self, task_id: str, data: Any) -> RunwayRecord:
        return wire.structure(data, RunwayRecord, task_id=task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        record = self.record(task_id, data)
        state = STATES.get(record.state)
        if state is None:
            hint = (
                " (the market jobs API's spelling; Runway says wait/queueing, kie-api.md §9.3)"
                if record.state in MARKET_SPELLINGS
                else ""
            )
            raise ProtocolError(
                f"unknown Runway state {record.state!r}{hint}", task_id=task_id, payload=data
            )
        return TaskStatus.of(
            task_id,
            state,
            fail_code=record.fail_code,
            fail_message=record.fail_msg,
            raw=data,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        record = self.record(task_id, data)
        if record.state != "success":
            raise ProtocolError(f"task has no results in state {record.state!r}", task_id=task_id)
        check_expire_flag(record.expire_flag, task_id=task_id, payload=data)
        if record.video_info is None:
            raise ProtocolError("succeeded task has no videoInfo", task_id=task_id, payload=data)
        info = record.video_info
        video = asset(info.video_url, MediaKind.VIDEO, task_id=task_id)
        return Results(
            task_id=task_id, assets=(video, *cover(info.image_url, task_id=task_id)), raw=data
        )

    def with_cover(self, results: Results) -> Results:
        """``results`` with the video's cover still (``videoInfo.imageUrl``). ``extract_results``
        includes it now (``AssetRole.EXTRA``, label ``cover``): kept for code that called it."""
        record = self.record(results.task_id, results.raw)
        cover = record.video_info.image_url if record.video_info else None
        return with_cover(results, cover)
