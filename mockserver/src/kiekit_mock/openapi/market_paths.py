"""The unified market jobs API (kie-api.md §2.1–2.4): one createTask body per model, as the
models in `families/market_models/` check their input (the modules' enums and limits are
imported; catalogue models are read from catalogue.json by catalogue_inputs.py),
and the recordInfo record as the recorded real answers show it."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from ..config import MockConfig
from ..families.market_models import catalogue, grok, kling, sora
from ..families.market_models.extra import ID_PATTERN
from ..families.market_models.extra import PROMPT_MAX as EXTRA_PROMPT_MAX
from .catalogue_inputs import input_schema
from .operation import kie
from .schema import (
    INT,
    STRING,
    Schema,
    boolean,
    enum,
    integer,
    nullable,
    number,
    obj,
    required_text,
    strict,
    text,
    url,
    urls,
)

CALLBACK = {"anyOf": [url(), {"const": ""}]}  # "" means none (route_helpers.optional_callback_url)
TASK_QUERY = {"taskId": required_text()}

# --- one input schema per model --------------------------------------------------

_GROK_VIDEO = {
    "aspect_ratio": enum(grok.ASPECT_RATIOS),
    "mode": enum(grok.MODES),
    "resolution": enum(grok.RESOLUTIONS),
    "nsfw_checker": boolean(),
    "duration": integer(6, 30, strings_ok=True),
}
_SORA_COMMON = {
    "aspect_ratio": enum(sora.SORA_RATIOS),
    "n_frames": enum(("10", "15")),
    "remove_watermark": boolean(),
    "upload_method": enum(sora.SORA_UPLOADS),
    "character_id_list": {"type": "array", "items": required_text()},
}
_SORA_T2V = obj({"prompt": required_text(sora.SORA_PROMPT_MAX), **_SORA_COMMON}, ["prompt"])
_SORA_I2V = obj(
    {"image_urls": urls(1), "prompt": text(sora.SORA_PROMPT_MAX), **_SORA_COMMON}, ["image_urls"]
)
_SORA_SIZE = {"size": nullable(enum(("standard", "high")))}  # optional: null counts as absent


def _with(schema: Schema, extra: dict[str, Schema]) -> Schema:
    return schema | {"properties": schema["properties"] | extra}


MARKET_INPUTS: dict[str, Schema] = {
    "grok-imagine/text-to-image": obj(
        {
            "prompt": required_text(grok.PROMPT_MAX),
            "aspect_ratio": enum(grok.ASPECT_RATIOS),
            "nsfw_checker": boolean(),
            "enable_pro": boolean(),
        },
        ["prompt"],
    ),
    "grok-imagine/image-to-image": obj(
        {
            "prompt": required_text(grok.PROMPT_MAX),
            "image_urls": urls(5),
            "nsfw_checker": boolean(),
        },
        ["prompt", "image_urls"],
    ),
    "grok-imagine/upscale": obj({"task_id": required_text()}, ["task_id"]),
    "grok-imagine/text-to-video": obj(
        {"prompt": required_text(grok.PROMPT_MAX), **_GROK_VIDEO}, ["prompt"]
    ),
    # image_urls (≤7) or task_id + index (0–5), never both (§2.4)
    "grok-imagine/image-to-video": obj(
        {
            "image_urls": urls(7),
            "task_id": required_text(),
            "index": integer(0, 5, strings_ok=True),
            "prompt": text(grok.PROMPT_MAX),
            **_GROK_VIDEO,
        }
    )
    | {"oneOf": [{"required": ["image_urls"]}, {"required": ["task_id"]}]},
    "grok-imagine/extend": obj(
        {
            "task_id": required_text(),
            "prompt": required_text(grok.PROMPT_MAX),
            "extend_at": number(0),
            "extend_times": {"anyOf": [enum((6, 10)), enum(("6", "10"))]},
        },
        ["task_id", "prompt"],
    ),
    "kling-3.0/video": obj(
        {
            "multi_shots": boolean(),
            "mode": enum(kling.KLING_MODES),
            "sound": boolean(),
            "prompt": text(),
            "aspect_ratio": enum(kling.KLING_RATIOS),
            "duration": integer(3, 15, strings_ok=True),
            "image_urls": urls(2),
            "multi_prompt": {  # [] from single-shot clients (kling.py); shots when multi-shot
                "type": "array",
                "items": obj(
                    {"prompt": required_text(500), "duration": number(1, 12)},
                    ["prompt", "duration"],
                ),
            },
            "kling_elements": {
                "type": "array",
                "minItems": 1,
                "items": obj(
                    {
                        "name": required_text(),
                        "description": text(),
                        "element_input_urls": urls(4, min_items=2),  # 2–4 images (§2.4)
                        "element_input_video_urls": urls(1),
                    },
                    ["name"],
                ),
            },
        },
        ["multi_shots", "mode", "sound"],
    )
    # shots only with multi_shots (kling.py [INF]); [] from single-shot clients
    | {
        "if": {"properties": {"multi_shots": {"const": False}}},
        "then": {"properties": {"multi_prompt": {"anyOf": [{"maxItems": 0}, {"type": "null"}]}}},
    },
    "kling-3.0/motion-control": obj(
        {
            "input_urls": urls(1),
            "video_urls": urls(1),
            "prompt": text(),
            "mode": enum(("720p", "1080p")),
            "character_orientation": enum(("video", "image")),
            "background_source": enum(("input_video", "input_image")),
        },
        ["input_urls", "video_urls"],
    ),
    "sora-2-text-to-video": _SORA_T2V,
    "sora-2-image-to-video": _SORA_I2V,
    "sora-2-pro-text-to-video": _with(_SORA_T2V, _SORA_SIZE),
    "sora-2-pro-image-to-video": _with(_SORA_I2V, _SORA_SIZE),
    "sora-2-pro-storyboard": obj(
        {
            "n_frames": enum(("10", "15", "25")),
            "shots": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "items": obj(
                    {"Scene": required_text(), "duration": number(0.1, 15)}, ["Scene", "duration"]
                ),
            },
            "image_urls": urls(1),
            "aspect_ratio": enum(sora.SORA_RATIOS),
            "upload_method": enum(sora.SORA_UPLOADS),
        },
        ["shots"],
    ),
    "sora-2-characters": obj(
        {
            "character_file_url": urls(1),
            "character_prompt": text(5000),
            "safety_instruction": text(5000),
        },
        ["character_file_url"],
    ),
    "sora-2-characters-pro": obj(
        {
            "origin_task_id": required_text(),
            "timestamps": required_text(),
            "character_prompt": required_text(5000),
            "character_user_name": text(40),
            "safety_instruction": text(5000),
        },
        ["origin_task_id", "timestamps", "character_prompt"],
    ),
    "sora-watermark-remover": obj(
        {"video_url": url() | {"maxLength": 500}, "upload_method": enum(sora.SORA_UPLOADS)},
        ["video_url"],
    ),
}

_EXTRA_INPUT = obj({"prompt": required_text(EXTRA_PROMPT_MAX)})


def schemas(config: MockConfig) -> dict[str, Schema]:
    """The createTask body of each model, as components: one named schema per model id."""
    # the modules' models win over a catalogue entry of the same id, as in market_models.MODELS
    inputs = {entry["id"]: input_schema(entry) for entry in catalogue.read()["models"]}
    inputs |= MARKET_INPUTS
    for name in config.extra_market_models:
        inputs.setdefault(name, _EXTRA_INPUT)
    bodies: dict[str, Schema] = {}
    for name, schema in inputs.items():
        bodies[_component(name, bodies)] = _body({"const": name}, schema)
    if not config.strict_models:  # any other id is taken, with the minimal check of extra.py
        # but those KIE is recorded refusing (catalogue.json's `refused`, §2.4)
        refused = [name for name in catalogue.refused() if name not in inputs]
        other = {"type": "string", "pattern": ID_PATTERN, "not": {"enum": list(inputs) + refused}}
        bodies["createTask.any-other-model"] = _body(other, _EXTRA_INPUT)
    return bodies


def _component(model: str, taken: Collection[str]) -> str:
    # a component's name is [A-Za-z0-9._-]+ (OpenAPI 3.1 §4.8.7.1); ids also hold "/"
    name = "createTask." + re.sub(r"[^A-Za-z0-9.-]", "_", model)
    return name if name not in taken else f"{name}.{len(taken)}"


def _create_task_body(config: MockConfig) -> Schema:
    # anyOf over references, not inline bodies: schemathesis' canonicaliser gives up on an
    # anyOf of ~75 inline objects and more, and cannot generate at all; the `model` consts
    # already exclude each other, so anyOf says what oneOf would
    return {"anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in schemas(config)]}


def _body(model: Schema, schema: Schema) -> Schema:
    return obj(
        {
            "model": model,
            "callBackUrl": CALLBACK,
            "progressCallBackUrl": CALLBACK,
            "input": schema,
        },
        ["model", "input"],
    )


MARKET_RECORD = strict(
    {
        "taskId": STRING,
        "model": STRING,
        "state": enum(("waiting", "queuing", "generating", "success", "fail")),
        "param": STRING,  # JSON in a string, its `input` itself a JSON string (§2.2 [OBS])
        "resultJson": STRING,  # "" while pending; a JSON string once succeeded
        "failCode": nullable(STRING),  # a string such as "500" (§2.2)
        "failMsg": nullable(STRING),
        "costTime": nullable(INT),  # seconds (§2.2)
        "completeTime": nullable(INT),
        "createTime": INT,
        "progress": integer(0, 100),  # Sora 2 only
    },
    required=[
        "taskId",
        "model",
        "state",
        "param",
        "resultJson",
        "failCode",
        "failMsg",
        "costTime",
        "completeTime",
        "createTime",
    ],
)


def paths(config: MockConfig) -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/jobs/createTask": {
            "post": kie(
                "Create a market task (any market model)",
                strict({"taskId": STRING, "recordId": STRING}),
                tag="market",
                body=_create_task_body(config),
                section="§2.1",
            )
        },
        "/api/v1/jobs/recordInfo": {
            "get": kie(
                "A market task's record",
                MARKET_RECORD,
                tag="market",
                query=TASK_QUERY,
                section="§2.2",
            )
        },
    }
