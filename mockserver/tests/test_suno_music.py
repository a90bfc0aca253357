"""Suno songs on the mock (kie-api.md §3.6, §6.1–6.2, §7): create paths, the required
callBackUrl, generate/record-info's staged statuses, real files, staged callbacks."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from kiekit_mock import MockServer
from kiekit_mock.state import _Task

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

GENERATE = "/api/v1/generate"
RECORD = "/api/v1/generate/record-info"
CALLBACK = "https://example.com/suno-callback"
SONG = "https://example.com/song.mp3"
SIMPLE: dict[str, Any] = {
    "prompt": "a calm piano piece",
    "customMode": False,
    "instrumental": False,
    "model": "V5",
    "callBackUrl": CALLBACK,
}
# get-music-details' keys, in its order
RECORD_KEYS = [
    "taskId",
    "parentMusicId",
    "param",
    "response",
    "status",
    "type",
    "operationType",
    "errorCode",
    "errorMessage",
]
TRACK_KEYS = {"id", "audioUrl", "streamAudioUrl", "imageUrl", "prompt", "modelName", "title",
              "tags", "createTime", "duration"}  # fmt: skip
CALLBACK_TRACK_KEYS = {"id", "audio_url", "stream_audio_url", "image_url", "prompt", "model_name",
                       "title", "tags", "createTime", "duration"}  # fmt: skip


def create(kie: Kie, path: str = GENERATE, **body: Any) -> str:
    return str(kie.ok(kie.post(path, body))["taskId"])


def record(kie: Kie, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(f"{RECORD}?taskId={task_id}")))


def song(kie: Kie) -> dict[str, Any]:
    """A finished song's record (the default mock ends a task at its first poll)."""
    return record(kie, create(kie, **SIMPLE))


# --- create ----------------------------------------------------------------------------------


@pytest.mark.parametrize("callback", [None, "", "  "])
def test_callback_url_is_required_even_for_polling(kie: Kie, callback: str | None) -> None:
    body = {k: v for k, v in SIMPLE.items() if k != "callBackUrl"}
    if callback is not None:
        body["callBackUrl"] = callback
    answer = kie.post(GENERATE, body)
    # HTTP 200 with the body code, as the real answer [OBS HAR]
    assert answer.status == 200
    assert answer.json() == {"code": 422, "msg": "Please enter callBackUrl.", "data": None}


@pytest.mark.parametrize(
    ("path", "body", "msg"),
    [
        (GENERATE, SIMPLE | {"model": None}, "model cannot be empty"),
        (GENERATE, SIMPLE | {"model": "V6"}, "model is not within the range of allowed options"),
        (GENERATE, SIMPLE | {"customMode": None}, "customMode cannot be empty"),
        (GENERATE, SIMPLE | {"prompt": "x" * 501}, "prompt cannot exceed 500 characters"),
        (GENERATE, SIMPLE | {"customMode": True, "title": "T"}, "style cannot be empty"),
        (GENERATE, SIMPLE | {"customMode": True, "style": "pop"}, "title cannot be empty"),
        (GENERATE, SIMPLE | {"customMode": True, "style": "p", "title": "t" * 81, "model": "V4"},
         "title cannot exceed 80 characters"),
        (GENERATE, SIMPLE | {"customMode": True, "style": "p", "title": "T", "prompt": None},
         "prompt cannot be empty"),
        (GENERATE, SIMPLE | {"styleWeight": 1.5}, "styleWeight must be between 0 and 1"),
        (GENERATE, SIMPLE | {"vocalGender": "x"},
         "vocalGender is not within the range of allowed options"),
        ("/api/v1/generate/extend", SIMPLE | {"defaultParamFlag": False},
         "audioId cannot be empty"),
        ("/api/v1/generate/upload-cover", SIMPLE, "uploadUrl cannot be empty"),
        ("/api/v1/generate/upload-extend",
         SIMPLE | {"uploadUrl": SONG, "defaultParamFlag": True, "style": "p", "title": "T"},
         "continueAt cannot be empty"),
        ("/api/v1/generate/add-instrumental", SIMPLE | {"uploadUrl": SONG, "title": "T"},
         "tags cannot be empty"),
        ("/api/v1/generate/add-vocals",
         SIMPLE | {"uploadUrl": SONG, "title": "T", "style": "pop"},
         "negativeTags cannot be empty"),
    ],
)  # fmt: skip
def test_documented_rules_answer_422_naming_the_field(
    mock: MockServer, kie: Kie, path: str, body: dict[str, Any], msg: str
) -> None:
    answer = kie.post(path, {k: v for k, v in body.items() if v is not None})
    assert answer.json() == {"code": 422, "msg": msg, "data": None}
    assert mock.tasks() == []


def test_custom_instrumental_needs_no_prompt_and_credits_are_charged(kie: Kie) -> None:
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    body = SIMPLE | {"customMode": True, "instrumental": True, "style": "Classical",
                     "title": "Peace", "prompt": None}  # fmt: skip
    create(kie, **{k: v for k, v in body.items() if v is not None})
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before - 12


# --- record-info -----------------------------------------------------------------------------


def test_statuses_walk_the_stages_and_files_appear_with_them(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=3)
    task_id = create(kie, **SIMPLE)
    seen = [record(kie, task_id) for _ in range(4)]
    assert [r["status"] for r in seen] == ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]
    assert all(list(r) == RECORD_KEYS for r in seen)
    assert seen[0]["response"] is None
    written, first, done = (r["response"]["sunoData"] for r in seen[1:])
    assert [len(t) for t in (written, first, done)] == [2, 2, 2]  # two songs a task
    assert all(set(track) == TRACK_KEYS for track in done)
    assert [bool(t["audioUrl"]) for t in written] == [False, False]
    assert [bool(t["audioUrl"]) for t in first] == [True, False]
    assert [bool(t["audioUrl"]) for t in done] == [True, True]
    # a stream link plays from TEXT_SUCCESS on; an audio file only once its track is done
    assert kie.fetch(written[1]["streamAudioUrl"]).status == 200
    assert kie.fetch(first[0]["audioUrl"]).status == 200
    assert kie.fetch(done[1]["audioUrl"].replace("/1.mp3", "/2.mp3")).status == 404
    final = seen[-1]
    assert (final["type"], final["operationType"]) == ("GENERATE", "generate")
    assert json.loads(final["param"]) == {k: v for k, v in SIMPLE.items() if k != "callBackUrl"}
    assert (final["errorCode"], final["errorMessage"]) == (None, None)
    ids = {t["id"] for t in done}
    assert len(ids) == 2
    assert all(t["duration"] == pytest.approx(1.01) for t in done)


def test_songs_and_covers_are_real_files(kie: Kie) -> None:
    for track in song(kie)["response"]["sunoData"]:
        audio = kie.fetch(track["audioUrl"])
        assert (audio.status, audio.content_type) == (200, "audio/mpeg")
        assert audio.body.startswith(b"ID3")
        assert b"\xff\xfb" in audio.body  # MPEG-1 Layer III frames follow the tag
        image = kie.fetch(track["imageUrl"])
        assert (image.status, image.content_type) == (200, "image/jpeg")
        assert image.body.startswith(b"\xff\xd8\xff")


def test_unknown_task_reads_as_data_null(kie: Kie) -> None:
    assert kie.ok(kie.get(f"{RECORD}?taskId=0123456789abcdef0123456789abcdef")) is None
    # a task of another family is not a song either
    flux = kie.flux(prompt="a fox")
    assert kie.ok(kie.get(f"{RECORD}?taskId={flux}")) is None


def test_fail_marker_fails_like_kie_and_refunds(mock: MockServer, kie: Kie) -> None:
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    failed = record(kie, create(kie, **SIMPLE | {"prompt": "a song [mock:fail]"}))
    assert failed["status"] == "GENERATE_AUDIO_FAILED"
    assert failed["errorCode"] == 501
    assert failed["response"]["sunoData"] == []
    assert failed["errorMessage"] == failed["response"]["errorMessage"]
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before
    [error] = mock.callbacks()
    assert error.payload["code"] == 501
    assert error.payload["data"] == {
        "callbackType": "error",
        "task_id": failed["taskId"],
        "data": None,
    }


def test_extend_continues_a_track_of_the_caller(mock: MockServer, kie: Kie) -> None:
    track = song(kie)["response"]["sunoData"][0]
    body = {"defaultParamFlag": True, "audioId": track["id"], "prompt": "on", "style": "pop",
            "title": "More", "continueAt": 0.5, "model": "V5", "callBackUrl": CALLBACK}  # fmt: skip
    longer = record(kie, create(kie, "/api/v1/generate/extend", **body))
    assert (longer["status"], longer["operationType"]) == ("SUCCESS", "extend")
    assert longer["parentMusicId"] == track["id"]
    # another account's extend of it is taken, as KIE takes it, and fails later: not theirs
    other = kie.as_key("other-key")
    failed = record(other, create(other, "/api/v1/generate/extend", **body))
    assert failed["status"] != "SUCCESS"
    assert (failed["errorCode"], failed["errorMessage"]) == (422, "Record does not exist")


def test_an_extend_reads_only_the_callers_suno_tasks(
    kie: Kie, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding the extended track made a snapshot of every task the mock held: a cost per
    extend that grew with the store (100,000 tasks by default), under its lock."""
    track = song(kie)["response"]["sunoData"][0]
    for caller in (kie, kie.as_key("other-key")):
        for n in range(10):
            caller.create("grok-imagine/text-to-image", prompt=f"p{n}")
    built = []
    snapshot = _Task.snapshot

    def counted(task: _Task) -> Any:
        built.append(task.spec.family)
        return snapshot(task)

    monkeypatch.setattr(_Task, "snapshot", counted)
    body = {"defaultParamFlag": False, "audioId": track["id"], "model": "V5",
            "callBackUrl": CALLBACK}  # fmt: skip
    create(kie, "/api/v1/generate/extend", **body)
    assert "market" not in built


def test_an_extend_of_a_track_past_retention_is_taken_and_fails_as_an_unknown_one(
    mock: MockServer, kie: Kie
) -> None:
    """Its audio is gone (14 days, §8): KIE has no such track any more [INF], so it goes as
    an unknown audioId does (#13), not on to a new song."""
    track = song(kie)["response"]["sunoData"][0]
    mock.clock.advance(14 * 24 * 3600 + 60)
    body = {"defaultParamFlag": False, "audioId": track["id"], "model": "V5",
            "callBackUrl": CALLBACK}  # fmt: skip
    found = record(kie, create(kie, "/api/v1/generate/extend", **body))
    assert found["status"] not in ("SUCCESS", "PENDING")
    assert (found["errorCode"], found["errorMessage"]) == (422, "Record does not exist")


def test_an_extend_of_an_unknown_track_is_accepted_and_fails_later(kie: Kie) -> None:
    """KIE accepts any audioId at create (#13, recorded traffic) and fails the task."""
    body = {"defaultParamFlag": False, "audioId": "no-such-track", "model": "V5",
            "callBackUrl": CALLBACK}  # fmt: skip
    task_id = create(kie, "/api/v1/generate/extend", **body)
    found = record(kie, task_id)
    assert found["status"] not in ("SUCCESS", "PENDING")
    assert found["errorMessage"] == "Record does not exist"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/generate/extend", {"defaultParamFlag": False, "audioId": "no-such-track"}),
        (GENERATE, {"customMode": False, "instrumental": False, "prompt": "x [mock:fail]"}),
    ],
    ids=["unknown-audioId", "fail-marker"],
)
def test_a_task_set_to_fail_makes_no_audio_and_no_first_callback(
    make_mock: MakeMock, path: str, body: dict[str, Any]
) -> None:
    mock, kie = make_mock(polls_to_complete=4)
    task_id = create(kie, path, model="V5", callBackUrl=CALLBACK, **body)
    seen = [record(kie, task_id) for _ in range(5)]
    statuses = [r["status"] for r in seen]
    assert statuses[0] == "PENDING"
    assert statuses[-1] in ("GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR")
    assert "FIRST_SUCCESS" not in statuses
    tracks = [t for r in seen if r["response"] for t in r["response"]["sunoData"]]
    assert all(t["audioUrl"] == "" for t in tracks)
    stages = [c.payload["data"]["callbackType"] for c in mock.callbacks()]
    assert stages == ["text", "error"]


def test_default_param_flag_true_needs_no_style_or_title(kie: Kie) -> None:
    """Recorded traffic: defaultParamFlag true without style/title is accepted (#13)."""
    track = song(kie)["response"]["sunoData"][0]
    body = {"defaultParamFlag": True, "audioId": track["id"], "prompt": "on",
            "continueAt": 12, "model": "V5", "callBackUrl": CALLBACK}  # fmt: skip
    longer = record(kie, create(kie, "/api/v1/generate/extend", **body))
    assert longer["status"] == "SUCCESS"
    upload = {"defaultParamFlag": True, "uploadUrl": SONG, "instrumental": True,
              "continueAt": 5, "model": "V5", "callBackUrl": CALLBACK}  # fmt: skip
    assert record(kie, create(kie, "/api/v1/generate/upload-extend", **upload))["status"]


# --- callbacks -------------------------------------------------------------------------------


def test_callbacks_are_staged_snake_case_and_in_order(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=3)
    task_id = create(kie, **SIMPLE)
    kinds = []
    for _ in range(4):
        record(kie, task_id)
        kinds.append([c.payload["data"]["callbackType"] for c in mock.callbacks()])
    assert kinds == [[], ["text"], ["text", "first"], ["text", "first", "complete"]]
    text, first, complete = (c.payload for c in mock.callbacks())
    for payload in (text, first, complete):
        assert payload["code"] == 200
        assert payload["data"]["task_id"] == task_id
        assert all(set(t) == CALLBACK_TRACK_KEYS for t in payload["data"]["data"])
    assert complete["msg"] == "All generated successfully."
    audio = [[bool(t["audio_url"]) for t in p["data"]["data"]] for p in (text, first, complete)]
    assert audio == [[False, False], [True, False], [True, True]]


def test_a_poll_that_crosses_every_stage_sends_them_all_in_order(
    mock: MockServer, kie: Kie
) -> None:
    song(kie)  # the default mock ends a task at its first poll
    assert [c.payload["data"]["callbackType"] for c in mock.callbacks()] == [
        "text",
        "first",
        "complete",
    ]


def test_upload_callbacks_name_the_source(mock: MockServer, kie: Kie) -> None:
    body = SIMPLE | {"uploadUrl": SONG}
    record(kie, create(kie, "/api/v1/generate/upload-cover", **body))
    complete = mock.callbacks()[-1].payload["data"]["data"]
    assert {t["source_audio_url"] for t in complete} == {SONG}


@contextmanager
def aiohttp_receiver(status: int = 200) -> Iterator[tuple[str, list[Any]]]:
    """An aiohttp callback receiver on 127.0.0.1, in a thread of its own."""
    received: list[Any] = []
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    port: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status)

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/suno", receive)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(runner.addresses[0][1])
        return runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port[0]}/suno", received
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_staged_callbacks_reach_a_loopback_receiver(make_mock: MakeMock) -> None:
    mock, kie = make_mock(polls_to_complete=2)
    with aiohttp_receiver() as (url, received):
        task_id = create(kie, **SIMPLE | {"callBackUrl": url})
        statuses = [record(kie, task_id)["status"] for _ in range(3)]
        assert all(c.delivered for c in mock.callbacks())  # waits for deliveries in flight
    assert statuses[-1] == "FIRST_SUCCESS"  # the complete callback was still in flight
    assert record(kie, task_id)["status"] == "SUCCESS"  # delivered: final
    # delivery order across separate POSTs is not guaranteed (nor is it by KIE)
    assert sorted(p["data"]["callbackType"] for p in received) == ["complete", "first", "text"]
    assert {p["data"]["task_id"] for p in received} == {task_id}


def test_a_failed_loopback_callback_reports_callback_exception_with_songs(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:  # bound, never listening
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}/suno"
        task_id = create(kie, **SIMPLE | {"callBackUrl": url})
        record(kie, task_id)
        assert not any(c.delivered for c in mock.callbacks())
        found = record(kie, task_id)
    assert found["status"] == "CALLBACK_EXCEPTION"
    assert [bool(t["audioUrl"]) for t in found["response"]["sunoData"]] == [True, True]


def test_outcome_rules_give_suno_words(make_mock: MakeMock) -> None:
    """A test's moderation outcome is KIE's SENSITIVE_WORD_ERROR; callback_fail is
    CALLBACK_EXCEPTION, songs kept."""
    mock, kie = make_mock(polls_to_complete=1)
    flagged, unheard = create(kie, **SIMPLE), create(kie, **SIMPLE)
    mock.set_outcome(flagged, "moderation")
    mock.set_outcome(unheard, "callback_fail")
    record(kie, flagged)
    record(kie, unheard)
    moderated = record(kie, flagged)
    assert (moderated["status"], moderated["errorCode"]) == ("SENSITIVE_WORD_ERROR", 400)
    kept = record(kie, unheard)
    assert kept["status"] == "CALLBACK_EXCEPTION"
    assert [bool(t["audioUrl"]) for t in kept["response"]["sunoData"]] == [True, True]
