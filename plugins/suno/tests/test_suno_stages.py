"""kiekit-suno: what a song task has made before it ends, and why a follow-up was refused.

kie-api.md §3.6: a song task walks PENDING → TEXT_SUCCESS (lyrics written) → FIRST_SUCCESS (the
first track is done, paid for) → SUCCESS; its failures are status words (SENSITIVE_WORD_ERROR,
GENERATE_AUDIO_FAILED) beside an errorCode that does not tell them apart (400 is also
"copyrighted lyrics"). KIE refuses a WAV, stems or video of a song it cannot build on with a
422 whose words do not say why (§3.3, §7): the song's record does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kiekit import (
    Client,
    ParentNotFinishedError,
    ParentTaskError,
    Request,
    State,
    Task,
    TaskFailedError,
    UnprocessableError,
    WaitTimeoutError,
    cli,
)
from kiekit.errors import api_error
from kiekit_contract.clients import FAST_POLL, TEST_API_KEY
from kiekit_mock import Lifecycle, MockServer, Outcome, Rule
from kiekit_suno import SunoMidiProvider, SunoMusicProvider, SunoWavProvider
from kiekit_suno.music import GENERATE

MUSIC = SunoMusicProvider()
TASK = "5c79a1b2c3d4e5f60718293a4b5c6d7e"


def _track(n: int, *, audio: bool = True) -> dict[str, Any]:
    return {
        "id": f"track-{n}",
        "audioUrl": f"https://cdn.example/{n}.mp3" if audio else "",
        "streamAudioUrl": f"https://cdn.example/stream/{n}",
        "imageUrl": f"https://cdn.example/{n}.jpeg",
        "title": f"Song {n}",
    }


def _record(status: str, tracks: list[dict[str, Any]], code: Any = None) -> dict[str, Any]:
    return {
        "taskId": TASK,
        "status": status,
        "response": {"taskId": TASK, "sunoData": tracks},
        "errorCode": code,
        "errorMessage": "Please modify your prompt" if code else None,
    }


def _at_first_track(mock: MockServer, client: Client) -> str:
    """A song task stopped at FIRST_SUCCESS (the mock's manual lifecycle: it moves only when
    the test steps it)."""
    task = client.submit(GENERATE, prompt="a calm piano piece")
    mock.set_lifecycle(task.id, Lifecycle(manual=True))
    mock.advance(task.id)  # TEXT_SUCCESS
    mock.advance(task.id)  # FIRST_SUCCESS
    return task.id


# -- stages and the first track ------------------------------------------------------------


def test_a_running_song_says_its_stage_and_holds_the_first_track_once_ready() -> None:
    text = MUSIC.parse_status(TASK, _record("TEXT_SUCCESS", [_track(1, audio=False)] * 2))
    assert (text.state, text.stage, text.ready) == (State.RUNNING, "lyrics written", None)

    first = MUSIC.parse_status(TASK, _record("FIRST_SUCCESS", [_track(1), _track(2, audio=False)]))
    assert (first.state, first.stage) == (State.RUNNING, "first track ready")
    assert first.ready is not None
    assert first.ready.partial
    assert [a.label for a in first.ready.assets] == ["track-1", "track-1-cover"]
    assert [t["id"] for t in first.ready.value] == ["track-1"]

    second = MUSIC.parse_status(TASK, _record("FIRST_SUCCESS", [_track(1, audio=False), _track(2)]))
    assert second.ready is not None  # named as among the finished task's files
    assert [a.label for a in second.ready.assets] == ["track-2", "track-2-cover"]

    done = MUSIC.parse_status(TASK, _record("SUCCESS", [_track(1), _track(2)]))
    assert (done.stage, done.ready) == (None, None)  # its files are its results
    assert not MUSIC.extract_results(TASK, _record("SUCCESS", [_track(1)])).partial


def test_a_wait_that_times_out_at_the_first_track_carries_it(
    kie_mock: MockServer, tmp_path: Path
) -> None:
    with Client(
        TEST_API_KEY,
        base_url=kie_mock.base_url,
        poll=FAST_POLL,
        rate_limits=None,
        journal=str(tmp_path / "journal.sqlite3"),
    ) as client:
        task_id = _at_first_track(kie_mock, client)
        with pytest.raises(WaitTimeoutError) as caught:
            client.wait(Task(task_id, GENERATE), timeout=0.01)
        ready = caught.value.ready
        assert caught.value.stage == "first track ready"
        assert ready is not None
        assert [a.label for a in ready.assets] == ["track-1", "track-1-cover"]

        paths = client.download(ready, tmp_path / "out")
        assert [p.name for p in paths] == [
            f"{task_id}-track-1-0.mp3",
            f"{task_id}-track-1-cover-1.jpeg",
        ]
        assert client.journal is not None
        row = client.journal.by_task(task_id)
        assert row is not None
        assert row.unfinished
        assert len(row.files) == 2

        kie_mock.complete(task_id)
        results = client.wait(Task(task_id, GENERATE))
        names = [p.name for p in client.download(results, tmp_path / "out")]
        assert names[:2] == [p.name for p in paths]  # the same files, not fetched anew
        assert len(names) == 4


def _task(client: Client, task_id: str) -> Any:
    return Task(task_id, GENERATE)


@pytest.fixture
def held_callbacks() -> Iterator[str]:
    """A callback receiver on 127.0.0.1 that answers nothing until the test ends: the mock
    reports a song whose ``complete`` callback is still in flight as FIRST_SUCCESS (its
    first track ready), for as long as it is held."""
    release = threading.Event()

    class Hold(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            release.wait(60)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hold)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/suno"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_kie_run_that_times_out_saves_the_ready_track_and_says_the_task_goes_on(
    kie_mock: MockServer,
    held_callbacks: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KIE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("KIE_BASE_URL", kie_mock.base_url)
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", str(tmp_path / "journal.sqlite3"))
    kie_mock.add_rule(Rule(lifecycle=Lifecycle(), prompt_contains="held"))
    out = tmp_path / "out"
    argv = ["run", GENERATE, "--prompt", "a held song", "--timeout", "0.5", "--out", str(out)]
    code = cli.main([*argv, "--callback-url", held_callbacks])
    err = capsys.readouterr().err
    [task] = kie_mock.tasks()
    assert code == 1
    assert "running: first track ready" in err
    assert f"task {task.task_id} had 2 file(s) ready: saved to {out}" in err
    assert "goes on at KIE and stays in the journal: kie resume finishes it" in err
    assert sorted(p.name for p in out.iterdir()) == [
        f"{task.task_id}-track-1-0.mp3",
        f"{task.task_id}-track-1-cover-1.jpeg",
    ]


# -- failures told apart -------------------------------------------------------------------


def test_a_sensitive_word_failure_keeps_its_status_word_beside_kies_code() -> None:
    status = MUSIC.parse_status(TASK, _record("SENSITIVE_WORD_ERROR", [], code=400))
    assert (status.fail_code, status.fail_status) == ("400", "SENSITIVE_WORD_ERROR")
    other = MUSIC.parse_status(TASK, _record("GENERATE_AUDIO_FAILED", [], code=400))
    assert (other.fail_code, other.fail_status) == ("400", "GENERATE_AUDIO_FAILED")
    assert MUSIC.parse_status(TASK, _record("PENDING", [])).fail_status is None


def test_a_failed_wait_says_which_failure_it_was(kie_client: Client, kie_mock: MockServer) -> None:
    task = kie_client.submit(GENERATE, prompt="some lyrics")
    kie_mock.set_outcome(task.id, Outcome("moderation", code=400, msg="Please modify your prompt"))
    with pytest.raises(TaskFailedError) as caught:
        kie_client.wait(task)
    assert (caught.value.code, caught.value.fail_status) == (400, "SENSITIVE_WORD_ERROR")
    assert "SENSITIVE_WORD_ERROR" in str(caught.value)


# -- a refused follow-up, told by its song's record ----------------------------------------


def test_a_follow_up_of_a_song_still_running_may_be_asked_again(
    kie_client: Client, kie_mock: MockServer
) -> None:
    song = _at_first_track(kie_mock, kie_client)
    first = kie_client.status(Task(song, GENERATE)).ready
    assert first is not None
    audio_id = first.value[0]["id"]
    with pytest.raises(ParentNotFinishedError) as caught:
        kie_client.submit("suno/wav", task_id=song, audio_id=audio_id)
    error = caught.value
    assert (error.retryable, error.parent_task_id, error.parent_state) == (True, song, "running")
    assert error.task_id is None
    assert error.code == 422
    assert "first track ready" in str(error)


def test_a_follow_up_of_a_failed_song_is_final(kie_client: Client) -> None:
    song = kie_client.submit(GENERATE, prompt="[mock:fail] x")
    with pytest.raises(TaskFailedError):
        kie_client.wait(song)
    with pytest.raises(ParentTaskError) as caught:
        kie_client.submit("suno/mp4", task_id=song.id, audio_id="x", author="a")
    error = caught.value
    assert not isinstance(error, ParentNotFinishedError)
    assert (error.retryable, error.parent_state) == (False, "failed")
    assert "GENERATE_AUDIO_FAILED" in str(error)


def test_a_wrong_audio_id_is_named_and_an_unknown_song_is_not_found(kie_client: Client) -> None:
    song = kie_client.submit(GENERATE, prompt="a calm piano piece")
    tracks = [t["id"] for t in kie_client.wait(song).value]
    with pytest.raises(UnprocessableError) as caught:
        kie_client.submit("suno/wav", task_id=song.id, audio_id="not-a-track")
    assert caught.value.field == "audio_id"
    assert f"audio_id 'not-a-track' is none of task {song.id}'s tracks" in str(caught.value)
    assert all(track in str(caught.value) for track in tracks)

    unknown = "f" * 32
    with pytest.raises(ParentTaskError) as missing:
        kie_client.submit("suno/vocal-removal", task_id=unknown, audio_id="x")
    assert (missing.value.parent_state, missing.value.field) == ("not-found", "task_id")
    assert f"KIE has no song task {unknown}" in str(missing.value)


def test_a_refusal_the_song_does_not_explain_stays_as_kie_sent_it(kie_client: Client) -> None:
    song = kie_client.submit(GENERATE, prompt="a calm piano piece")
    audio_id = kie_client.wait(song).value[0]["id"]
    body = {"taskId": song.id, "audioId": audio_id}
    request = Request("POST", "/api/v1/wav/generate", body=body, parent_task_id=song.id)
    error = UnprocessableError(422, "something else")
    told = MUSIC.refused_by_parent("suno/wav", request, error, kie_client.status(song))
    assert told is error
    assert (error.field, error.message) == (None, "KIE error 422: something else")


def test_only_a_refusal_the_song_may_explain_reads_the_song() -> None:
    wav = SunoWavProvider()
    assert wav.parent_status_model("suno/wav", UnprocessableError(422, "no")) == GENERATE
    for code in (402, 429, 500):  # they say why themselves: nothing more is sent
        assert wav.parent_status_model("suno/wav", api_error(code, "no")) is None
    assert SunoMidiProvider().parent_status_model("suno/midi", UnprocessableError(422, "no")) == (
        "suno/vocal-removal"
    )
    assert MUSIC.parent_status_model(GENERATE, UnprocessableError(422, "no")) is None
