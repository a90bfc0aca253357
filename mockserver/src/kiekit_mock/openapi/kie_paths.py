"""The emulated KIE task families (kie-api.md §3), download-url and the credit balance (§4),
and the result files: request constraints as the family modules check
them (their constants are imported, so an enum changed there changes here too), and each
route's `data` shape as the mock renders it."""

from __future__ import annotations

from typing import Any

from ..families import flux_kontext, gpt4o_image, runway, veo
from ..files import CONTENT_TYPES
from .market_paths import CALLBACK
from .operation import NOT_FOUND, file_response, kie, plain
from .schema import (
    INT,
    STRING,
    STRINGS,
    boolean,
    enum,
    integer,
    nullable,
    obj,
    required_text,
    strict,
    text,
    url,
    urls,
)

TASK_ID = required_text()
EXPIRED = {
    "description": "an expired or forged link (S3-style XML error)",
    "content": {"application/xml": {"schema": STRING}},
}
CREATED = strict({"taskId": STRING})
TASK_QUERY = {"taskId": TASK_ID}

# --- legacy families (§3) ---------------------------------------------------------------------

CLOCK_TEXT = nullable(STRING)  # "YYYY-MM-DD HH:MM:SS" (UTC)
# 2 CREATE_TASK_FAILED only for a create_failed outcome (rules.py)
FLAG_0123 = enum((0, 1, 2, 3))

FLUX_BODY = obj(
    {
        "prompt": required_text(),
        "inputImage": url(),
        "aspectRatio": enum(flux_kontext.ASPECT_RATIOS),
        "model": enum(flux_kontext.MODELS),
        "outputFormat": enum(flux_kontext.OUTPUT_FORMATS),
        "enableTranslation": boolean(),
        "promptUpsampling": boolean(),
        "uploadCn": boolean(),
        "watermark": text(),
        "safetyTolerance": integer(0, 6),  # 0–2 when editing (inputImage)
        "callBackUrl": CALLBACK,
    },
    ["prompt"],
)
FLUX_RECORD = strict(
    {
        "taskId": STRING,
        "paramJson": STRING,
        "completeTime": CLOCK_TEXT,
        "createTime": CLOCK_TEXT,
        "response": nullable(strict({"originImageUrl": STRING, "resultImageUrl": STRING})),
        "successFlag": FLAG_0123,
        "errorCode": nullable(INT),
        "errorMessage": STRING,
    }
)

GPT4O_BODY = obj(
    {
        "size": enum(gpt4o_image.SIZES),
        "prompt": text(),
        "filesUrl": urls(gpt4o_image.MAX_FILES),
        "fileUrl": url(),
        "maskUrl": url(),
        "nVariants": enum(gpt4o_image.N_VARIANTS),
        "isEnhance": boolean(),
        "uploadCn": boolean(),
        "enableFallback": boolean(),
        "fallbackModel": enum(gpt4o_image.FALLBACK_MODELS),
        "callBackUrl": CALLBACK,
    },
    ["size"],
)
GPT4O_RECORD = strict(
    {
        "taskId": STRING,
        "paramJson": STRING,
        "completeTime": nullable(INT),
        "createTime": INT,
        "response": nullable(strict({"resultUrls": STRINGS})),
        "successFlag": FLAG_0123,
        "status": enum(("GENERATING", "SUCCESS", "CREATE_TASK_FAILED", "GENERATE_FAILED")),
        "errorCode": nullable(INT),
        "errorMessage": STRING,
        "progress": {"type": "string", "pattern": r"^[01]\.[0-9]{2}$"},
    }
)

RUNWAY_COMMON = {
    "prompt": required_text(),
    "quality": enum(runway.QUALITIES),
    "waterMark": text(),
    "callBackUrl": CALLBACK,
}
RUNWAY_GENERATE = obj(
    {
        **RUNWAY_COMMON,
        "imageUrl": url(),
        "duration": {"anyOf": [enum(runway.DURATIONS), enum([str(d) for d in runway.DURATIONS])]},
        "aspectRatio": enum(runway.ASPECT_RATIOS),
    },
    ["prompt"],
)
RUNWAY_EXTEND = obj({**RUNWAY_COMMON, "taskId": TASK_ID}, ["prompt", "taskId"])
ALEPH_BODY = obj(
    {
        "prompt": required_text(),
        "videoUrl": url(),
        "aspectRatio": enum(runway.ASPECT_RATIOS),
        "seed": integer(0, runway.SEED_MAX),
        "referenceImage": url(),
        "waterMark": text(),
        "uploadCn": boolean(),
        "callBackUrl": CALLBACK,
    },
    ["prompt", "videoUrl"],
)
RUNWAY_RECORD = strict(
    {
        "taskId": STRING,
        "parentTaskId": STRING,
        "generateParam": {"type": "object"},
        "state": enum(("wait", "queueing", "generating", "success", "fail")),  # §9.3
        "generateTime": STRING,
        "videoInfo": nullable(
            strict({"videoId": STRING, "taskId": STRING, "videoUrl": STRING, "imageUrl": STRING})
        ),
        "failCode": STRING,  # "" until a failure, then e.g. "400" (§3.4's current page)
        "failMsg": STRING,
        "expireFlag": enum((0, 1)),
    }
)
ALEPH_RECORD = strict(
    {
        "taskId": STRING,
        "paramJson": STRING,
        "response": nullable(
            strict({"taskId": STRING, "resultVideoUrl": STRING, "resultImageUrl": STRING})
        ),
        "completeTime": nullable(STRING),
        "createTime": nullable(STRING),
        "successFlag": enum((0, 1)),
        "errorCode": nullable(INT),
        "errorMessage": STRING,
    }
)

VEO_GENERATE = obj(
    {
        "prompt": required_text(),
        "model": enum(veo.MODELS),
        "generationType": enum(veo.GENERATION_TYPES),
        "imageUrls": urls(veo.MAX_IMAGES),
        "aspect_ratio": enum(veo.ASPECT_RATIOS),
        "aspectRatio": enum(veo.ASPECT_RATIOS),
        "seeds": integer(veo.SEED_MIN, veo.SEED_MAX),
        "enableTranslation": boolean(),
        "enableFallback": boolean(),
        "watermark": text(),
        "callBackUrl": CALLBACK,
    },
    ["prompt"],
)
VEO_EXTEND = obj(
    {
        "taskId": TASK_ID,
        "prompt": required_text(),
        "seeds": integer(veo.SEED_MIN, veo.SEED_MAX),
        "watermark": text(),
        "model": enum(veo.EXTEND_MODES),
        "callBackUrl": CALLBACK,
    },
    ["taskId", "prompt"],
)
VEO_INDEX = integer(0, veo.VIDEOS_PER_TASK - 1)
VEO_4K_BODY = obj({"taskId": TASK_ID, "index": VEO_INDEX, "callBackUrl": CALLBACK}, ["taskId"])
VEO_RECORD = strict(
    {
        "taskId": STRING,
        "paramJson": STRING,
        "completeTime": CLOCK_TEXT,
        "response": nullable(
            strict(
                {
                    "taskId": STRING,
                    "resultUrls": STRINGS,
                    "originUrls": nullable(STRINGS),
                    "resolution": STRING,
                    "imageUrls": STRINGS,
                    "mediaIds": STRINGS,
                },
                required=["taskId", "resultUrls"],
            )
        ),
        "successFlag": FLAG_0123,
        "errorCode": nullable(INT),
        "errorMessage": STRING,
        "createTime": CLOCK_TEXT,
        "fallbackFlag": boolean(),
    },
    required=[
        "taskId",
        "paramJson",
        "completeTime",
        "response",
        "successFlag",
        "errorCode",
        "errorMessage",
        "createTime",
    ],
)
VEO_4K = strict({"taskId": STRING, "resultUrls": nullable(STRINGS), "imageUrls": nullable(STRINGS)})
# the 4K endpoint's 422 answers carry data ("4k is processing…", DOCCOPY get-veo-3-4k-video)
VEO_4K_ERROR = nullable(
    strict(
        {"taskId": STRING, "resultUrls": nullable(STRINGS), "imageUrls": nullable(STRINGS)},
        required=["taskId"],
    )
)


# where each create's task is polled: OpenAPI links, so schemathesis' stateful phase polls the
# tasks it creates and the record shapes get checked too
STATUS_OF = {
    "/api/v1/jobs/createTask": "/api/v1/jobs/recordInfo",
    "/api/v1/flux/kontext/generate": "/api/v1/flux/kontext/record-info",
    "/api/v1/gpt4o-image/generate": "/api/v1/gpt4o-image/record-info",
    "/api/v1/runway/generate": "/api/v1/runway/record-detail",
    "/api/v1/runway/extend": "/api/v1/runway/record-detail",
    "/api/v1/aleph/generate": "/api/v1/aleph/record-info",
    "/api/v1/veo/generate": "/api/v1/veo/record-info",
    "/api/v1/veo/extend": "/api/v1/veo/record-info",
    "/api/v1/veo/get-4k-video": "/api/v1/veo/record-info",
}


def paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/flux/kontext/generate": {
            "post": kie("Flux Kontext generate/edit", CREATED, tag="flux", body=FLUX_BODY)
        },
        "/api/v1/flux/kontext/record-info": {
            "get": kie("Flux Kontext record", FLUX_RECORD, tag="flux", query=TASK_QUERY)
        },
        "/api/v1/gpt4o-image/generate": {
            "post": kie("4o Image generate", CREATED, tag="4o-image", body=GPT4O_BODY)
        },
        "/api/v1/gpt4o-image/record-info": {
            "get": kie("4o Image record", GPT4O_RECORD, tag="4o-image", query=TASK_QUERY)
        },
        "/api/v1/gpt4o-image/download-url": {
            "post": kie(
                "A 20-minute direct link to a 4o Image result",
                STRING,
                tag="4o-image",
                body=obj({"taskId": TASK_ID, "url": required_text()}, ["taskId", "url"]),
            )
        },
        "/api/v1/runway/generate": {
            "post": kie("Runway generate", CREATED, tag="runway", body=RUNWAY_GENERATE)
        },
        "/api/v1/runway/extend": {
            "post": kie("Runway extend", CREATED, tag="runway", body=RUNWAY_EXTEND)
        },
        "/api/v1/runway/record-detail": {
            "get": kie("Runway record", RUNWAY_RECORD, tag="runway", query=TASK_QUERY)
        },
        "/api/v1/aleph/generate": {
            "post": kie("Runway Aleph generate", CREATED, tag="runway", body=ALEPH_BODY)
        },
        "/api/v1/aleph/record-info": {
            "get": kie("Runway Aleph record", ALEPH_RECORD, tag="runway", query=TASK_QUERY)
        },
        "/api/v1/veo/generate": {
            "post": kie("Veo 3.1 generate", CREATED, tag="veo", body=VEO_GENERATE)
        },
        "/api/v1/veo/extend": {"post": kie("Veo 3.1 extend", CREATED, tag="veo", body=VEO_EXTEND)},
        "/api/v1/veo/record-info": {
            "get": kie("Veo record (videos, 1080P, 4K)", VEO_RECORD, tag="veo", query=TASK_QUERY)
        },
        "/api/v1/veo/get-1080p-video": {
            "get": kie(
                "1080P of a finished video (body code 400 while it is rendered)",
                strict({"resultUrl": STRING}),
                tag="veo",
                query=TASK_QUERY | {"index": VEO_INDEX},
            )
        },
        "/api/v1/veo/get-4k-video": {
            "post": kie(
                "4K of a finished video (422 with data while rendered and once done)",
                VEO_4K,
                tag="veo",
                body=VEO_4K_BODY,
                error=VEO_4K_ERROR,
            )
        },
        "/api/v1/common/download-url": {
            "post": kie(
                "A 20-minute link to a file the mock issued (422 'url is wrong' otherwise)",
                STRING,
                tag="account",
                body=obj({"url": required_text()}, ["url"]),
                section="§4",
            )
        },
        "/api/v1/common/pageApiAnnouncementList": {
            "post": kie(
                "KIE's API announcements, a page (undocumented; the mock has none)",
                strict({"pages": INT, "records": {"type": "array", "items": obj({})}}),
                tag="account",
                body=obj(
                    {
                        "language": STRING,
                        "projectSource": STRING,
                        "pageNum": INT,
                        "pageSize": INT,
                    }
                ),
                section="§4",
            )
        },
        "/api/v1/chat/credit": {
            "get": kie("The account's credits (a float)", {"type": "number"}, tag="account")
        },
    }


def _file(*media_types: str) -> dict[str, Any]:
    return {"200": file_response(*media_types), "403": EXPIRED, "404": NOT_FOUND}


def file_paths() -> dict[str, dict[str, Any]]:
    """Result files: public like KIE's CDN links; an expired or forged link is the object
    store's 403 (files.expiry); anything else a real 404."""
    some_file = _file(*sorted(set(CONTENT_TYPES.values())))
    return {
        "/files/{task_id}/{name}": {
            "get": plain(
                "A task's result file",
                some_file,
                tag="files",
                path_params={"task_id": STRING, "name": STRING},
            )
        },
        "/files/{task_id}/cover/{name}": {
            "get": plain(
                "A Runway/Aleph video's cover still",
                _file("image/png"),
                tag="files",
                path_params={"task_id": STRING, "name": STRING},
            )
        },
        "/files/suno/{task_id}/{name}": {
            "get": plain(
                "A Suno track, cover, WAV, MP4 or stem",
                _file("audio/mpeg", "audio/wav", "image/jpeg", "image/png", "video/mp4"),
                tag="files",
                path_params={"task_id": STRING, "name": STRING},
            )
        },
        "/files/veo/{task_id}/{name}": {
            "get": plain(
                "A Veo 4K preview image",
                _file("image/jpeg"),
                tag="files",
                path_params={"task_id": STRING, "name": STRING},
            )
        },
    }
