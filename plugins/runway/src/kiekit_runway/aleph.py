"""Runway Aleph (``runway/aleph``): restyle or transform a given video with a prompt.

``POST /api/v1/aleph/generate`` takes a camelCase body, ``prompt`` and ``videoUrl`` required
(kie-api.md §3.4). kie-api.md gives no shape for ``GET /api/v1/aleph/record-info``; KIE's page
for it (D:runway-api/get-aleph-video-details, its zh-CN quickstart and mirror copies) shows a
successFlag record, so Aleph is read as the successFlag family — not Runway's ``state`` record::

    {"taskId", "paramJson", "response": {"taskId", "resultVideoUrl", "resultImageUrl"},
     "completeTime": "2023-08-15T14:30:45Z", "createTime", "successFlag": 1,
     "errorCode": 0, "errorMessage": ""}

with one twist, straight from that page: "successFlag: 1 = success, 0 = failed or in
progress" — a failed task keeps successFlag 0 and carries an ``errorMessage``. A flag of 0 with
an error message or a non-zero ``errorCode`` is therefore FAILED, never "still running". Flags
2 and 3 (the failures of every other successFlag product, §3.1–3.3) are accepted as FAILED too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen
from kiekit.plugin import (
    Asset,
    Input,
    MediaKind,
    Model,
    Results,
    State,
    SuccessFlagProvider,
    SuccessFlagRecord,
    TaskStatus,
    asset,
    choice,
    flag,
    integer,
    text,
    url,
    wire,
)

from kiekit_runway.shared import check_expire_flag, cover, with_cover

__all__ = ["AlephGenerate", "AlephProvider", "AlephRecord"]

ALEPH = "runway/aleph"
# Runway's Aleph output sizes (16:9 1280x720 … 21:9 1584x672, per third-party Aleph pages);
# KIE's page names the field but lists no values.
ASPECT_RATIOS = ("16:9", "9:16", "4:3", "3:4", "1:1", "21:9")
SEED_MAX = 4_294_967_295  # Runway's own seed range, 0 to 2**32 - 1
NO_ERROR_CODES = ("", "0", "200")  # errorCode of a task that has not failed (0 in the example)


@frozen
class AlephGenerate(Input):
    """Input of ``runway/aleph``. None leaves KIE's default."""

    prompt: str = text()
    video_url: str = url(required=True)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)
    seed: int | None = integer(0, SEED_MAX, default=None)
    reference_image: str | None = url(default=None)
    water_mark: str | None = text(default=None, required=False)  # "" = no watermark
    upload_cn: bool | None = flag(default=None)


@attrs.frozen
class AlephRecord(SuccessFlagRecord):
    """record-info ``data``; ``expireFlag`` is not in Aleph's example, but read if KIE sends it
    as record-detail does (§3.4)."""

    expire_flag: int | None = None

    @property
    def reports_error(self) -> bool:
        message = (self.error_message or "").strip()
        return bool(message) or (self.error_code or "") not in NO_ERROR_CODES


class AlephProvider(SuccessFlagProvider):
    """``runway/aleph``, polled at Aleph's own record-info."""

    name = "runway-aleph"
    models = (Model(ALEPH, AlephGenerate, MediaKind.VIDEO),)
    create_path = "/api/v1/aleph/generate"
    status_path = "/api/v1/aleph/record-info"

    def record(self, task_id: str, data: Any) -> AlephRecord:
        return wire.structure(data, AlephRecord, task_id=task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        status = super().parse_status(task_id, data)
        if status.state is not State.RUNNING:
            return status
        record = self.record(task_id, data)
        if not record.reports_error:
            return status
        # successFlag 0 and an errorMessage: failed (D:runway-api/get-aleph-video-details)
        return TaskStatus.of(
            task_id,
            State.FAILED,
            fail_code=record.error_code,
            fail_message=record.error_message,
            raw=data,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        record = self.record(task_id, data)
        if record.success_flag == 1:
            check_expire_flag(record.expire_flag, task_id=task_id, payload=data)
        return super().extract_results(task_id, data)

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        video = asset(response.get("resultVideoUrl"), MediaKind.VIDEO, task_id=task_id)
        return (video, *cover(response.get("resultImageUrl"), task_id=task_id))

    def with_cover(self, results: Results) -> Results:
        """``results`` with the cover still (``response.resultImageUrl``), which
        ``extract_results`` includes now (see :meth:`RunwayProvider.with_cover`)."""
        response = self.record(results.task_id, results.raw).response or {}
        return with_cover(results, response.get("resultImageUrl"))
