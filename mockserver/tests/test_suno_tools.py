"""Suno's other operations on the mock (kie-api.md §3.6, §6.2): lyrics, WAV, stems, MIDI,
music video and cover art — each with its create path, record shape, files and callback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

CALLBACK = "https://example.com/suno-callback"
SIMPLE = {"prompt": "a calm piano piece", "customMode": False, "instrumental": False,
          "model": "V5", "callBackUrl": CALLBACK}  # fmt: skip
# each page's example keys, in its order
FLAG_KEYS = ["taskId", "musicId", "callbackUrl", "musicIndex", "completeTime", "response",
             "successFlag", "createTime", "errorCode", "errorMessage"]  # fmt: skip
MIDI_KEYS = ["taskId", "recordTaskId", "audioId", "callbackUrl", "completeTime", "midiData",
             "successFlag", "createTime", "errorCode", "errorMessage"]  # fmt: skip
COVER_KEYS = ["taskId", "parentTaskId", "callbackUrl", "completeTime", "response",
              "successFlag", "createTime", "errorCode", "errorMessage"]  # fmt: skip


def create(kie: Kie, path: str, **body: Any) -> str:
    return str(kie.ok(kie.post(path, {"callBackUrl": CALLBACK} | body))["taskId"])


def record(kie: Kie, path: str, task_id: str) -> dict[str, Any]:
    return dict(kie.ok(kie.get(f"{path}?taskId={task_id}")))


def song(kie: Kie) -> tuple[str, list[str]]:
    task_id = create(kie, "/api/v1/generate", **SIMPLE)
    tracks = record(kie, "/api/v1/generate/record-info", task_id)["response"]["sunoData"]
    return task_id, [t["id"] for t in tracks]


def test_lyrics(mock: MockServer, kie: Kie) -> None:
    task_id = create(kie, "/api/v1/lyrics", prompt="a song about the sea")
    found = record(kie, "/api/v1/lyrics/record-info", task_id)
    assert found["status"] == "SUCCESS"
    texts = found["response"]["data"]
    assert [set(t) for t in texts] == [{"text", "title", "status", "errorMessage"}] * 2
    assert all("a song about the sea" in t["text"] for t in texts)
    [callback] = mock.callbacks()
    data = callback.payload["data"]
    assert (data["callbackType"], data["task_id"]) == ("complete", task_id)
    assert {"error_message"} <= set(data["data"][0])  # snake_case in callbacks
    too_long = kie.post("/api/v1/lyrics", {"prompt": "x" * 201, "callBackUrl": CALLBACK})
    assert too_long.json()["msg"] == "prompt cannot exceed 200 characters"


def test_wav(mock: MockServer, kie: Kie) -> None:
    source, tracks = song(kie)
    task_id = create(kie, "/api/v1/wav/generate", taskId=source, audioId=tracks[1])
    found = record(kie, "/api/v1/wav/record-info", task_id)
    assert list(found) == FLAG_KEYS
    assert (found["successFlag"], found["musicId"], found["musicIndex"]) == (
        "SUCCESS",
        tracks[1],
        1,
    )
    assert isinstance(found["createTime"], str)  # "2025-01-01 00:00:00" in the example
    wav = kie.fetch(found["response"]["audioWavUrl"])
    assert (wav.status, wav.content_type) == (200, "audio/wav")
    assert (wav.body[:4], wav.body[8:12]) == (b"RIFF", b"WAVE")
    assert mock.callbacks()[-1].payload["data"] == {
        "task_id": task_id,
        "audioWavUrl": found["response"]["audioWavUrl"],
    }


@pytest.mark.parametrize(
    ("kind", "stems"),
    [
        ("separate_vocal", {"vocalUrl", "instrumentalUrl"}),
        ("split_stem", {"vocalUrl", "backingVocalsUrl", "drumsUrl", "bassUrl", "guitarUrl",
                        "keyboardUrl", "percussionUrl", "stringsUrl", "synthUrl", "fxUrl",
                        "brassUrl", "woodwindsUrl"}),
    ],
)  # fmt: skip
def test_vocal_removal(mock: MockServer, kie: Kie, kind: str, stems: set[str]) -> None:
    source, tracks = song(kie)
    path = "/api/v1/vocal-removal"
    task_id = create(kie, f"{path}/generate", taskId=source, audioId=tracks[0], type=kind)
    found = record(kie, f"{path}/record-info", task_id)
    assert list(found) == FLAG_KEYS
    assert isinstance(found["createTime"], int)  # milliseconds in the example
    filled = {k for k, v in found["response"].items() if v}
    assert filled == stems
    for key in filled:
        stem = kie.fetch(found["response"][key])
        assert (stem.status, stem.content_type) == (200, "audio/mpeg")
    info = mock.callbacks()[-1].payload["data"]["vocal_separation_info"]
    assert info["vocal_url"] == found["response"]["vocalUrl"]


def test_midi_reads_a_vocal_removal(mock: MockServer, kie: Kie) -> None:
    source, tracks = song(kie)
    stems = create(kie, "/api/v1/vocal-removal/generate", taskId=source, audioId=tracks[0])
    record(kie, "/api/v1/vocal-removal/record-info", stems)
    task_id = create(kie, "/api/v1/midi/generate", taskId=stems)
    found = record(kie, "/api/v1/midi/record-info", task_id)
    assert list(found) == MIDI_KEYS
    assert found["successFlag"] == 1
    notes = found["midiData"]["instruments"][0]["notes"][0]
    assert set(notes) == {"pitch", "start", "end", "velocity"}
    callback = mock.callbacks()[-1].payload["data"]
    assert (callback["taskId"], callback["state"]) == (task_id, "complete")  # camelCase taskId
    # MIDI is made from stems, not from a song
    answer = kie.post("/api/v1/midi/generate", {"taskId": source, "callBackUrl": CALLBACK})
    assert answer.json()["msg"] == "Record does not exist"


def test_mp4(mock: MockServer, kie: Kie) -> None:
    source, tracks = song(kie)
    task_id = create(kie, "/api/v1/mp4/generate", taskId=source, audioId=tracks[0], author="me")
    found = record(kie, "/api/v1/mp4/record-info", task_id)
    assert list(found) == FLAG_KEYS
    video = kie.fetch(found["response"]["videoUrl"])
    assert (video.status, video.content_type) == (200, "video/mp4")
    assert video.body[4:8] == b"ftyp"
    assert mock.callbacks()[-1].payload["data"]["video_url"] == found["response"]["videoUrl"]
    long = {"taskId": source, "audioId": tracks[0], "author": "x" * 51, "callBackUrl": CALLBACK}
    assert kie.post("/api/v1/mp4/generate", long).json()["msg"] == (
        "author cannot exceed 50 characters"
    )


def test_cover_art(mock: MockServer, kie: Kie) -> None:
    source, _ = song(kie)
    task_id = create(kie, "/api/v1/suno/cover/generate", taskId=source)
    found = record(kie, "/api/v1/suno/cover/record-info", task_id)
    assert list(found) == COVER_KEYS
    assert (found["successFlag"], found["errorCode"], found["parentTaskId"]) == (1, 200, source)
    assert found["createTime"].endswith("Z")
    images = found["response"]["images"]
    assert len(images) == 2
    for url in images:
        image = kie.fetch(url)
        assert (image.status, image.body[:8]) == (200, b"\x89PNG\r\n\x1a\n")
    assert mock.callbacks()[-1].payload["data"] == {"taskId": task_id, "images": images}


@pytest.mark.parametrize(
    ("path", "body", "msg"),
    [
        ("/api/v1/wav/generate", {"audioId": "a"}, "taskId cannot be empty"),
        ("/api/v1/wav/generate", {"taskId": "SONG"}, "audioId cannot be empty"),
        ("/api/v1/wav/generate", {"taskId": "SONG", "audioId": "nope"}, "Record does not exist"),
        ("/api/v1/wav/generate", {"taskId": "missing", "audioId": "a"}, "Record does not exist"),
        ("/api/v1/vocal-removal/generate", {"taskId": "SONG", "audioId": "TRACK", "type": "x"},
         "type is not within the range of allowed options"),
        ("/api/v1/suno/cover/generate", {"taskId": "PENDING"}, "record status is not success"),
    ],
)  # fmt: skip
def test_tool_refusals(make_mock: MakeMock, path: str, body: dict[str, Any], msg: str) -> None:
    mock, kie = make_mock(polls_to_complete=2)
    source = create(kie, "/api/v1/generate", **SIMPLE)
    seen = [record(kie, "/api/v1/generate/record-info", source) for _ in range(3)]
    tracks = seen[-1]["response"]["sunoData"]
    pending = create(kie, "/api/v1/generate", **SIMPLE)
    names = {"SONG": source, "TRACK": tracks[0]["id"], "PENDING": pending}
    given = {k: names.get(v, v) for k, v in body.items()} | {"callBackUrl": CALLBACK}
    assert kie.post(path, given).json() == {"code": 422, "msg": msg, "data": None}
    assert (
        kie.post(path, {k: v for k, v in given.items() if k != "callBackUrl"}).json()["msg"]
        == "Please enter callBackUrl."
    )
    assert len(mock.tasks()) == 2


def test_a_tool_on_a_song_past_retention_is_refused(mock: MockServer, kie: Kie) -> None:
    # §3.3's record-query 422 [INF: the Suno pages are silent]: the audio is gone (§8)
    source, tracks = song(kie)
    mock.clock.advance(14 * 24 * 3600 + 60)
    made = len(mock.tasks())
    answer = kie.post(
        "/api/v1/wav/generate", {"taskId": source, "audioId": tracks[0], "callBackUrl": CALLBACK}
    )
    assert answer.json() == {
        "code": 422,
        "msg": "Temporarily supports records within 14 days",
        "data": None,
    }
    assert len(mock.tasks()) == made


@pytest.mark.parametrize(
    ("path", "flag"),
    [("/api/v1/wav", "GENERATE_WAV_FAILED"), ("/api/v1/mp4", "GENERATE_MP4_FAILED"),
     ("/api/v1/suno/cover", 3)],
)  # fmt: skip
def test_failed_tools_report_their_own_failure(
    mock: MockServer, kie: Kie, path: str, flag: str | int
) -> None:
    source, tracks = song(kie)
    task_id = create(kie, f"{path}/generate", taskId=source, audioId=tracks[0])
    mock.set_outcome(task_id, "fail")
    found = record(kie, f"{path}/record-info", task_id)
    assert (found["successFlag"], found["errorCode"], found["response"]) == (flag, 501, None)
    assert mock.callbacks()[-1].payload["code"] == 501


def test_boost_style_is_answered_at_once_with_no_task_to_poll(mock: MockServer, kie: Kie) -> None:
    """§3.6: POST /api/v1/style/generate is synchronous; the boosted text is in the answer."""
    before = len(mock.tasks())
    data = kie.ok(kie.post("/api/v1/style/generate", {"content": "Pop, Mysterious"}))
    assert set(data) == {"taskId", "param", "result", "creditsConsumed", "creditsRemaining",
                         "successFlag", "errorCode", "errorMsg", "createTime"}  # fmt: skip
    assert data["param"] == "Pop, Mysterious"
    assert data["result"].startswith("Pop, Mysterious")
    assert len(data["result"]) > len("Pop, Mysterious")
    assert data["creditsConsumed"] > 0
    assert (data["errorCode"], data["errorMsg"]) == (None, None)  # errorMsg here: §3.6 [OBS]
    assert len(mock.tasks()) == before  # nothing to poll, nothing pending
    assert mock.callbacks() == []
    empty = kie.post("/api/v1/style/generate", {"content": " "}).json()
    assert (empty["code"], empty["msg"]) == (422, "content cannot be empty")


def test_boost_style_takes_a_content_of_any_length_as_kie_documents_no_maximum(
    kie: Kie,
) -> None:
    """docs.kie.ai's boost page gives ``content`` no maxLength (kie-api.md §3.6); the mock's
    3000 was an inference from the generate's limits, which it did not even match (music QA 7)."""
    content = "lofi, " * 1000
    data = kie.ok(kie.post("/api/v1/style/generate", {"content": content}))
    assert data["param"] == content


def test_boost_style_charges_and_refuses_without_credits(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=0.5)
    first = kie.ok(kie.post("/api/v1/style/generate", {"content": "lofi"}))
    assert first["creditsRemaining"] == pytest.approx(0.5 - first["creditsConsumed"])
    second = kie.post("/api/v1/style/generate", {"content": "lofi"}).json()
    assert second["code"] == 402


class _HeldReceiver(BaseHTTPRequestHandler):
    """Answers a callback only once the test lets it (``release``)."""

    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.release.wait(timeout=30)  # a bound against a hung test; released long before
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def held_receiver() -> Iterator[tuple[str, threading.Event]]:
    """A loopback callback receiver that answers only once ``release`` is set."""
    release = threading.Event()
    handler = type("Held", (_HeldReceiver,), {"release": release})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{receiver.server_address[1]}/hook", release
    finally:
        release.set()
        receiver.shutdown()
        receiver.server_close()
        thread.join()


def test_lyrics_say_pending_with_no_lyrics_while_their_callback_is_in_flight(
    mock: MockServer, kie: Kie
) -> None:
    # the lyrics page's words have nothing between PENDING and SUCCESS: a record holding the
    # finished lyrics must not say PENDING, so it holds none until the callback was answered
    with held_receiver() as (url, release):
        task_id = create(kie, "/api/v1/lyrics", prompt="the sea", callBackUrl=url)
        for _ in range(2):  # the poll that ends it, and one while its callback is held
            found = record(kie, "/api/v1/lyrics/record-info", task_id)
            assert (found["status"], found["response"]["data"]) == ("PENDING", [])
        release.set()
        (delivered,) = mock.callbacks()  # waits for the delivery to settle
        assert delivered.delivered
        found = record(kie, "/api/v1/lyrics/record-info", task_id)
        assert found["status"] == "SUCCESS"
        assert [t["status"] for t in found["response"]["data"]] == ["complete"] * 2


@pytest.mark.parametrize("tool", ["wav", "mp4", "vocal-removal"])
def test_a_tool_record_says_pending_with_no_complete_time_while_its_callback_is_in_flight(
    mock: MockServer, kie: Kie, tool: str
) -> None:
    """PENDING with a completeTime read as "finished" to a client, and its response was null."""
    source, tracks = song(kie)
    path = f"/api/v1/{tool}"
    extra = {"author": "me"} if tool == "mp4" else {}
    with held_receiver() as (url, release):
        task_id = create(
            kie, f"{path}/generate", taskId=source, audioId=tracks[0], callBackUrl=url, **extra
        )
        for _ in range(2):  # the poll that ends it, and one while its callback is held
            found = record(kie, f"{path}/record-info", task_id)
            shown = (found["successFlag"], found["completeTime"], found["response"])
            assert shown == ("PENDING", None, None)
        release.set()
        mock.callbacks(task_id=task_id)  # waits for the delivery to settle
        found = record(kie, f"{path}/record-info", task_id)
    assert found["successFlag"] == "SUCCESS"
    assert found["completeTime"] is not None
    assert found["response"] is not None
