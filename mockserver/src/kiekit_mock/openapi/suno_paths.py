"""Suno's routes (kie-api.md §3.6; families/suno/): every create requires callBackUrl (KIE's
real 422 "Please enter callBackUrl."), and every record-info answers `data: null` for an id it
does not know. The custom-mode rules (which of prompt/style/title a mode requires, and their
per-version lengths) are checked by the mock and only outlined here: the schema takes the
largest limits, so it never calls invalid what the mock accepts."""

from __future__ import annotations

from typing import Any

from ..families.suno import music, persona, style, timestamped, tools
from .operation import kie
from .schema import (
    INT,
    STRING,
    Schema,
    boolean,
    enum,
    nullable,
    number,
    obj,
    required_text,
    strict,
    text,
    url,
)

CREATED = strict({"taskId": STRING})
TASK_QUERY = {"taskId": required_text()}
PROMPT_MAX = max(limit[0] for limit in music.LIMITS.values())
STYLE_MAX = max(limit[1] for limit in music.LIMITS.values())
TITLE_MAX = max(limit[2] for limit in music.LIMITS.values())

SOUND = {
    "callBackUrl": url(),
    "model": enum(music.VERSIONS),
    "negativeTags": text(),
    "vocalGender": enum(("m", "f")),
    "styleWeight": number(0, 1),
    "weirdnessConstraint": number(0, 1),
    "audioWeight": number(0, 1),
    "personaId": text(),
}
# custom mode checks style and title lengths, the simple mode does not: only prompt's is sure
DESCRIBED = SOUND | {
    "customMode": boolean(),
    "instrumental": boolean(),
    "prompt": text(PROMPT_MAX),
    "style": text(),
    "title": text(),
}
CONTINUED = SOUND | {
    "defaultParamFlag": boolean(),
    "continueAt": number(0),
    "prompt": text(PROMPT_MAX),
    "style": text(STYLE_MAX),
    "title": text(TITLE_MAX),
}
NEEDS = ("callBackUrl", "model")

MUSIC_BODIES: dict[str, Schema] = {
    "/api/v1/generate": obj(DESCRIBED, (*NEEDS, "customMode", "instrumental")),
    "/api/v1/generate/upload-cover": obj(
        DESCRIBED | {"uploadUrl": url()}, (*NEEDS, "uploadUrl", "customMode", "instrumental")
    ),
    "/api/v1/generate/extend": obj(
        CONTINUED | {"audioId": required_text()}, (*NEEDS, "audioId", "defaultParamFlag")
    ),
    "/api/v1/generate/upload-extend": obj(
        CONTINUED | {"uploadUrl": url(), "instrumental": boolean()},
        (*NEEDS, "uploadUrl", "defaultParamFlag"),
    ),
    "/api/v1/generate/add-instrumental": obj(
        SOUND | {"uploadUrl": url(), "tags": required_text(), "title": required_text()},
        (*NEEDS, "uploadUrl", "title", "tags"),
    ),
    "/api/v1/generate/add-vocals": obj(
        SOUND
        | {
            "uploadUrl": url(),
            "prompt": required_text(),
            "title": required_text(),
            "style": required_text(),
            "negativeTags": required_text(),
        },
        (*NEEDS, "uploadUrl", "prompt", "title", "style", "negativeTags"),
    ),
    # no model: the track's own version (the replace-section page); infillStartS < infillEndS
    # and a track the caller has are the mock's to check
    "/api/v1/generate/replace-section": obj(
        {
            "callBackUrl": url(),
            "taskId": required_text(),
            "audioId": required_text(),
            "prompt": required_text(PROMPT_MAX),
            "tags": required_text(STYLE_MAX),
            "title": required_text(TITLE_MAX),
            "fullLyrics": required_text(),
            "negativeTags": text(),
            "infillStartS": number(0),
            "infillEndS": number(0),
        },
        (
            "callBackUrl",
            "taskId",
            "audioId",
            "prompt",
            "tags",
            "title",
            "fullLyrics",
            "infillStartS",
            "infillEndS",
        ),
    ),
}

TRACK = strict(
    {
        "id": STRING,
        "audioUrl": STRING,
        "streamAudioUrl": STRING,
        "imageUrl": STRING,
        "prompt": STRING,
        "modelName": STRING,
        "title": STRING,
        "tags": STRING,
        "createTime": nullable(STRING),
        "duration": nullable({"type": "number"}),
    }
)
MUSIC_RECORD = nullable(
    strict(
        {
            "taskId": STRING,
            "parentMusicId": STRING,
            "param": STRING,
            "response": nullable(
                strict(
                    {
                        "taskId": STRING,
                        "sunoData": {"type": "array", "items": TRACK},
                        "errorMessage": STRING,
                    },
                    required=["taskId", "sunoData"],
                )
            ),
            "status": enum(
                (
                    "PENDING",
                    "TEXT_SUCCESS",
                    "FIRST_SUCCESS",
                    "SUCCESS",
                    "CREATE_TASK_FAILED",
                    "GENERATE_AUDIO_FAILED",
                    "CALLBACK_EXCEPTION",
                    "SENSITIVE_WORD_ERROR",
                )
            ),
            "type": STRING,
            "operationType": STRING,
            "errorCode": nullable(INT),
            "errorMessage": nullable(STRING),
        }
    )
)

ON_A_TRACK = {"callBackUrl": url(), "taskId": required_text(), "audioId": required_text()}
TOOL_BODIES: dict[str, Schema] = {
    "/api/v1/lyrics": obj(
        {"callBackUrl": url(), "prompt": required_text(200)}, ("callBackUrl", "prompt")
    ),
    "/api/v1/wav/generate": obj(ON_A_TRACK, ("callBackUrl", "taskId", "audioId")),
    "/api/v1/vocal-removal/generate": obj(
        ON_A_TRACK | {"type": enum((tools.SEPARATE, tools.SPLIT))},
        ("callBackUrl", "taskId", "audioId"),
    ),
    "/api/v1/midi/generate": obj(ON_A_TRACK | {"audioId": text()}, ("callBackUrl", "taskId")),
    "/api/v1/mp4/generate": obj(
        ON_A_TRACK | {"author": text(50), "domainName": text(50)},
        ("callBackUrl", "taskId", "audioId"),
    ),
    "/api/v1/suno/cover/generate": obj(
        {"callBackUrl": url(), "taskId": required_text()}, ("callBackUrl", "taskId")
    ),
}
BOOSTED = strict(
    {
        "taskId": STRING,
        "param": STRING,
        "result": STRING,
        "creditsConsumed": number(0),
        "creditsRemaining": number(0),
        "successFlag": STRING,
        "errorCode": nullable(INT),
        "errorMsg": nullable(STRING),
        "createTime": STRING,
    }
)
TIMESTAMPED = strict(
    {
        "alignedWords": {
            "type": "array",
            "items": strict(
                {
                    "word": STRING,
                    "success": boolean(),
                    "startS": {"type": "number"},
                    "endS": {"type": "number"},
                    "palign": {"type": "number"},
                }
            ),
        },
        "waveformData": {"type": "array", "items": {"type": "number"}},
        "hootCer": {"type": "number"},
        "isStreamed": boolean(),
    }
)
PERSONA = strict({"personaId": STRING, "name": STRING, "description": STRING})
# each tool's record has its own keys (families/suno/tools.py); the task id is in all of them
TOOL_RECORD = nullable({"type": "object", "properties": {"taskId": STRING}, "required": ["taskId"]})


def paths() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {
        "/api/v1/generate/record-info": {
            "get": kie(
                "A Suno song task (data null: unknown id)",
                MUSIC_RECORD,
                tag="suno",
                query=TASK_QUERY,
                section="§3.6",
            )
        }
    }
    for path, body in MUSIC_BODIES.items():
        found[path] = {
            "post": kie(f"Suno {path.rsplit('/', 1)[-1]}", CREATED, tag="suno", body=body)
        }
    found[style.PATH] = {
        "post": kie(
            "Suno boost style: a richer style description, answered at once (no task)",
            BOOSTED,
            tag="suno",
            body=obj({"content": required_text()}, ("content",)),  # no maximum documented
            section="§3.6",
        )
    }
    found[timestamped.PATH] = {
        "post": kie(
            "Suno timestamped lyrics of a track, answered at once (no task)",
            TIMESTAMPED,
            tag="suno",
            body=obj(
                {"taskId": required_text(), "audioId": required_text()}, ("taskId", "audioId")
            ),
            section="§3.6",
        )
    }
    found[persona.PATH] = {
        "post": kie(
            "Suno persona from a track, answered at once (no task); vocalEnd - vocalStart "
            "10 to 30 seconds",
            PERSONA,
            tag="suno",
            body=obj(
                {
                    "taskId": required_text(),
                    "audioId": required_text(),
                    "name": required_text(),
                    "description": required_text(),
                    "vocalStart": number(0),
                    "vocalEnd": number(0),
                    "style": text(),
                },
                ("taskId", "audioId", "name", "description"),
            ),
            section="§3.6",
        )
    }
    for path, body in TOOL_BODIES.items():
        status = path.removesuffix("/generate") + "/record-info"
        found[path] = {"post": kie(f"Suno {path}", CREATED, tag="suno", body=body)}
        found[status] = {
            "get": kie(
                f"Suno {status} (data null: unknown id)", TOOL_RECORD, tag="suno", query=TASK_QUERY
            )
        }
    return found


STATUS_OF = dict.fromkeys(MUSIC_BODIES, "/api/v1/generate/record-info") | {
    path: path.removesuffix("/generate") + "/record-info" for path in TOOL_BODIES
}
