"""Veo 3.1 through KIE: videos from text or images, extended videos, their 1080P and 4K versions.

Wire facts (kie-api.md §3.3, from KIE's generate-veo-3-video, get-veo-3-video-details,
veo-3-extend-video, get-veo-3-1080-p-video and get-veo-3-4k-video pages; the guide's §3.1):

- ``POST /api/v1/veo/generate``: a camelCase body that names KIE's model (``veo3`` quality,
  ``veo3_fast``, ``veo3_lite``); only ``prompt`` is required.
- ``POST /api/v1/veo/extend`` ``{taskId, prompt, seeds?, watermark?, callBackUrl?, model}``
  continues a finished video as a new task. kiekit offers it as the model id ``veo3/extend``.
- ``GET /api/v1/veo/record-info`` reports every Veo task — generated, extended, 1080P and 4K —
  with ``successFlag`` 0 generating, 1 success, 2 failed, 3 generation failed, and the videos at
  ``response.resultUrls`` (plus ``originUrls`` when the aspect ratio is not 16:9).
- ``GET /api/v1/veo/get-1080p-video`` and ``POST /api/v1/veo/get-4k-video`` ask for a finished
  video in higher resolution; while KIE renders it they answer non-200 codes that mean "not
  ready yet", not failure. See :mod:`kiekit_veo.upgrades`.
- The 4K version costs credits and is a task of its own: the first get-4k-video answer names it
  (``data.taskId``), and record-info reports it like any other. kiekit offers it as the model
  id ``veo3/4k`` too, so it is created like every paid task — journaled before it is sent, its
  task id recorded before ``submit`` returns, finished by ``kie resume`` after a crash.
- The 1080P version is no task of its own and costs nothing extra: KIE answers get-1080p-video
  by the source task, body code 400 "1080P is processing" until the file exists (~1–3 min),
  then ``data.resultUrl``. kiekit offers it as the model id ``veo3/1080p``: its "create" reads
  the source's record (a succeeded video, or KIE's refusal, before any wait), and the task it
  journals is ``<source>-1080p``, whose status call is get-1080p-video and whose "processing"
  answers mean running. A video that went through 1080P can no longer be extended (§3.3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen
from kiekit.plugin import (
    ApiError,
    Asset,
    AssetRole,
    Input,
    MediaKind,
    Model,
    ParentNotFinishedError,
    ParentTaskError,
    Request,
    Results,
    State,
    SuccessFlagProvider,
    TaskStatus,
    ValidationError,
    asset,
    choice,
    flag,
    integer,
    text,
    urls,
)

from kiekit_veo import upgrades
from kiekit_veo._urls import url_list
from kiekit_veo.upgrades import Upgrade

__all__ = [
    "ASPECT_RATIOS",
    "EXTEND_MODEL",
    "GENERATE_MODELS",
    "GENERATION_TYPES",
    "HD_MODEL",
    "IMAGE_COUNTS",
    "UHD_MODEL",
    "Veo",
    "Veo4k",
    "Veo1080p",
    "VeoExtend",
    "VeoProvider",
]

GENERATE_PATH = "/api/v1/veo/generate"
EXTEND_PATH = "/api/v1/veo/extend"
STATUS_PATH = "/api/v1/veo/record-info"

GENERATE_MODELS = ("veo3", "veo3_fast", "veo3_lite")  # KIE's own `model` values (§3.3)
EXTEND_MODEL = "veo3/extend"  # kiekit's name for POST /api/v1/veo/extend: KIE gives it none
UHD_MODEL = "veo3/4k"  # kiekit's name for POST /api/v1/veo/get-4k-video (a paid task, §3.3)
HD_MODEL = "veo3/1080p"  # kiekit's name for GET /api/v1/veo/get-1080p-video (§3.3)
# what the journal calls a 1080P: KIE gives it no id of its own (§3.3), and no KIE id ends so
HD_SUFFIX = "-1080p"

GENERATION_TYPES = ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO")
REFERENCE = "REFERENCE_2_VIDEO"
QUALITY_MODEL = "veo3"
ASPECT_RATIOS = ("16:9", "9:16", "Auto")
SEED_MIN, SEED_MAX = 10000, 99999

# How many imageUrls each generationType takes (§3.3; generate-veo-3-video): none for text,
# one (the video unfolds around it) or two (first and last frame) for FIRST_AND_LAST_FRAMES,
# one to three reference images for REFERENCE. Left unset, KIE "determines the generation mode
# based on whether imageUrls are provided": text without images, frames with one or two.
IMAGE_COUNTS: Mapping[str | None, tuple[int, int]] = {
    None: (0, 2),
    "TEXT_2_VIDEO": (0, 0),
    "FIRST_AND_LAST_FRAMES_2_VIDEO": (1, 2),
    "REFERENCE_2_VIDEO": (1, 3),
}
MAX_IMAGES = max(high for _, high in IMAGE_COUNTS.values())


@frozen
class Veo(Input):
    """Input of ``veo3``, ``veo3_fast`` and ``veo3_lite``. None leaves KIE's default.

    ``aspect_ratio`` goes on the wire as ``aspect_ratio``: KIE's OpenAPI and the guide spell it
    so, its quickstart code says ``aspectRatio``, and a live probe found both accepted (§3.3).
    kiekit sends the documented spelling. KIE's newest pages add ``resolution`` and ``duration``
    without saying their values, so they are not offered (yet).
    """

    prompt: str = text()
    image_urls: tuple[str, ...] | None = urls(default=None, max_items=MAX_IMAGES)
    # KIE: chosen from image_urls
    generation_type: str | None = choice(*GENERATION_TYPES, default=None)
    # KIE's default: 16:9
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None, wire="aspect_ratio")
    seeds: int | None = integer(SEED_MIN, SEED_MAX, default=None)  # KIE picks one when left out
    # KIE's default: true (prompts made English)
    enable_translation: bool | None = flag(default=None)
    watermark: str | None = text(default=None, required=False)

    def check(self) -> None:
        count = len(self.image_urls or ())
        low, high = IMAGE_COUNTS[self.generation_type]
        if low <= count <= high:
            return
        mode = self.generation_type
        hint = ""
        if mode == "TEXT_2_VIDEO":
            why = "takes no images with generation_type TEXT_2_VIDEO"
        elif mode == "FIRST_AND_LAST_FRAMES_2_VIDEO":
            why = (
                "needs 1 image (the video unfolds around it) or 2 (first and last frame) "
                "with generation_type FIRST_AND_LAST_FRAMES_2_VIDEO"
            )
        elif mode == "REFERENCE_2_VIDEO":
            why = "needs 1 to 3 reference images with generation_type REFERENCE_2_VIDEO"
        else:
            why = "takes at most 2 images (first and last frame) when generation_type is not set"
            hint = " (for 3 reference images, set generation_type=REFERENCE_2_VIDEO)"
        raise ValidationError("image_urls", f"{why}; got {count}{hint}")


@frozen
class VeoExtend(Input):
    """Input of ``veo3/extend``: continue the video of an earlier, succeeded Veo task.

    KIE refuses videos that went through 1080P (§3.3). ``quality`` is KIE's ``model`` field of
    this call, ``fast`` (KIE's default) or ``quality``. The extended video is a new task, read
    like any other through record-info.
    """

    prompt: str = text()
    task_id: str = text()  # the video to continue (wire: taskId)
    seeds: int | None = integer(SEED_MIN, SEED_MAX, default=None)
    watermark: str | None = text(default=None, required=False)
    quality: str | None = choice("fast", "quality", default=None, wire="model")


@frozen
class Veo4k(Input):
    """Input of ``veo3/4k``: the 4K version of video ``index`` of an earlier, succeeded Veo task.

    It costs extra credits (about two Fast videos) and takes ~5–10 minutes; KIE makes it a task
    of its own, reported by record-info with the 4K video (label ``result``) and its preview
    image (``preview``): two kinds of file, each told by its media type. Asking again for a
    video whose 4K exists or is on its way is answered 422 (§3.3), which ``submit`` raises;
    :func:`kiekit_veo.upgrades.read_4k` reads that answer.
    """

    task_id: str = text(pattern=r"\S+", pattern_hint="a task id")  # the video (wire: taskId)
    # which of its videos (KIE's default: 0, §3.3). Veo makes one video a task, so 0 is the only
    # one there is: the mock refuses others as out of range [INF], and so does this
    index: int | None = integer(0, 0, default=None)


@frozen
class Veo1080p(Input):
    """Input of ``veo3/1080p``: the 1080P version of video ``index`` of an earlier, succeeded
    Veo task. No extra credits and no task of its own (§3.3): ``submit`` reads the source's
    record (refused there when it is no succeeded video) and returns the task
    ``<task_id>-1080p``, which ``wait`` polls through get-1080p-video until the file exists
    (~1–3 min; label ``1080p``). KIE takes no callback for it, and refuses to extend a video
    that went through 1080P.
    """

    task_id: str = text(pattern=r"\S+", pattern_hint="a task id")  # the video (wire: taskId)
    index: int | None = integer(0, 0, default=None)  # as Veo4k's: one video a task


class VeoProvider(SuccessFlagProvider):
    name = "veo"
    models = (
        *(Model(model_id, Veo, MediaKind.VIDEO) for model_id in GENERATE_MODELS),
        Model(EXTEND_MODEL, VeoExtend, MediaKind.VIDEO),
        Model(UHD_MODEL, Veo4k, None),  # the 4K video and its preview image
        Model(HD_MODEL, Veo1080p, MediaKind.VIDEO),
    )
    create_path = GENERATE_PATH
    status_path = STATUS_PATH  # authoritative for generate, extend, 1080P and 4K tasks (§3.3)

    def make_input(
        self,
        model_id: str,
        values: Input | Mapping[str, Any] | None = None,
        *,
        from_text: bool = False,
        **fields: Any,
    ) -> Input:
        """As every provider's; and REFERENCE_2_VIDEO only with a Fast-capable model: KIE's
        generate page says reference-to-video works with the Fast model only (the pages
        disagree on its aspect ratios, which are left to KIE; ``veo3_lite`` is not named). A
        paid create KIE refuses is refused here, naming the field, before anything is sent."""
        params = super().make_input(model_id, values, from_text=from_text, **fields)
        if model_id == QUALITY_MODEL and getattr(params, "generation_type", None) == REFERENCE:
            raise ValidationError(
                "generation_type",
                f"{REFERENCE} works with veo3_fast only (KIE's rule), not with {model_id}",
            )
        return params

    def body(self, model_id: str, params: Input) -> dict[str, Any]:
        self.checked_model(model_id, params)  # body() is reached from build_request too
        if model_id in (EXTEND_MODEL, UHD_MODEL):
            return super().body(model_id, params)  # extend's `model` is the quality field
        return {"model": model_id, **super().body(model_id, params)}

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        if model_id == HD_MODEL:
            self.checked_model(model_id, params)
            if callback_url:  # get-1080p-video has no callBackUrl (§3.3): none would come
                raise ValidationError(
                    "callback_url", f"{HD_MODEL} takes none: KIE calls no URL for a 1080P"
                )
            source: str = getattr(params, "task_id")  # noqa: B009 - Veo1080p's, checked above
            # one 1080P a video, however often asked (§3.3): the journal links a second ask
            return attrs.evolve(
                self.status_request(source), parent_task_id=source, same_task_again=True
            )
        request = super().build_request(model_id, params, callback_url=callback_url)
        if model_id == EXTEND_MODEL:
            return attrs.evolve(request, path=EXTEND_PATH)
        if model_id == UHD_MODEL:
            return attrs.evolve(request, path=upgrades.UHD_PATH)
        return request

    # -- veo3/1080p: the source's record as its "create", get-1080p-video as its status ------

    def parse_created(self, data: Any) -> str:
        """A create's ``{taskId}``; for ``veo3/1080p``, whose "create" read the source's record
        (the only answer here with a ``successFlag``; an unknown video is refused there, 422
        "record is null"), the task ``<source>-1080p``.

        The source must be a succeeded generated or extended video: get-1080p-video answers
        anything else 422 "record status is not success" or "record is null" (§3.3), words
        that tell neither "not yet" nor "never". So the record read here decides, before any
        poll: still generating is :class:`ParentNotFinishedError`, failed or a 4K task (its
        record carries ``mediaIds``, §3.3) is :class:`ParentTaskError`. The journal row is
        closed as refused (nothing was made), never left owed to ``kie resume``."""
        if isinstance(data, Mapping) and "successFlag" in data:
            source = super().parse_created(data)
            _check_source(source, data)
            return source + HD_SUFFIX
        return super().parse_created(data)

    def status_request(self, task_id: str) -> Request:
        if task_id.endswith(HD_SUFFIX):
            return upgrades.request_1080p(task_id.removesuffix(HD_SUFFIX))
        return super().status_request(task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        if task_id.endswith(HD_SUFFIX):  # data {resultUrl}: the file is there
            self.extract_results(task_id, data)  # none: a ProtocolError, never "succeeded"
            return TaskStatus.of(task_id, State.SUCCEEDED, raw=data)
        return super().parse_status(task_id, data)

    def extract_results(self, task_id: str, data: Any) -> Results:
        if task_id.endswith(HD_SUFFIX):  # the task's one video: <source>-1080p-0.mp4
            results = upgrades.read_1080p(task_id.removesuffix(HD_SUFFIX), data).results
            assert results is not None  # a 200 answer is ready with its file, or raised
            return attrs.evolve(results, task_id=task_id)  # named as read_1080p names it
        results = super().extract_results(task_id, data)
        response = data.get("response") if isinstance(data, Mapping) else None
        if not (isinstance(response, Mapping) and _is_4k(response)):
            return results
        # a 4K task: its files named as read_4k names them, after the video it is the 4K of
        # (<video>-4k-0.mp4, <video>-4k-preview-1.jpg); still the 4K task's (its task_id)
        found = upgrades.uhd_assets(
            url_list(response.get("resultUrls"), task_id, required=True),
            url_list(response.get("imageUrls"), task_id),
            task_id,
        )
        stem = upgrades.uhd_stem(_source_of(data) or task_id)
        return attrs.evolve(results, assets=found, file_stem=stem)

    def status_of_refusal(self, task_id: str, error: Exception) -> TaskStatus | None:
        """get-1080p-video's body code 400 "1080P is processing": running, not an error."""
        if (
            task_id.endswith(HD_SUFFIX)
            and isinstance(error, ApiError)
            and error.code == upgrades.HD_PROCESSING_CODE
        ):
            return TaskStatus.of(task_id, State.RUNNING, raw=error.kie_message)
        return None

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        """``resultUrls`` (label ``result``), ``originUrls`` — the uncropped original, present
        only when the aspect ratio is not 16:9 (label ``origin``) — and ``imageUrls`` previews
        (label ``preview``; a 4K task's, whose files :meth:`extract_results` names)."""
        found = [
            asset(url, MediaKind.VIDEO, task_id=task_id, label="result")
            for url in url_list(response.get("resultUrls"), task_id, required=True)
        ]
        for key, kind, label in (
            ("originUrls", MediaKind.VIDEO, "origin"),
            ("imageUrls", MediaKind.IMAGE, "preview"),
        ):
            found += [
                asset(url, kind, task_id=task_id, label=label, role=AssetRole.EXTRA)
                for url in url_list(response.get(key), task_id)
            ]
        return tuple(found)

    # -- the 1080P and 4K versions of a finished video (kie-api.md §3.3) ---------------------

    def request_1080p(self, task_id: str, *, index: int = 0) -> Request:
        """``GET /api/v1/veo/get-1080p-video``; send it with ``client.call`` and read the answer
        (or the ApiError it raised) with :meth:`read_1080p`."""
        return upgrades.request_1080p(task_id, index=index)

    def read_1080p(self, task_id: str, answer: Any) -> Upgrade:
        """Ready (with the 1080P file) or not ready yet; raises if the answer is a failure."""
        return upgrades.read_1080p(task_id, answer)

    def request_4k(
        self, task_id: str, *, index: int = 0, callback_url: str | None = None
    ) -> Request:
        """``POST /api/v1/veo/get-4k-video`` (extra credits, ~5–10 min); read the answer with
        :meth:`read_4k`. The first answer names the 4K task, which record-info reports.

        Sent with ``client.call`` it is not journaled: prefer ``client.submit("veo3/4k",
        task_id=…)``, which records the paid task as every create is (``kie resume``)."""
        return upgrades.request_4k(task_id, index=index, callback_url=callback_url)

    def read_4k(self, task_id: str, answer: Any) -> Upgrade:
        """Ready (with the 4K files when KIE's answer carries them) or not ready yet; raises if
        the answer is a failure."""
        return upgrades.read_4k(task_id, answer)


def _is_4k(response: Mapping[str, Any]) -> bool:
    """Whether a succeeded record's ``response`` is a 4K task's: only those carry
    ``mediaIds`` and preview ``imageUrls`` (§3.3)."""
    return response.get("mediaIds") is not None or response.get("imageUrls") is not None


def _source_of(record: Mapping[str, Any]) -> str | None:
    """The video a 4K task was made from: the ``taskId`` of its ``paramJson``, the JSON text of
    the task's request, ``{taskId, index, callBackUrl}`` for a 4K (§3.3 documents paramJson
    as the request's parameters, not this one's members [INF]); None when it holds none."""
    text = record.get("paramJson")
    if not isinstance(text, str):
        return None
    try:
        params = json.loads(text)
    except ValueError:
        return None
    source = params.get("taskId") if isinstance(params, dict) else None
    if isinstance(source, str) and source.strip() and source.isprintable():
        return source
    return None


def _check_source(source: str, record: Mapping[str, Any]) -> None:
    """Refuse a 1080P of ``source`` (its record-info ``record``) that KIE cannot give."""
    flag = record.get("successFlag")
    if flag == 0:
        raise ParentNotFinishedError(
            f"{HD_MODEL}: video {source} is still generating; wait for it to succeed, then ask "
            "for its 1080P",
            parent_task_id=source,
            parent_state="running",
        )
    if flag != 1:
        raise ParentTaskError(
            f"{HD_MODEL}: video {source} failed (successFlag {flag!r}): it has no 1080P version",
            parent_task_id=source,
            parent_state="failed",
        )
    response = record.get("response")
    if isinstance(response, Mapping) and response.get("mediaIds") is not None:
        raise ParentTaskError(
            f"{HD_MODEL}: task {source} is a 4K task, not a generated or extended video: ask "
            "for the 1080P of the video it was made from",
            parent_task_id=source,
            parent_state="not-a-video",
        )
