"""One rule for "" — Go's zero value of a string sent without `omitempty` — in every family
(mockserver/README.md, "Empty strings"; kiekit_mock/families/validation.py): a field that
constrains its value (an option, a URL, a model) given as "" is KIE's 422 "<field> cannot be
empty", as KIE answered Grok's `aspect_ratio: ""` (kie-api.md §10), optional or required;
free text "" is none, and `callBackUrl: ""` is no callback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Kie

RUNWAY = {"prompt": "z", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/runway/generate", RUNWAY | {"imageUrl": ""}, "imageUrl"),
        ("/api/v1/runway/generate", RUNWAY | {"aspectRatio": ""}, "aspectRatio"),
        ("/api/v1/flux/kontext/generate", {"prompt": "z", "inputImage": ""}, "inputImage"),
        ("/api/v1/flux/kontext/generate", {"prompt": "z", "aspectRatio": ""}, "aspectRatio"),
        ("/api/v1/gpt4o-image/generate", {"prompt": "z", "size": "1:1", "maskUrl": ""}, "maskUrl"),
        ("/api/v1/veo/generate", {"prompt": "z", "model": ""}, "model"),
        ("/api/v1/veo/generate", {"prompt": "z", "aspect_ratio": ""}, "aspect_ratio"),
        (
            "/api/v1/jobs/createTask",
            {"model": "grok-imagine/text-to-image", "input": {"prompt": "z", "aspect_ratio": ""}},
            "aspect_ratio",
        ),
        ("/api/v1/veo/generate", {"prompt": ""}, "prompt"),
    ],
)
def test_an_empty_string_of_a_constrained_field_is_refused_naming_it(
    kie: Kie, path: str, body: dict[str, Any], field: str
) -> None:
    answer = kie.post(path, body | {"callBackUrl": ""}).json()
    assert (answer["code"], answer["msg"]) == (422, f"{field} cannot be empty")


def test_empty_free_text_and_an_empty_callback_are_none(kie: Kie) -> None:
    body = RUNWAY | {"waterMark": "", "callBackUrl": ""}  # waterMark "" = none (§3.4)
    answer = kie.post("/api/v1/runway/generate", body).json()
    assert answer["code"] == 200, answer
    task = kie.get(f"/_mock/tasks/{answer['data']['taskId']}").json()["task"]
    assert task["callback_url"] is None
