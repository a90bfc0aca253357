"""Kling 3.0: the provider contract, plus Kling's input rules and the wire facts users rely on.

Status payloads follow kie-api.md §2.2 (the recorded market shapes: `param` double-encoded,
pending records with resultJson "" and null fail fields) and the docs' failure example; inputs
follow §2.4 (Kling 3.0) and the guide §3.2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import kiekit
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kiekit import Client, MediaKind, Request, State, ValidationError
from kiekit.cli import main as kie_main
from kiekit.transport import HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_contract.strategies import prompt_text, web_urls
from kiekit_kling import Element, KlingProvider, MotionControl, Shot, Video
from kiekit_mock import MockServer

VIDEO = "kling-3.0/video"
MOTION = "kling-3.0/motion-control"
TASK = "5f488be792eafad4b066e21e5bc472c7"
CREATE = "/api/v1/jobs/createTask"

GUIDE_INPUT = {  # guide §3.2, the curl example's input
    "prompt": "In a bright rehearsal room @element_dog",
    "image_urls": ["https://example.com/image.png"],
    "sound": True,
    "duration": "5",
    "aspect_ratio": "16:9",
    "mode": "pro",
    "multi_shots": False,
}
PARAM = json.dumps({"input": json.dumps(GUIDE_INPUT, sort_keys=True), "model": VIDEO})
PENDING = {
    "taskId": TASK,
    "model": VIDEO,
    "state": "waiting",
    "param": PARAM,
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
    "costTime": None,
    "completeTime": None,
    "createTime": 1776323915587,
}
SUCCESS = PENDING | {
    "state": "success",
    "resultJson": json.dumps({"resultUrls": [f"https://tempfile.aiquickdraw.com/r/{TASK}.mp4"]}),
    "costTime": 127,
    "completeTime": 1776324042587,
}
FAIL = PENDING | {"state": "fail", "failCode": "422", "failMsg": "Invalid prompt: …"}


class TestKling(ProviderContract):
    provider = KlingProvider()
    documented_statuses = (
        (PENDING, State.QUEUED),
        (PENDING | {"state": "queuing"}, State.QUEUED),
        (PENDING | {"state": "generating"}, State.RUNNING),
        (SUCCESS, State.SUCCEEDED),
        (FAIL, State.FAILED),
    )
    # a single shot needs a prompt, which the field specs alone leave optional (multi-shot)
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        VIDEO: {"prompt": "a lighthouse at dawn"}
    }
    # the shots' own limits (1-12 s each), which a single-shot example never reaches; the
    # video's duration given, so the shots' total is no rule of its own
    entry_examples = (
        (
            VIDEO,
            {
                "multi_shots": True,
                "sound": True,
                "duration": "10",
                "multi_prompt": [{"prompt": "a dog runs", "duration": 5}],
            },
        ),
    )


PROVIDER = KlingProvider()
DOG: dict[str, Any] = {
    "name": "dog",
    "description": "a golden retriever",
    "element_input_urls": ["https://example.com/dog1.jpg", "https://example.com/dog2.jpg"],
}


def video_input(**fields: Any) -> dict[str, Any]:
    body: Any = PROVIDER.build_request(VIDEO, PROVIDER.make_input(VIDEO, fields)).body
    return dict(body["input"])


def refused(model: str = VIDEO, **fields: Any) -> str:
    """The field a ValidationError names for this input (and no request is sent)."""
    transport = MockTransport(lambda request: HttpResponse(500, b"no request expected"))
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(model, fields)
    assert transport.requests == []
    return caught.value.field


# -- always-sent fields --------------------------------------------------------------------


def test_single_shot_always_sends_sound_mode_multi_shots_ratio_and_duration() -> None:
    # KIE answers 422 "multi_shots cannot be empty" / 500 "This field is required" (mode)
    # when they are left out (§2.4); sound and aspect_ratio likewise (§10 COMFY)
    assert video_input(prompt="a fox") == {
        "prompt": "a fox",
        "sound": False,
        "mode": "std",
        "multi_shots": False,
        "aspect_ratio": "1:1",
        "duration": "5",
    }


def test_explicit_none_still_sends_the_defaults() -> None:
    sent = video_input(prompt="a fox", sound=None, mode=None, multi_shots=None)
    assert (sent["sound"], sent["mode"], sent["multi_shots"]) == (False, "std", False)


def test_the_guide_example_goes_on_the_wire_as_written_plus_nothing_missing() -> None:
    fields = GUIDE_INPUT | {"kling_elements": [DOG | {"name": "element_dog"}]}
    sent = video_input(**fields)
    assert sent == fields


@pytest.mark.parametrize("duration", [str(s) for s in range(3, 16)])
def test_every_duration_from_3_to_15_seconds_is_a_string(duration: str) -> None:
    assert video_input(prompt="a fox", duration=duration)["duration"] == duration


@pytest.mark.parametrize("duration", ["2", "16", 2, 16, 5.0, "5s", ""])
def test_other_durations_are_refused(duration: Any) -> None:
    assert refused(prompt="a fox", duration=duration) == "duration"


@pytest.mark.parametrize("duration", [5, 15, " 5 "])
def test_a_duration_as_a_number_is_sent_as_its_string(duration: Any) -> None:
    # KIE reads the number and its text as one (kie-api.md §2.2); "5" is the documented form
    assert video_input(prompt="a fox", duration=duration)["duration"] == str(duration).strip()


def test_duration_from_the_command_line_is_read_as_its_string() -> None:
    params = PROVIDER.make_input(VIDEO, {"prompt": "a", "duration": "10"}, from_text=True)
    assert isinstance(params, Video)
    assert params.duration == "10"


@pytest.mark.parametrize("mode", ["std", "pro", "4K"])
def test_modes_include_the_4k_seen_in_recorded_traffic(mode: str) -> None:
    assert video_input(prompt="a fox", mode=mode)["mode"] == mode


# -- multi-shot ----------------------------------------------------------------------------


SHOTS = [{"prompt": "a door opens", "duration": 4}, {"prompt": "a dog runs in", "duration": 6}]


def test_multi_shot_sends_the_shots_and_their_total_as_duration() -> None:
    sent = video_input(multi_shots=True, sound=True, multi_prompt=SHOTS)
    assert sent["multi_prompt"] == SHOTS
    assert sent["duration"] == "10"
    assert "prompt" not in sent


def test_shots_may_be_entry_objects_mappings_or_json_text() -> None:
    as_objects = [Shot(prompt="a door opens", duration=4), SHOTS[1]]
    from_text = PROVIDER.make_input(
        VIDEO,
        {"multi_shots": "true", "sound": "true", "multi_prompt": json.dumps(SHOTS)},
        from_text=True,
    )
    expected = PROVIDER.make_input(VIDEO, multi_shots=True, sound=True, multi_prompt=SHOTS)
    assert from_text == expected
    assert PROVIDER.make_input(VIDEO, multi_shots=True, sound=True, multi_prompt=as_objects) == (
        expected
    )


def test_an_explicit_duration_wins_over_the_total() -> None:
    sent = video_input(multi_shots=True, sound=True, multi_prompt=SHOTS, duration="12")
    assert sent["duration"] == "12"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"multi_shots": True, "sound": True}, "multi_prompt"),
        ({"multi_shots": True, "multi_prompt": SHOTS}, "sound"),
        ({"multi_shots": True, "sound": False, "multi_prompt": SHOTS}, "sound"),
        ({"prompt": "a", "multi_prompt": SHOTS}, "multi_prompt"),  # needs multi_shots
        ({"multi_shots": True, "sound": True, "multi_prompt": []}, "multi_prompt"),
        ({"multi_shots": True, "sound": True, "multi_prompt": "not json"}, "multi_prompt"),
        ({"multi_shots": True, "sound": True, "multi_prompt": ["a shot"]}, "multi_prompt[0]"),
        (
            {
                "multi_shots": True,
                "sound": True,
                "multi_prompt": [{"prompt": "x" * 501, "duration": 3}],
            },
            "multi_prompt[0].prompt",
        ),
        (
            {
                "multi_shots": True,
                "sound": True,
                "multi_prompt": [*SHOTS, {"prompt": "x", "duration": 0}],
            },
            "multi_prompt[2].duration",
        ),
        (
            {"multi_shots": True, "sound": True, "multi_prompt": [{"prompt": "x", "duration": 13}]},
            "multi_prompt[0].duration",
        ),
        (
            {"multi_shots": True, "sound": True, "multi_prompt": [{"prompt": " ", "duration": 3}]},
            "multi_prompt[0].prompt",
        ),
        (
            {"multi_shots": True, "sound": True, "multi_prompt": [{"prompt": "x"}]},
            "multi_prompt[0].duration",
        ),
        (  # a multi-shot video takes a first frame only
            {
                "multi_shots": True,
                "sound": True,
                "multi_prompt": SHOTS,
                "image_urls": ["https://example.com/a.png", "https://example.com/b.png"],
            },
            "image_urls",
        ),
        (  # 12 + 12 s cannot be one 3–15 s video
            {
                "multi_shots": True,
                "sound": True,
                "multi_prompt": [{"prompt": "a", "duration": 12}, {"prompt": "b", "duration": 12}],
            },
            "multi_prompt",
        ),
        ({"multi_shots": False}, "prompt"),  # a single shot needs a prompt
        ({"prompt": "   "}, "prompt"),
    ],
)
def test_multi_shot_rules(fields: dict[str, Any], field: str) -> None:
    assert refused(**fields) == field


def test_multi_shot_with_one_first_frame_and_a_prompt_is_accepted() -> None:
    sent = video_input(
        multi_shots=True,
        sound=True,
        multi_prompt=SHOTS,
        prompt="a story in two shots",
        image_urls=["https://example.com/first.png"],
    )
    assert sent["image_urls"] == ["https://example.com/first.png"]


# -- elements and @name references ---------------------------------------------------------


def test_an_undefined_reference_names_prompt() -> None:
    assert refused(prompt="@cat plays") == "prompt"
    assert refused(prompt="@cat plays with @dog", kling_elements=[DOG]) == "prompt"


def test_a_defined_reference_is_accepted_and_elements_go_as_objects() -> None:
    sent = video_input(prompt="@dog plays", kling_elements=[Element(**DOG)])
    assert sent["kling_elements"] == [DOG]


def test_an_email_address_is_not_a_reference() -> None:
    assert video_input(prompt="write to a@b.com")["prompt"] == "write to a@b.com"


def test_shot_prompts_are_checked_for_references_too() -> None:
    shots = [SHOTS[0], {"prompt": "then @cat", "duration": 4}]
    assert refused(multi_shots=True, sound=True, multi_prompt=shots) == "multi_prompt[1].prompt"
    with_cat = [DOG | {"name": "cat"}]
    assert video_input(multi_shots=True, sound=True, multi_prompt=shots, kling_elements=with_cat)


VIDEO_ELEMENT = {"name": "dog", "element_input_video_urls": ["https://example.com/dog.mp4"]}


@pytest.mark.parametrize(
    ("element", "field"),
    [
        (DOG | {"element_input_urls": ["https://example.com/1.jpg"]}, "element_input_urls"),
        (
            DOG | {"element_input_urls": [f"https://example.com/{i}.jpg" for i in range(5)]},
            "element_input_urls",
        ),
        (DOG | {"element_input_video_urls": ["https://example.com/d.mp4"]}, "element_input_urls"),
        ({"name": "dog", "description": "no media"}, "element_input_urls"),
        (
            VIDEO_ELEMENT
            | {"element_input_video_urls": ["https://e.com/a.mp4", "https://e.com/b.mp4"]},
            "element_input_video_urls",
        ),
        (DOG | {"name": "big dog"}, "name"),
        (DOG | {"name": ""}, "name"),
        (DOG | {"colour": "gold"}, "colour"),
    ],
)
def test_element_rules_name_kling_elements(element: dict[str, Any], field: str) -> None:
    assert refused(prompt="a fox", kling_elements=[element]) == f"kling_elements[0].{field}"


def test_one_video_element_is_accepted() -> None:
    assert video_input(prompt="@dog", kling_elements=[VIDEO_ELEMENT])["kling_elements"] == [
        VIDEO_ELEMENT
    ]


def test_an_element_defined_twice_is_refused() -> None:
    assert refused(prompt="@dog", kling_elements=[DOG, DOG]) == "kling_elements[1].name"


# -- motion control ------------------------------------------------------------------------


MOTION_FIELDS: dict[str, Any] = {
    "input_urls": ["https://example.com/character.png"],
    "video_urls": ["https://example.com/dance.mp4"],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mode", "720p"),
        ("mode", "1080p"),
        ("character_orientation", "video"),
        ("character_orientation", "image"),
        ("background_source", "input_video"),
        ("background_source", "input_image"),
    ],
)
def test_motion_control_enums(field: str, value: str) -> None:
    body: Any = PROVIDER.build_request(
        MOTION, PROVIDER.make_input(MOTION, MOTION_FIELDS | {field: value})
    ).body
    assert body["input"][field] == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mode", "std"),
        ("mode", "4K"),
        ("character_orientation", "front"),
        ("background_source", "video"),
        ("input_urls", ["https://example.com/a.png", "https://example.com/b.png"]),
        ("video_urls", []),
    ],
)
def test_motion_control_refuses_other_values(field: str, value: Any) -> None:
    assert refused(MOTION, **(MOTION_FIELDS | {field: value})) == field


def test_motion_control_always_sends_a_mode() -> None:
    params = MotionControl(**MOTION_FIELDS)
    body: Any = PROVIDER.build_request(MOTION, params).body
    assert body == {"model": MOTION, "input": MOTION_FIELDS | {"mode": "720p"}}


# -- the wire and the mock -----------------------------------------------------------------


def test_status_is_polled_at_record_info_not_the_guides_docs_page() -> None:
    # guide §3.2 polls /market/common/get-task-detail: a docs page slug (kie-api.md §9.1)
    assert PROVIDER.status_request(TASK) == Request(
        "GET", "/api/v1/jobs/recordInfo", query={"taskId": TASK}
    )


def test_callback_url_is_top_level() -> None:
    request = PROVIDER.build_request(VIDEO, Video(prompt="a"), callback_url="https://me.example/cb")
    assert request.body is not None
    assert list(request.body) == ["model", "callBackUrl", "input"]


def test_multi_shot_with_elements_end_to_end(
    kie_client: Client, kie_mock: MockServer, tmp_path: Path
) -> None:
    shots = [{"prompt": "@dog sits", "duration": 5}, {"prompt": "@dog jumps", "duration": 5}]
    task = kie_client.submit(
        VIDEO,
        multi_shots=True,
        sound=True,
        multi_prompt=shots,
        kling_elements=[DOG],
        image_urls=["https://example.com/first.png"],
    )
    results = kie_client.wait(task)
    [path] = kie_client.download(results, tmp_path)
    assert [a.kind for a in results.assets] == [MediaKind.VIDEO]
    assert path.read_bytes()[4:8] == b"ftyp"
    [sent] = [r.body for r in kie_mock.requests() if r.path == CREATE]
    assert sent is not None
    assert sent["input"]["multi_prompt"] == shots
    assert sent["input"]["duration"] == "10"


def _shots() -> st.SearchStrategy[list[dict[str, Any]]]:
    no_reference = prompt_text(max_size=40).filter(lambda text: "@" not in text)
    shot = st.fixed_dictionaries({"prompt": no_reference, "duration": st.integers(1, 5)})
    return st.lists(shot, min_size=1, max_size=3)


def _elements() -> st.SearchStrategy[list[dict[str, Any]]]:
    images = {"element_input_urls": st.lists(web_urls(), min_size=2, max_size=4)}
    video = {"element_input_video_urls": st.lists(web_urls(), min_size=1, max_size=1)}
    media = st.one_of(st.fixed_dictionaries(images), st.fixed_dictionaries(video))
    names = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), max_size=3, unique=True)

    def named(name: str) -> st.SearchStrategy[dict[str, Any]]:
        return media.map(lambda m: {"name": name, **m})

    return names.flatmap(lambda ns: st.tuples(*[named(n) for n in ns]).map(list))


@settings(max_examples=25, deadline=None)
@given(shots=_shots(), elements=_elements(), image=st.lists(web_urls(), max_size=1))
def test_any_valid_multi_shot_input_is_accepted_by_the_mock(
    kie_mock_session: MockServer,
    shots: list[dict[str, Any]],
    elements: list[dict[str, Any]],
    image: list[str],
) -> None:
    # the contract suite draws multi_prompt and kling_elements from their entries' specs, but
    # its prompts seldom name an element: this property adds @name references to the lists
    if elements:
        shots[0] = shots[0] | {"prompt": f"{shots[0]['prompt']} @{elements[0]['name']}"}
    fields: dict[str, Any] = {"multi_shots": True, "sound": True, "multi_prompt": shots}
    if elements:
        fields["kling_elements"] = elements
    if image:
        fields["image_urls"] = image
    if sum(s["duration"] for s in shots) < 3:
        fields["duration"] = "3"
    with client_for(kie_mock_session.base_url) as kie:
        task = kie.submit(VIDEO, fields)
    assert {t.task_id: t.model for t in kie_mock_session.tasks()}[task.id] == VIDEO


def test_kie_run_multi_shot_on_the_mock_downloads_an_mp4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", VIDEO, "--mock", "--mock-seconds", "0", "--out", str(tmp_path)]
    shots = json.dumps(SHOTS)
    options = ["multi_shots=true", "sound=true", f"multi_prompt={shots}", "mode=pro"]
    assert kie_main([*argv, *(x for o in options for x in ("--input", o))]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert Path(line).read_bytes()[4:8] == b"ftyp"


README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda s: s.splitlines()[-1].strip()[:40])
def test_readme_examples_run_against_the_mock(
    source: str, kie_mock: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `Client()` in the README reads KIE_API_KEY and talks to api.kie.ai; here it is the mock
    monkeypatch.setattr(kiekit, "Client", lambda *a, **k: client_for(kie_mock.base_url))
    monkeypatch.chdir(tmp_path)
    exec(compile(source, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    written = list((tmp_path / "out").iterdir())
    assert [path.suffix for path in written] == [".mp4"]


def test_an_empty_multi_prompt_with_a_single_shot_is_sent_as_given() -> None:
    """KIE's schema lists multi_prompt as required, so single-shot clients send [] (kie-api.md
    §2.4): a user who does the same is not refused; a multi-shot still needs a shot."""
    provider = KlingProvider()
    single = provider.make_input(VIDEO, {"prompt": "a fox", "multi_prompt": []})
    body = provider.build_request(VIDEO, single).body
    assert body is not None
    assert body["input"]["multi_prompt"] == []
    with pytest.raises(ValidationError, match="multi_prompt: needs at least 1 shot"):
        provider.make_input(VIDEO, {"multi_shots": True, "sound": True, "multi_prompt": []})
