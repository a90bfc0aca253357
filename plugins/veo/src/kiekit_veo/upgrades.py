"""The 1080P and 4K versions of a finished Veo video: pure request builders and answer readers.

KIE renders them on demand, after the video itself succeeded (kie-api.md §3.3):

- ``GET /api/v1/veo/get-1080p-video?taskId=&index=`` answers ``data: {resultUrl}`` once the
  1080P file exists (~1–3 min). Until then it answers a non-200 body code — "400 1080P is
  processing. It should be ready in 1-2 minutes." — which means *ask again in 20–30 s*, not
  failure (D:veo3-api/get-veo-3-1080-p-video; the 400 text is the generate page's).
- ``POST /api/v1/veo/get-4k-video {taskId, index, callBackUrl}`` costs extra credits (about two
  Fast videos) and takes ~5–10 min. The first call answers ``data: {taskId, resultUrls: null,
  imageUrls: null}``; that ``taskId`` "can be used with Get Video Details" — record-info reports
  the 4K task like any other. Asking again answers body code **422** either way: "4k is
  processing…" (wait 30 s or more) or "The video has been generated successfully" with
  ``data.resultUrls`` (DOCCOPY get-veo-3-4k-video).

The readers take what the client gives: the ``data`` that ``client.call`` returned, the
:class:`~kiekit.ApiError` it raised, or KIE's whole envelope ``{code, msg, data}`` (for callers
that read the HTTP answer themselves). An answer that means "not ready yet" comes back as
``Upgrade(ready=False)``; a failure is raised.

Telling the two 4K answers apart: with the envelope, by ``data.resultUrls``; with an ApiError,
only by its message — the one place kiekit reads KIE's text, because KIE gives both the same
code and ``client.call`` keeps the message but not the ``data`` of a non-200 answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen
from kiekit.plugin import (
    ApiError,
    Asset,
    AssetRole,
    MediaKind,
    ProtocolError,
    Request,
    Results,
    ValidationError,
    api_error,
    asset,
    read_envelope,
)

from kiekit_veo._urls import url_list

__all__ = [
    "HD_PATH",
    "HD_PROCESSING_CODE",
    "UHD_PATH",
    "Upgrade",
    "read_4k",
    "read_1080p",
    "request_4k",
    "request_1080p",
    "uhd_assets",
    "uhd_stem",
]

HD_PATH = "/api/v1/veo/get-1080p-video"
UHD_PATH = "/api/v1/veo/get-4k-video"
HD_PROCESSING_CODE = 400  # "1080P is processing. It should be ready in 1-2 minutes." (§3.3, §7)
UHD_ANSWER_CODE = 422  # both "4k is processing…" and "…generated successfully" (§3.3)
_UHD_PROCESSING = "processing"
_UHD_DONE = "generated successfully"


@frozen
class Upgrade:
    """Where a request for the 1080P or 4K version of task ``source`` stands.

    ``ready`` False means KIE is still rendering: ask again later (1080P: every 20–30 s; 4K:
    every 30 s or more). It is never a failure — failures are raised by the readers.

    ``results`` holds the files when the answer carried them, named after ``source`` as the
    ``veo3/1080p`` and ``veo3/4k`` tasks' own files are: ``<source>-1080p-0.mp4``,
    ``<source>-4k-0.mp4`` and ``<source>-4k-preview-1.jpg`` (label ``preview``): pass them to
    ``client.download``. A 4K's results belong to the 4K task (their ``task_id``), when the
    answer names it. A 4K answer read from an ApiError without KIE's data is ready without
    files: read the 4K task, ``task_id``, through record-info instead.

    ``task_id`` is the 4K task KIE created (from the first 4K answer, or an envelope); None
    for 1080P, which KIE reports by the source task alone.
    """

    source: str
    ready: bool
    results: Results | None = None
    task_id: str | None = None
    message: str | None = None
    raw: Any = field(default=None, eq=False, repr=False)


def request_1080p(task_id: str, *, index: int = 0) -> Request:
    """The call for the 1080P version of video ``index`` of a succeeded task (GET, query)."""
    _check_task(task_id)
    _check_index(index)
    return Request("GET", HD_PATH, query={"taskId": task_id, "index": str(index)})


def request_4k(task_id: str, *, index: int = 0, callback_url: str | None = None) -> Request:
    """The call for the 4K version of video ``index`` of a succeeded task (POST, JSON body).

    ``callback_url`` gets KIE's 4K callback, ``{code, msg, data: {taskId, info: {resultUrls,
    imageUrls}}}`` (§3.3, §6.2).
    """
    _check_task(task_id)
    _check_index(index)
    body: dict[str, Any] = {"taskId": task_id, "index": index}
    if callback_url is not None:
        if not isinstance(callback_url, str) or not callback_url.startswith(
            ("http://", "https://")
        ):
            raise ValidationError("callback_url", f"must be an http(s) URL; got {callback_url!r}")
        body["callBackUrl"] = callback_url
    return Request("POST", UHD_PATH, body=body)


def read_1080p(task_id: str, answer: Any) -> Upgrade:
    """Classify an answer of get-1080p-video for task ``task_id``.

    Ready: ``data.resultUrl``. Not ready: body code 400 ("1080P is processing"), or an error a
    retry can cure (429, 455, 5xx). Anything else — 401, 402, 404, 422 "record is null" or
    "record status is not success" — is raised.
    """
    code, message, data, error = _split(answer, task_id)
    if code != 200:
        if code == HD_PROCESSING_CODE or _retryable(code, message):
            return Upgrade(task_id, False, message=message, raw=answer)
        raise _failure(code, message, error, task_id)
    link = data.get("resultUrl") if isinstance(data, Mapping) else None
    if not link:
        raise ProtocolError("get-1080p-video answered no resultUrl", task_id=task_id, payload=data)
    # one name however the file is asked for (read_1080p, or the veo3/1080p task
    # <source>-1080p): <source>-1080p-0.mp4, the video it is the 1080P of shown first
    hd = task_id + "-1080p"
    item = asset(link, MediaKind.VIDEO, task_id=hd, label=None)
    results = Results(task_id=hd, assets=(item,), raw=data)
    return Upgrade(task_id, True, results=results, message=message, raw=answer)


def read_4k(task_id: str, answer: Any) -> Upgrade:
    """Classify an answer of get-4k-video for task ``task_id``.

    Ready: ``resultUrls`` in the data (code 200 or 422), or a 422 ApiError saying the video
    "has been generated successfully". Not ready: data with ``resultUrls`` null (the first
    answer), a 422 saying "4k is processing", or an error a retry can cure (429, 455, 5xx).
    Anything else is raised.
    """
    code, message, data, error = _split(answer, task_id)
    if code not in (200, UHD_ANSWER_CODE):
        if _retryable(code, message):
            return Upgrade(task_id, False, message=message, raw=answer)
        raise _failure(code, message, error, task_id)
    upgrade_id: str | None = None
    videos: list[Any] = []
    if data is not None or code == 200:  # a 200 always carries data; a 422 may (§3.3)
        if not isinstance(data, Mapping):
            raise ProtocolError("get-4k-video answered no object", task_id=task_id, payload=data)
        upgrade_id = data.get("taskId")
        if upgrade_id is not None and not (isinstance(upgrade_id, str) and upgrade_id):
            raise ProtocolError("get-4k-video answered a bad taskId", task_id=task_id, payload=data)
        videos = url_list(data.get("resultUrls"), task_id)
    if videos:
        found = uhd_assets(videos, url_list(data.get("imageUrls"), task_id), task_id)
        # the 4K task's own files, named as its record-info results name them (uhd_stem)
        results = Results(
            task_id=upgrade_id or task_id, assets=found, raw=data, file_stem=uhd_stem(task_id)
        )
        return Upgrade(
            task_id, True, results=results, task_id=upgrade_id, message=message, raw=answer
        )
    said = (message or "").lower()
    if code == 200 or _UHD_PROCESSING in said:  # the first answer, or "4k is processing…"
        return Upgrade(task_id, False, task_id=upgrade_id, message=message, raw=answer)
    if _UHD_DONE in said:  # done, yet the answer carried no URLs: read the 4K task instead
        return Upgrade(task_id, True, task_id=upgrade_id, message=message, raw=answer)
    raise _failure(code, message, error, task_id)  # a 422 that is no 4K answer


def uhd_stem(source: str) -> str:
    """What the files of the 4K version of video ``source`` are named after, however they are
    asked for (``submit("veo3/4k")``'s task or :func:`read_4k`): ``<source>-4k``, so the 4K
    video is ``<source>-4k-0.mp4`` and its preview ``<source>-4k-preview-1.jpg`` — the video
    they are the 4K of shown first, as a 1080P is ``<source>-1080p-0.mp4``."""
    return source + "-4k"


def uhd_assets(videos: list[Any], previews: list[Any], task_id: str) -> tuple[Asset, ...]:
    """A 4K task's files: its video (no label) and its preview images (label ``preview``)."""
    found = [asset(u, MediaKind.VIDEO, task_id=task_id) for u in videos]
    found += [
        asset(u, MediaKind.IMAGE, task_id=task_id, label="preview", role=AssetRole.EXTRA)
        for u in previews
    ]
    return tuple(found)


# -- helpers ----------------------------------------------------------------------------------


def _check_task(task_id: Any) -> None:
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValidationError("task_id", f"must be a task id; got {task_id!r}")


def _check_index(index: Any) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValidationError("index", f"must be a video index (0, 1, …); got {index!r}")


def _split(answer: Any, task_id: str) -> tuple[int, str | None, Any, ApiError | None]:
    """(body code, message, data, the ApiError if that is what was given)."""
    if isinstance(answer, ApiError):
        return answer.code, answer.kie_message, answer.data, answer
    if isinstance(answer, Mapping) and "code" in answer:
        envelope = read_envelope(dict(answer))
        return envelope.code, envelope.msg, envelope.data, None
    return 200, None, answer, None


def _retryable(code: int, message: str | None) -> bool:
    return api_error(code, message).retryable


def _failure(code: int, message: str | None, error: ApiError | None, task_id: str) -> ApiError:
    return error if error is not None else api_error(code, message, task_id=task_id)
