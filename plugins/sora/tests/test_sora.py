"""Sora 2: the provider contract, plus progress, the top-level progressCallBackUrl, the
once-per-process availability notice, and each model's inputs.

Status payloads follow kie-api.md §2.2: the recorded market shapes, plus `progress` (0–100),
which only Sora 2 reports; inputs follow §2.4 and, where it is silent, public copies of KIE's
Sora pages (see the provider's docstring).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import kiekit
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kiekit import (
    AsyncClient,
    Client,
    MediaKind,
    ProtocolError,
    Request,
    State,
    TaskFailedError,
    TaskStatus,
    UnprocessableError,
    ValidationError,
)
from kiekit.cli import main as kie_main
from kiekit.models import Model
from kiekit.plugin import Input
from kiekit.registry import Registry
from kiekit.transport import HttpResponse, MockTransport
from kiekit_contract import ProviderContract, client_for
from kiekit_contract.strategies import prompt_text, web_urls
from kiekit_mock import MockConfig, MockServer
from kiekit_sora import Scene, SoraProvider, Storyboard, TextToVideo
from kiekit_sora.provider import PAUSED_NOTICE, announce_pause

T2V = "sora-2-text-to-video"
I2V = "sora-2-image-to-video"
PRO_T2V = "sora-2-pro-text-to-video"
PRO_I2V = "sora-2-pro-image-to-video"
STORYBOARD = "sora-2-pro-storyboard"
CHARACTERS = "sora-2-characters"
CHARACTERS_PRO = "sora-2-characters-pro"
WATERMARK = "sora-watermark-remover"
EIGHT = (T2V, I2V, PRO_T2V, PRO_I2V, STORYBOARD, CHARACTERS, CHARACTERS_PRO, WATERMARK)
TASK = "9c1b0a57e3d54f0e8a9b2c3d4e5f6a7b"
CREATE = "/api/v1/jobs/createTask"

GUIDE_INPUT = {  # guide §3.3, the curl example's input
    "prompt": "A professor stands at the front of a lively classroom, writing on a whiteboard"
    " while students listen attentively",
    "aspect_ratio": "landscape",
    "n_frames": "10",
    "remove_watermark": True,
    "upload_method": "s3",
}
PENDING = {
    "taskId": TASK,
    "model": T2V,
    "state": "waiting",
    "param": json.dumps({"input": json.dumps(GUIDE_INPUT, sort_keys=True), "model": T2V}),
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
    "costTime": None,
    "completeTime": None,
    "createTime": 1776323915587,
    "progress": 0,  # §2.2: "progress (0-100, only sora2 / sora2 pro)"
}
GENERATING = PENDING | {"state": "generating", "progress": 45}
SUCCESS = PENDING | {
    "state": "success",
    "progress": 100,
    "resultJson": json.dumps({"resultUrls": [f"https://tempfile.aiquickdraw.com/r/{TASK}.mp4"]}),
    "costTime": 180,
    "completeTime": 1776324095587,
}
FAIL = PENDING | {"state": "fail", "failCode": "422", "failMsg": "Invalid prompt: …"}
SHOTS = [
    {"Scene": "a kitten at a cozy table", "duration": 7.5},
    {"Scene": "it smiles", "duration": 7.5},
]
EXAMPLES: dict[str, dict[str, Any]] = {
    STORYBOARD: {"shots": SHOTS, "image_urls": ["https://example.com/kitten.png"]},
    CHARACTERS_PRO: {
        "origin_task_id": "7118f712c1f35c9b8bf2ad1af68ad482",
        "timestamps": "3.55,5.55",
        "character_prompt": "a friendly cartoon character",
    },
}


class TestSora(ProviderContract):
    provider = SoraProvider()
    documented_statuses = (
        (PENDING, State.QUEUED),
        (PENDING | {"state": "queuing", "progress": 5}, State.QUEUED),
        (GENERATING, State.RUNNING, 0.45),  # progress 45 of 0-100 (§2.2)
        (SUCCESS, State.SUCCEEDED),
        (FAIL, State.FAILED),
    )
    # spec-drawn inputs cannot hold "start,end" timestamps (storyboard shots they can: the kit
    # draws them from Scene's own specs)
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        CHARACTERS_PRO: EXAMPLES[CHARACTERS_PRO]
    }

    mock: MockServer

    @pytest.fixture(autouse=True)
    def _session_mock(self, kie_mock_session: MockServer) -> None:
        self.mock = kie_mock_session

    def example_input(self, model: Model) -> Input:
        """A character is cut from a Sora video the mock made (it fails one of no such task):
        the end-to-end tests make one first."""
        if model.id != CHARACTERS_PRO:
            return super().example_input(model)
        with client_for(self.mock.base_url, registry=self.contract_registry()) as kie:
            video = kie.submit("sora-2-text-to-video", prompt="a kitten")
            kie.wait(video)
        fields = EXAMPLES[CHARACTERS_PRO] | {"origin_task_id": video.id}
        return self.provider.make_input(model.id, fields)


PROVIDER = SoraProvider()


def body_of(model: str, callback_url: str | None = None, **fields: Any) -> dict[str, Any]:
    params = PROVIDER.make_input(model, fields)
    body: Any = PROVIDER.build_request(model, params, callback_url=callback_url).body
    return dict(body)


def body_from_text(model: str, **fields: str) -> dict[str, Any]:
    """The body for ``fields`` given as on the command line (``--input name=value``)."""
    params = PROVIDER.make_input(model, fields, from_text=True)
    body: Any = PROVIDER.build_request(model, params).body
    return dict(body)


def refused(model: str, **fields: Any) -> str:
    """The field a ValidationError names for this input (and no request is sent)."""
    transport = MockTransport(lambda request: HttpResponse(500, b"no request expected"))
    kie = client_for("http://127.0.0.1:9", transport=transport)
    with kie, pytest.raises(ValidationError) as caught:
        kie.submit(model, fields)
    assert transport.requests == []
    return caught.value.field


def test_the_eight_model_ids() -> None:
    assert tuple(m.id for m in PROVIDER.models) == EIGHT
    registry = Registry()
    assert {type(registry.provider(model)) for model in EIGHT} == {SoraProvider}


# -- progress ------------------------------------------------------------------------------


def test_market_progress_0_to_100_reads_as_0_to_1() -> None:
    assert PROVIDER.parse_status(TASK, GENERATING).progress == pytest.approx(0.45)
    assert PROVIDER.parse_status(TASK, PENDING).progress == 0.0
    assert PROVIDER.parse_status(TASK, SUCCESS).progress == 1.0


@pytest.fixture
def kie_mock_config() -> MockConfig:
    return MockConfig(polls_to_complete=4)


def _seen_progress(seen: list[TaskStatus]) -> list[float | None]:
    assert [s.state for s in seen][-1] is State.SUCCEEDED
    return [s.progress for s in seen]


def test_progress_grows_through_wait_on_the_mock(kie_client: Client) -> None:
    seen: list[TaskStatus] = []
    kie_client.wait(kie_client.submit(T2V, prompt="a fox"), on_status=seen.append)
    progress = _seen_progress(seen)
    assert progress == [0.0, 0.25, 0.5, 0.75, 1.0]  # four pending polls, then done


def test_progress_grows_through_the_async_wait_too(
    kie_async_client: Callable[[], AsyncClient],
) -> None:
    seen: list[TaskStatus] = []

    async def main() -> None:
        async with kie_async_client() as kie:
            task = await kie.submit(PRO_I2V, image_urls=["https://example.com/a.png"])
            await kie.wait(task, on_status=seen.append)

    asyncio.run(main())
    progress = _seen_progress(seen)
    values = [p for p in progress if p is not None]
    assert values == progress
    assert all(0 <= p <= 1 for p in values)
    assert values == sorted(values)
    assert any(0 < p < 1 for p in progress if p is not None)


# -- progressCallBackUrl -------------------------------------------------------------------


def test_progress_callback_url_is_a_top_level_field() -> None:
    body = body_of(
        T2V, "https://me.example/done", prompt="a fox", progress_callback_url="https://me.example/p"
    )
    assert body == {
        "model": T2V,
        "callBackUrl": "https://me.example/done",
        "progressCallBackUrl": "https://me.example/p",
        "input": {"prompt": "a fox"},
    }


def test_without_progress_callback_url_the_body_is_the_market_one() -> None:
    assert body_of(T2V, prompt="a fox") == {"model": T2V, "input": {"prompt": "a fox"}}


def test_kie_wire_name_is_accepted_as_the_field_name() -> None:
    params = PROVIDER.make_input(T2V, {"prompt": "a", "progressCallBackUrl": "https://me/p"})
    assert isinstance(params, TextToVideo)
    assert params.progress_callback_url == "https://me/p"


def test_the_mock_accepts_progress_callback_url_top_level(
    kie_client: Client, kie_mock: MockServer
) -> None:
    task = kie_client.submit(
        I2V, image_urls=["https://example.com/a.png"], progress_callback_url="https://me.example/p"
    )
    assert kie_client.wait(task).assets
    [sent] = [r.body for r in kie_mock.requests() if r.path == CREATE]
    assert sent is not None
    assert sent["progressCallBackUrl"] == "https://me.example/p"
    assert "progressCallBackUrl" not in sent["input"]


def test_a_bad_progress_callback_url_is_refused() -> None:
    assert refused(T2V, prompt="a", progress_callback_url="not a url") == "progress_callback_url"
    assert refused(T2V, prompt="a", progress_callback_url=" https://me/p") == (
        "progress_callback_url"
    )


def test_an_empty_progress_callback_url_is_none() -> None:
    # "" is no callback, as KIE (and the mock) read "" for callBackUrl (kie-api.md §2.1)
    assert body_of(T2V, prompt="a fox", progress_callback_url="") == body_of(T2V, prompt="a fox")


# -- the availability notice ---------------------------------------------------------------


def test_the_paused_notice_is_logged_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    announce_pause.cache_clear()  # as if this were the process's first Sora request
    with caplog.at_level(logging.WARNING, logger="kiekit.sora"):
        for model, fields in ((T2V, {"prompt": "a"}), (STORYBOARD, EXAMPLES[STORYBOARD])):
            body_of(model, **fields)
            body_of(model, **fields)
    notices = [r for r in caplog.records if r.name == "kiekit.sora"]
    assert [(r.levelno, r.getMessage()) for r in notices] == [(logging.WARNING, PAUSED_NOTICE)]
    assert "paused" in PAUSED_NOTICE
    assert "2026-09-24" in PAUSED_NOTICE


def test_no_notice_before_a_request_is_built(caplog: pytest.LogCaptureFixture) -> None:
    announce_pause.cache_clear()
    with caplog.at_level(logging.WARNING, logger="kiekit.sora"):
        PROVIDER.make_input(T2V, prompt="a")
        PROVIDER.parse_status(TASK, PENDING)
    assert not [r for r in caplog.records if r.name == "kiekit.sora"]


# -- inputs --------------------------------------------------------------------------------


def test_the_guide_example_goes_on_the_wire_unchanged() -> None:
    body = body_of(T2V, "https://your-domain.com/api/callback", **GUIDE_INPUT)
    assert body == {
        "model": T2V,
        "callBackUrl": "https://your-domain.com/api/callback",
        "input": GUIDE_INPUT,
    }


def test_a_prompt_of_10000_characters_is_accepted_by_the_mock(kie_client: Client) -> None:
    # §2.4 [SRC≠]: 5000 in one copy of the page, 10000 in others; the larger is accepted
    assert kie_client.wait(kie_client.submit(T2V, prompt="x" * 10_000)).assets


@pytest.mark.parametrize("model", [T2V, PRO_T2V, I2V])
def test_a_longer_prompt_is_refused(model: str) -> None:
    images = {"image_urls": ["https://example.com/a.png"]} if model == I2V else {}
    assert refused(model, prompt="x" * 10_001, **images) == "prompt"


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (T2V, "aspect_ratio", "16:9"),
        (T2V, "n_frames", "25"),
        (T2V, "n_frames", 10),
        (T2V, "upload_method", "gcs"),
        (T2V, "size", "high"),  # pro only
        (PRO_T2V, "size", "4k"),
        (T2V, "remove_watermark", "yes"),
    ],
)
def test_enums_and_fields_per_model(model: str, field: str, value: Any) -> None:
    assert refused(model, prompt="a fox", **{field: value}) == field


def test_pro_models_take_size() -> None:
    assert body_of(PRO_T2V, prompt="a", size="high")["input"] == {"prompt": "a", "size": "high"}


@pytest.mark.parametrize("model", [I2V, PRO_I2V])
def test_image_to_video_takes_one_image_and_an_empty_prompt(model: str) -> None:
    image = ["https://example.com/a.png"]
    assert body_of(model, image_urls=image, prompt="")["input"] == {
        "image_urls": image,
        "prompt": "",
    }
    assert refused(model) == "image_urls"
    assert refused(model, image_urls=[*image, "https://example.com/b.png"]) == "image_urls"


def test_character_ids_go_as_a_list() -> None:
    ids = ["char_a", "char_b"]
    assert body_of(T2V, prompt="a", character_id_list=ids)["input"]["character_id_list"] == ids
    assert body_of(T2V, prompt="a", character_id_list=tuple(ids))["input"] == {
        "prompt": "a",
        "character_id_list": ids,
    }


@pytest.mark.parametrize("ids", ["char_a, char_b", '["char_a", "char_b"]', " char_a ,, char_b "])
def test_character_ids_from_the_command_line_go_as_a_list(ids: str) -> None:
    sent = body_from_text(T2V, prompt="a", character_id_list=ids)["input"]
    assert sent["character_id_list"] == ["char_a", "char_b"]


@pytest.mark.parametrize("ids", [" , ", ""])
def test_blank_character_ids_are_left_out(ids: str) -> None:
    assert body_from_text(T2V, prompt="a", character_id_list=ids)["input"] == {"prompt": "a"}
    assert body_of(T2V, prompt="a", character_id_list=[])["input"] == {"prompt": "a"}


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        ("char_a,char_b", "character_id_list"),  # one string: only the command line splits it
        (["char_a", " "], "character_id_list[1]"),
        (["char_a", 7], "character_id_list[1]"),
        ([f"char_{i}" for i in range(6)], "character_id_list"),  # Sora pages: at most 5
    ],
)
def test_bad_character_ids_are_refused(ids: Any, field: str) -> None:
    assert refused(T2V, prompt="a", character_id_list=ids) == field


def test_storyboard_sends_its_shots_with_kie_spelling() -> None:
    body = body_of(STORYBOARD, **EXAMPLES[STORYBOARD], n_frames="15")
    assert body["input"] == {
        "shots": SHOTS,
        "n_frames": "15",
        "image_urls": ["https://example.com/kitten.png"],
    }
    as_objects = Storyboard(shots=[Scene(scene="a", duration=5), {"scene": "b", "duration": 5}])
    assert as_objects.shots == (Scene(scene="a", duration=5), Scene(scene="b", duration=5))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "shots"),
        ({"shots": []}, "shots"),
        ({"shots": "   "}, "shots"),
        ({"shots": "[not json"}, "shots"),
        ({"shots": 3}, "shots"),
        ({"shots": SHOTS + SHOTS}, "shots"),  # 30 s > the default 15
        ({"shots": SHOTS, "n_frames": "10"}, "shots"),
        ({"shots": [{"Scene": "a", "duration": 16}]}, "shots[0].duration"),
        ({"shots": [{"Scene": "a", "duration": 0}]}, "shots[0].duration"),
        ({"shots": [{"Scene": "", "duration": 3}]}, "shots[0].scene"),
        ({"shots": [{"Scene": "a", "duration": 1}] * 11, "n_frames": "25"}, "shots"),
        ({"shots": SHOTS, "n_frames": "20"}, "n_frames"),
    ],
)
def test_storyboard_rules(fields: dict[str, Any], field: str) -> None:
    assert refused(STORYBOARD, **fields) == field


@pytest.mark.parametrize(("frames", "seconds"), [(None, 15.0), ("10", 10.0), ("15", 15.0)])
def test_storyboard_plain_text_is_one_scene_lasting_the_video(
    frames: str | None, seconds: float
) -> None:
    fields = {"shots": " a kitten plays the piano "} | ({"n_frames": frames} if frames else {})
    sent = body_of(STORYBOARD, **fields)["input"]
    assert sent["shots"] == [{"Scene": "a kitten plays the piano", "duration": seconds}]
    assert body_from_text(STORYBOARD, **fields)["input"] == sent  # --input shots="a kitten …"
    params = PROVIDER.make_input(STORYBOARD, fields)
    assert isinstance(params, Storyboard)
    assert params.shots == (Scene(scene="a kitten plays the piano", duration=seconds),)


def test_storyboard_plain_text_cannot_last_25_seconds() -> None:
    # one shot lasts at most 15 s (Sora pages)
    assert refused(STORYBOARD, shots="a kitten", n_frames="25") == "shots"


def test_storyboard_of_25_seconds() -> None:
    shots = [{"Scene": "a", "duration": 12.5}, {"Scene": "b", "duration": 12.5}]
    assert body_of(STORYBOARD, shots=shots, n_frames="25")["input"]["shots"] == shots


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timestamps": " "}, "timestamps"),
        ({"character_user_name": "x" * 41}, "character_user_name"),
        ({"character_prompt": ""}, "character_prompt"),
        ({"origin_task_id": " "}, "origin_task_id"),
    ],
)
def test_characters_pro_rules(fields: dict[str, Any], field: str) -> None:
    assert refused(CHARACTERS_PRO, **(EXAMPLES[CHARACTERS_PRO] | fields)) == field


def test_characters_pro_timestamps_are_sent_as_given() -> None:
    fields = EXAMPLES[CHARACTERS_PRO] | {"timestamps": "3.55, 5.55"}
    assert body_of(CHARACTERS_PRO, **fields)["input"] == fields


@pytest.mark.parametrize("timestamps", ["1,9", "2,2.5", "-1,1", "3", "a,b", "1,2,3", "5,1"])
def test_characters_pro_timestamps_must_be_a_clip_of_1_to_4_seconds(timestamps: str) -> None:
    """KIE's page: "start,end" seconds, 1–4 s apart. A character is paid for: a clip KIE would
    refuse is refused here, naming the field (QA mjrunway, 5)."""
    assert refused(CHARACTERS_PRO, **(EXAMPLES[CHARACTERS_PRO] | {"timestamps": timestamps})) == (
        "timestamps"
    )


def test_the_mock_refuses_a_clip_out_of_range_and_fails_a_character_of_no_sora_video(
    kie_mock: MockServer,
) -> None:
    """The mock as KIE per its page: a clip out of 1–4 s refused (422, no task, no charge); an
    ``origin_task_id`` that is no Sora video of the caller's taken, then failed (QA mjrunway, 5)."""
    with client_for(kie_mock.base_url) as kie:
        with pytest.raises(UnprocessableError, match="timestamps"):
            kie.call(
                Request(
                    "POST",
                    "/api/v1/jobs/createTask",
                    body={
                        "model": CHARACTERS_PRO,
                        "input": EXAMPLES[CHARACTERS_PRO] | {"timestamps": "1,9"},
                    },
                )
            )
        assert kie_mock.tasks() == []
        task = kie.submit(CHARACTERS_PRO, EXAMPLES[CHARACTERS_PRO] | {"origin_task_id": "abc"})
        with pytest.raises(TaskFailedError, match="no such task"):
            kie.wait(task)


def test_characters_take_one_clip() -> None:
    clip = ["https://example.com/clip.mp4"]
    assert body_of(CHARACTERS, character_file_url=clip)["input"] == {"character_file_url": clip}
    assert refused(CHARACTERS, character_file_url=[*clip, *clip]) == "character_file_url"
    assert refused(CHARACTERS, character_file_url=clip, character_prompt="x" * 5001) == (
        "character_prompt"
    )


def test_watermark_remover_takes_a_link_of_at_most_500_characters() -> None:
    link = "https://sora.chatgpt.com/p/s_68e83bd7eee88191be79d2ba7158516f"
    assert body_of(WATERMARK, video_url=link, upload_method="s3")["input"] == {
        "video_url": link,
        "upload_method": "s3",
    }
    long_link = "https://sora.chatgpt.com/p/" + "x" * 480
    assert refused(WATERMARK, video_url=long_link) == "video_url"
    assert refused(WATERMARK, video_url="sora.chatgpt.com/p/s_1") == "video_url"


# -- results -------------------------------------------------------------------------------


def test_a_character_task_ends_with_an_id_and_no_file(kie_client: Client, tmp_path: Path) -> None:
    task = kie_client.submit(CHARACTERS, character_file_url=["https://example.com/clip.mp4"])
    results = kie_client.wait(task)
    assert results.assets == ()
    assert kie_client.download(results, tmp_path) == []
    character = json.loads(results.raw["resultJson"])["resultObject"]["character_id"]
    assert character.startswith("char_")


def test_a_character_id_outside_result_object_is_read_too() -> None:
    # KIE's page says only that resultJson "includes character_id" (Sora pages)
    payload = SUCCESS | {"model": CHARACTERS, "resultJson": json.dumps({"character_id": "c1"})}
    assert PROVIDER.extract_results(TASK, payload).assets == ()
    with pytest.raises(ProtocolError):  # a video model must still carry resultUrls
        PROVIDER.extract_results(TASK, payload | {"model": T2V})


@pytest.mark.parametrize("model", [T2V, STORYBOARD, WATERMARK])
def test_video_models_download_an_mp4(model: str, kie_client: Client, tmp_path: Path) -> None:
    fields = EXAMPLES.get(model) or (
        {"prompt": "a fox"} if model == T2V else {"video_url": "https://sora.chatgpt.com/p/s_1"}
    )
    results = kie_client.wait(kie_client.submit(model, fields))
    [path] = kie_client.download(results, tmp_path)
    assert [a.kind for a in results.assets] == [MediaKind.VIDEO]
    assert path.read_bytes()[4:8] == b"ftyp"


def _scenes() -> st.SearchStrategy[list[dict[str, Any]]]:
    scene = st.fixed_dictionaries(
        {"Scene": prompt_text(max_size=40), "duration": st.floats(0.1, 2.5, allow_nan=False)}
    )
    return st.lists(scene, min_size=1, max_size=4)


@settings(max_examples=20, deadline=None)
@given(
    shots=_scenes(),
    frames=st.sampled_from(["10", "15", "25", None]),
    image=st.lists(web_urls(), max_size=1),
)
def test_any_valid_storyboard_is_accepted_by_the_mock(
    kie_mock_session: MockServer,
    shots: list[dict[str, Any]],
    frames: str | None,
    image: list[str],
) -> None:
    # the contract suite draws shots from Scene's specs too; this property adds the documented
    # spellings ({"Scene", "duration"} mappings) and many short shots within n_frames
    board: dict[str, Any] = {"shots": shots}
    if frames:
        board["n_frames"] = frames
    if image:
        board["image_urls"] = image
    with client_for(kie_mock_session.base_url) as kie:
        task = kie.submit(STORYBOARD, board)
    assert {t.task_id: t.model for t in kie_mock_session.tasks()}[task.id] == STORYBOARD


def test_kie_run_on_the_mock_downloads_an_mp4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", STORYBOARD, "--mock", "--mock-seconds", "0", "--out", str(tmp_path)]
    assert kie_main([*argv, "--input", f"shots={json.dumps(SHOTS)}"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert Path(line).read_bytes()[4:8] == b"ftyp"


README = Path(__file__).resolve().parents[1] / "README.md"
README_EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("source", README_EXAMPLES, ids=lambda s: s.splitlines()[-1].strip()[:40])
def test_readme_examples_run_against_the_mock(
    source: str,
    kie_mock: MockServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `Client()` in the README reads KIE_API_KEY and talks to api.kie.ai; here it is the mock
    monkeypatch.setattr(kiekit, "Client", lambda *a, **k: client_for(kie_mock.base_url))
    monkeypatch.chdir(tmp_path)
    exec(compile(source, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    assert [path.suffix for path in (tmp_path / "out").iterdir()] == [".mp4"]
    assert "succeeded 1.0" in capsys.readouterr().out
