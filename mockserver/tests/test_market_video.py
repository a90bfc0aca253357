"""The market jobs API with the Kling 3.0 and Sora 2 models (kie-api.md §2.1–2.4, §7, §9;
guide §3.2–3.3): validation answered as KIE does, video results, and Sora's `progress`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

FROZEN = 1e-6  # time_scale: the mock clock moves only when the test moves it
CREATE = "/api/v1/jobs/createTask"
KLING = "kling-3.0/video"
MOTION = "kling-3.0/motion-control"
SORA = "sora-2-text-to-video"

# guide §3.2 and §3.3: the curl examples' bodies, unchanged (only the host differs)
GUIDE_KLING_BODY = {
    "model": "kling-3.0/video",
    "callBackUrl": "https://your-domain.com/api/callback",
    "input": {
        "prompt": "In a bright rehearsal room @element_dog",
        "image_urls": ["https://example.com/image.png"],
        "sound": True,
        "duration": "5",
        "aspect_ratio": "16:9",
        "mode": "pro",
        "multi_shots": False,
        "kling_elements": [
            {
                "name": "element_dog",
                "description": "A friendly golden retriever dog",
                "element_input_urls": ["https://example.com/dog1.jpeg"],
            }
        ],
    },
}
GUIDE_SORA_BODY = {
    "model": "sora-2-text-to-video",
    "callBackUrl": "https://your-domain.com/api/callback",
    "input": {
        "prompt": "A professor stands at the front of a lively classroom, writing on a whiteboard"
        " while students listen attentively",
        "aspect_ratio": "landscape",
        "n_frames": "10",
        "remove_watermark": True,
        "upload_method": "s3",
    },
}
KLING_SINGLE = {"prompt": "a fox", "sound": False, "mode": "std", "multi_shots": False}
SHOTS = [{"prompt": "a door opens", "duration": 4}, {"prompt": "a dog runs in", "duration": 6}]
KLING_MULTI = {"sound": True, "mode": "pro", "multi_shots": True, "multi_prompt": SHOTS}
MOTION_INPUT = {
    "input_urls": ["https://example.com/character.png"],
    "video_urls": ["https://example.com/dance.mp4"],
}
SCENES = [
    {"Scene": "a kitten at a table", "duration": 7.5},
    {"Scene": "it smiles", "duration": 7.5},
]
CLIP = ["https://example.com/clip.mp4"]
SORA_INPUTS: dict[str, dict[str, Any]] = {
    "sora-2-text-to-video": {"prompt": "a fox"},
    "sora-2-image-to-video": {"image_urls": ["https://example.com/a.png"], "prompt": ""},
    "sora-2-pro-text-to-video": {"prompt": "a fox", "size": "high"},
    "sora-2-pro-image-to-video": {"image_urls": ["https://example.com/a.png"], "size": "standard"},
    "sora-2-pro-storyboard": {"shots": SCENES, "n_frames": "15", "upload_method": "s3"},
    "sora-2-characters": {"character_file_url": CLIP, "character_prompt": "a cartoon fox"},
    "sora-2-characters-pro": {
        "origin_task_id": "7118f712c1f35c9b8bf2ad1af68ad482",
        "timestamps": "3.55,5.55",
        "character_user_name": "my_character_01",
        "character_prompt": "a friendly cartoon character",
    },
    "sora-watermark-remover": {"video_url": "https://sora.chatgpt.com/p/s_68e83bd7eee8"},
}


def answer(kie: Kie, body: dict[str, Any]) -> dict[str, Any]:
    reply = kie.post(CREATE, body)
    assert reply.status == 200  # KIE's errors are body codes (§1)
    return dict(reply.json())


# -- Kling ---------------------------------------------------------------------------------


def _with_element_images(body: dict[str, Any], *urls: str) -> dict[str, Any]:
    [element] = body["input"]["kling_elements"]
    elements = [element | {"element_input_urls": list(urls)}]
    return body | {"input": body["input"] | {"kling_elements": elements}}


def test_the_guide_kling_example_with_two_element_images_yields_an_mp4(
    mock: MockServer, kie: Kie
) -> None:
    dogs = ("https://example.com/dog1.jpeg", "https://example.com/dog2.jpeg")
    body = _with_element_images(GUIDE_KLING_BODY, *dogs)
    task_id = kie.ok(kie.post(CREATE, body))["taskId"]
    record = kie.record(task_id)
    assert record["state"] == "success"
    assert "progress" not in record  # Sora 2 only (§2.2)
    [url] = json.loads(record["resultJson"])["resultUrls"]
    assert url.endswith(".mp4")
    assert kie.fetch(url).body[4:8] == b"ftyp"
    assert json.loads(json.loads(record["param"])["input"]) == body["input"]
    (callback,) = mock.callbacks()
    assert callback.payload["data"]["model"] == KLING


def test_the_guide_kling_example_with_one_element_image_is_refused_before_it_is_paid_for(
    mock: MockServer, kie: Kie
) -> None:
    # §2.4: an element is shown by 2–4 images; the guide's example (§3.2) gives one
    reply = answer(kie, GUIDE_KLING_BODY)
    assert reply == {
        "code": 422,
        "msg": "kling_elements[0].element_input_urls must contain at least 2 items",
        "data": None,
    }
    assert mock.tasks() == []
    assert kie.ok(kie.get("/api/v1/chat/credit")) == 1000  # nothing was charged


@pytest.mark.parametrize("strict", [False, True])
def test_the_docs_page_spelling_kling_3_0_is_refused_as_kie_refuses_it(
    make_mock: MakeMock, strict: bool
) -> None:
    # §2.4 [SRC≠]: the page's examples say "kling-3.0"; the OpenAPI enum and real traffic say
    # "kling-3.0/video". Refused even by a mock that takes ids it does not know (the default).
    _, kie = make_mock(strict_models=strict)
    body = _with_element_images(GUIDE_KLING_BODY, "https://e.com/a.png", "https://e.com/b.png")
    sent = kie.post(CREATE, body | {"model": "kling-3.0"})
    assert sent.json() == {"code": 422, "msg": "model not supported", "data": None}


def test_left_out_multi_shots_and_mode_get_the_recorded_answers(kie: Kie) -> None:
    # §2.4 (N8N CHANGELOG 0.12.1 / 0.12.2): 422 first for multi_shots, then 500 for mode
    no_flags = {"prompt": "a fox", "duration": "5", "sound": True}
    reply = answer(kie, {"model": KLING, "input": no_flags})
    assert (reply["code"], reply["msg"]) == (422, "multi_shots cannot be empty")
    reply = answer(kie, {"model": KLING, "input": no_flags | {"multi_shots": False}})
    assert (reply["code"], reply["msg"]) == (500, "This field is required")
    reply = answer(kie, {"model": KLING, "input": KLING_SINGLE | {"sound": None}})
    assert (reply["code"], reply["msg"]) == (422, "sound cannot be empty")


@pytest.mark.parametrize(
    ("input_", "field"),
    [
        (KLING_MULTI | {"sound": False}, "sound"),
        (KLING_MULTI | {"multi_prompt": []}, "multi_prompt"),
        ({k: v for k, v in KLING_MULTI.items() if k != "multi_prompt"}, "multi_prompt"),
        (KLING_MULTI | {"multi_prompt": ["a shot"]}, "multi_prompt"),
        (
            KLING_MULTI | {"multi_prompt": [{"prompt": "x" * 501, "duration": 3}]},
            "multi_prompt[0].prompt",
        ),
        (
            KLING_MULTI | {"multi_prompt": [SHOTS[0], {"prompt": "x", "duration": 13}]},
            "multi_prompt[1].duration",
        ),
        (KLING_MULTI | {"multi_prompt": [{"prompt": "x"}]}, "multi_prompt[0].duration"),
        (
            KLING_MULTI | {"image_urls": ["https://e.com/a.png", "https://e.com/b.png"]},
            "image_urls",
        ),
        (KLING_SINGLE | {"prompt": ""}, "prompt"),
        (KLING_SINGLE | {"mode": "ultra"}, "mode"),
        (KLING_SINGLE | {"duration": "16"}, "duration"),
        (KLING_SINGLE | {"duration": "2"}, "duration"),
        (KLING_SINGLE | {"aspect_ratio": "4:3"}, "aspect_ratio"),
        (KLING_SINGLE | {"multi_shots": "no"}, "multi_shots"),
        (KLING_SINGLE | {"image_urls": [f"https://e.com/{i}.png" for i in range(3)]}, "image_urls"),
        (
            KLING_SINGLE | {"kling_elements": [{"name": "dog"}]},
            "kling_elements[0].element_input_urls",
        ),
        (
            KLING_SINGLE | {"kling_elements": [{"element_input_urls": ["https://e.com/a.png"]}]},
            "kling_elements[0].name",
        ),
        (
            KLING_SINGLE
            | {
                "kling_elements": [
                    {"name": "d", "element_input_urls": [f"https://e.com/{i}" for i in range(5)]}
                ]
            },
            "kling_elements[0].element_input_urls",
        ),
        (
            KLING_SINGLE
            | {
                "kling_elements": [
                    {
                        "name": "d",
                        "element_input_urls": ["https://e.com/a.png"],
                        "element_input_video_urls": ["https://e.com/a.mp4"],
                    }
                ]
            },
            "kling_elements[0].element_input_urls",
        ),
        (MOTION_INPUT | {"mode": "std"}, "mode"),
        (MOTION_INPUT | {"character_orientation": "front"}, "character_orientation"),
        (MOTION_INPUT | {"background_source": "green"}, "background_source"),
        ({"video_urls": MOTION_INPUT["video_urls"]}, "input_urls"),
        ({"input_urls": MOTION_INPUT["input_urls"]}, "video_urls"),
    ],
)
def test_kling_violations_are_422_naming_the_field(
    mock: MockServer, kie: Kie, input_: dict[str, Any], field: str
) -> None:
    model = MOTION if "input_urls" in input_ or "video_urls" in input_ else KLING
    reply = answer(kie, {"model": model, "input": input_})
    assert reply["code"] == 422, reply
    assert reply["msg"].startswith(field), reply
    assert mock.tasks() == []


@pytest.mark.parametrize(
    "input_",
    [
        KLING_SINGLE,
        KLING_MULTI,
        KLING_MULTI | {"image_urls": ["https://e.com/first.png"], "duration": "10"},
        KLING_SINGLE | {"mode": "4K", "duration": 15, "aspect_ratio": "9:16"},  # 4K: HAR
        KLING_SINGLE
        | {"kling_elements": [{"name": "d", "element_input_video_urls": ["https://e.com/d.mp4"]}]},
    ],
)
def test_valid_kling_inputs_are_accepted(kie: Kie, input_: dict[str, Any]) -> None:
    task_id = kie.create(KLING, **input_)
    assert json.loads(kie.record(task_id)["resultJson"])["resultUrls"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"mode": "1080p", "character_orientation": "image", "background_source": "input_video"},
        {"prompt": "dance", "mode": "720p", "character_orientation": "video"},
    ],
)
def test_motion_control_is_accepted(kie: Kie, options: dict[str, Any]) -> None:
    task_id = kie.create(MOTION, **(MOTION_INPUT | options))
    assert json.loads(kie.record(task_id)["resultJson"])["resultUrls"]


def test_the_fail_marker_works_in_a_shot_prompt(kie: Kie) -> None:
    shots = [SHOTS[0], {"prompt": "please [mock:fail]", "duration": 3}]
    task_id = kie.create(KLING, **(KLING_MULTI | {"multi_prompt": shots}))
    assert kie.record(task_id)["state"] == "fail"


# -- Sora 2 --------------------------------------------------------------------------------


def test_the_guide_sora_example_is_accepted(mock: MockServer, kie: Kie) -> None:
    task_id = kie.ok(kie.post(CREATE, GUIDE_SORA_BODY))["taskId"]
    record = kie.record(task_id)
    assert (record["state"], record["progress"]) == ("success", 100)
    [url] = json.loads(record["resultJson"])["resultUrls"]
    assert kie.fetch(url).body[4:8] == b"ftyp"
    (callback,) = mock.callbacks()
    assert callback.payload["data"]["progress"] == 100


def test_sora_progress_grows_across_polls(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=4)
    task_id = kie.create(SORA, prompt="a fox")
    records = [kie.record(task_id) for _ in range(6)]
    assert [r["progress"] for r in records] == [0, 25, 50, 75, 100, 100]
    assert [r["state"] for r in records] == [
        "waiting",
        "waiting",
        "waiting",
        "generating",
        "success",
        "success",
    ]
    assert all(isinstance(r["progress"], int) for r in records)


def test_sora_progress_grows_with_time(make_mock: MakeMock) -> None:
    # `kie run --mock` finishes tasks by time; progress then follows the clock
    mock, kie = make_mock(seconds_to_complete=60, time_scale=FROZEN)
    task_id = kie.create(SORA, prompt="a fox")
    first = kie.record(task_id)["progress"]
    mock.clock.advance(25)
    later = kie.record(task_id)["progress"]
    assert 0 <= first < later < 100


def test_polls_of_another_account_do_not_count(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=4)
    task_id = kie.create(SORA, prompt="a fox")
    other = kie.as_key("someone-else")
    for _ in range(3):
        assert other.get(f"/api/v1/jobs/recordInfo?taskId={task_id}").json()["code"] == 404
    assert kie.record(task_id)["progress"] == 0


def test_no_other_market_model_reports_progress(kie: Kie) -> None:
    for model, input_ in ((KLING, KLING_SINGLE), ("grok-imagine/text-to-image", {"prompt": "a"})):
        assert "progress" not in kie.record(kie.create(model, **input_))


def test_progress_callback_url_is_accepted_and_never_called(mock: MockServer, kie: Kie) -> None:
    # §2.3: no payload shape is documented for it; the completion callback is still sent
    body = GUIDE_SORA_BODY | {"progressCallBackUrl": "https://your-domain.com/progress"}
    task_id = kie.ok(kie.post(CREATE, body))["taskId"]
    assert kie.record(task_id)["state"] == "success"
    assert [c.url for c in mock.callbacks()] == ["https://your-domain.com/api/callback"]
    assert answer(kie, GUIDE_SORA_BODY | {"progressCallBackUrl": "nope"})["code"] == 422


@pytest.mark.parametrize("model", sorted(SORA_INPUTS))
def test_every_sora_model_is_emulated(kie: Kie, model: str) -> None:
    inputs = dict(SORA_INPUTS[model])
    if "origin_task_id" in inputs:  # a character is cut from a Sora video of the caller's
        inputs["origin_task_id"] = kie.create(SORA, **SORA_INPUTS[SORA])
    record = kie.record(kie.create(model, **inputs))
    assert (record["state"], record["progress"]) == ("success", 100)
    result = json.loads(record["resultJson"])
    if model.startswith("sora-2-characters"):
        # a character, not a file (KIE's Sora pages: "resultJson includes character_id")
        assert result["resultObject"]["character_id"].startswith("char_")
    else:
        [url] = result["resultUrls"]
        assert kie.fetch(url).body[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("model", "change", "field"),
    [
        (SORA, {"prompt": "x" * 10_001}, "prompt"),
        (SORA, {"prompt": ""}, "prompt"),
        (SORA, {"aspect_ratio": "16:9"}, "aspect_ratio"),
        (SORA, {"n_frames": "25"}, "n_frames"),
        (SORA, {"remove_watermark": "yes"}, "remove_watermark"),
        (SORA, {"upload_method": "gcs"}, "upload_method"),
        (SORA, {"character_id_list": "a,b"}, "character_id_list"),
        ("sora-2-pro-text-to-video", {"size": "4k"}, "size"),
        ("sora-2-image-to-video", {"image_urls": []}, "image_urls"),
        (
            "sora-2-image-to-video",
            {"image_urls": ["https://e.com/a.png", "https://e.com/b.png"]},
            "image_urls",
        ),
        ("sora-2-pro-storyboard", {"shots": []}, "shots"),
        ("sora-2-pro-storyboard", {"shots": SCENES + SCENES}, "shots"),
        ("sora-2-pro-storyboard", {"shots": [{"Scene": "a", "duration": 16}]}, "shots[0].duration"),
        ("sora-2-pro-storyboard", {"shots": [{"duration": 3}]}, "shots[0].Scene"),
        ("sora-2-pro-storyboard", {"shots": [{"Scene": "a", "duration": 1}] * 11}, "shots"),
        ("sora-2-pro-storyboard", {"n_frames": "20"}, "n_frames"),
        ("sora-2-characters", {"character_file_url": CLIP * 2}, "character_file_url"),
        ("sora-2-characters", {"character_prompt": "x" * 5001}, "character_prompt"),
        ("sora-2-characters-pro", {"timestamps": ""}, "timestamps"),
        ("sora-2-characters-pro", {"origin_task_id": ""}, "origin_task_id"),
        ("sora-2-characters-pro", {"character_user_name": "x" * 41}, "character_user_name"),
        ("sora-watermark-remover", {"video_url": "https://s.com/" + "x" * 490}, "video_url"),
        ("sora-watermark-remover", {"video_url": "sora.chatgpt.com/p/1"}, "video_url"),
    ],
)
def test_sora_violations_are_422_naming_the_field(
    mock: MockServer, kie: Kie, model: str, change: dict[str, Any], field: str
) -> None:
    reply = answer(kie, {"model": model, "input": SORA_INPUTS[model] | change})
    assert reply["code"] == 422, reply
    assert reply["msg"].startswith(field), reply
    assert mock.tasks() == []
