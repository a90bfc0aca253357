"""Replaying a recorded KIE session (kiekit_mock/har.py): the fixture HAR holds a Grok
text-to-image task polled waiting → waiting → generating → success (the §2.2 recordInfo
records) with one result file's bytes, and a Veo task polled 0 → 0 → 1 (§3.3)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest
from kiekit import Client, PollPolicy, TaskStatus
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.__main__ import main
from kiekit_mock.har import parse_har, read_scenario
from kiekit_mock.scenario import Scenario

if TYPE_CHECKING:
    from conftest import Answer, Kie

HAR = Path(__file__).parent / "data" / "kie_session.har"
SECRET = "sk-live-0123456789abcdef-DO-NOT-LEAK"  # the Bearer key inside the fixture HAR
GROK = "5f488be792eafad4b066e21e5bc472c7"
VEO = "a1c3e5f7092b4d6f8a0c2e4f6a8b0d2e"
GROK_BODY = {
    "model": "grok-imagine/text-to-image",
    "input": {"prompt": "a red fox in fresh snow, morning light", "aspect_ratio": "1:1"},
}
RECORD_INFO = "/api/v1/jobs/recordInfo?taskId="


def _har() -> dict[str, Any]:
    return dict(json.loads(HAR.read_text()))


def test_a_har_becomes_tasks_with_their_status_answers_in_order() -> None:
    scenario = parse_har(_har())
    grok, veo = scenario.tasks
    assert (grok.task_id, grok.create_path, grok.model) == (
        GROK,
        "/api/v1/jobs/createTask",
        "grok-imagine/text-to-image",
    )
    assert grok.status_path == "/api/v1/jobs/recordInfo"
    assert [a["data"]["state"] for a in grok.answers] == [
        "waiting",
        "waiting",
        "generating",
        "success",
    ]
    assert (veo.model, veo.status_path) == ("veo3_fast", "/api/v1/veo/record-info")
    assert [a["data"]["successFlag"] for a in veo.answers] == [0, 0, 1]
    # result files: the six Grok images and the Veo video; and the input the Veo record
    # echoes, for a link to another host is served from the mock whoever sent it first
    urls = [f.url for f in scenario.files]
    assert len(urls) == 8
    assert all(u.startswith("https://tempfile.aiquickdraw.com/") for u in urls[:6] + urls[7:])
    assert urls[6] == "https://example.com/input-frame.png"
    assert [f.body is not None for f in scenario.files] == [True] + [False] * 7
    assert scenario.files[0].content_type == "image/jpeg"
    assert scenario.files[-1].content_type == "video/mp4"


def test_no_header_and_so_no_api_key_survives_into_the_scenario() -> None:
    assert SECRET in HAR.read_text()  # the recording does carry it
    text = json.dumps(parse_har(_har()).to_json())
    assert SECRET not in text
    assert "Authorization" not in text


def test_the_scenario_round_trips_through_json() -> None:
    scenario = parse_har(_har())
    assert Scenario.from_json(json.loads(json.dumps(scenario.to_json()))) == scenario


def test_not_a_har_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"log\.entries"):
        parse_har({"log": {}})
    with pytest.raises(ValueError, match="format"):
        Scenario.from_json({"tasks": []})
    scenario = parse_har(_har()).to_json()
    scenario["files"][0]["contentType"] = "not a type"
    with pytest.raises(ValueError, match="contentType"):
        Scenario.from_json(scenario)
    scenario = parse_har(_har()).to_json()
    scenario["tasks"][0]["statusPath"] = {}
    with pytest.raises(ValueError, match="statusPath"):
        Scenario.from_json(scenario)


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    scenario = parse_har(_har()).to_json()
    change(scenario)
    return scenario


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s["tasks"][1]["answers"].__setitem__(1, "oops"), "tasks[1].answers[1]: "),
        (lambda s: s["tasks"][1].__setitem__("answers", {}), "tasks[1].answers: "),
        (lambda s: s["tasks"][0].pop("createPath"), "tasks[0].createPath: must be a string"),
        (lambda s: s["tasks"][0].__setitem__("taskId", 5), "tasks[0].taskId: must be a string"),
        (lambda s: s["tasks"][1].__setitem__("createAnswer", []), "tasks[1].createAnswer: "),
        (lambda s: s["tasks"].__setitem__(1, "oops"), "tasks[1]: must be an object"),
        (
            lambda s: s["tasks"][0].__setitem__("followUps", [{"method": "GET", "path": "/p"}]),
            "tasks[0].followUps[0].answer: must be an object",
        ),
        (lambda s: s["files"][3].__setitem__("contentType", "x"), "files[3].contentType: "),
        (lambda s: s["files"][0].__setitem__("base64", "abcde"), "files[0].base64: bad base64"),
    ],
)
def test_a_scenario_file_error_names_the_task_and_member(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], named: str
) -> None:
    """A committed scenario is edited by hand: its load error says where, as --rules does."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(ValueError, match="^" + re.escape(named)):
        read_scenario(path)


def test_a_har_entry_that_is_no_object_is_named() -> None:
    har = _har()
    har["log"]["entries"][7] = "oops"
    with pytest.raises(ValueError, match=r"^log\.entries\[7\]: must be an object$"):
        parse_har(har)


def _replayed_states(kie: Kie) -> tuple[list[str], dict[str, Any]]:
    created = kie.ok(kie.post("/api/v1/jobs/createTask", GROK_BODY))
    assert created == {"taskId": GROK, "recordId": GROK}
    records = [kie.record(GROK) for _ in range(5)]
    return [r["state"] for r in records], records[-1]


def test_a_replayed_session_answers_as_recorded(kie_at: Any) -> None:
    with MockServer(MockConfig(), scenario=read_scenario(HAR)) as mock:
        kie = kie_at(mock.base_url)
        states, final = _replayed_states(kie)
        # the recorded sequence, its last answer repeating
        assert states == ["waiting", "waiting", "generating", "success", "success"]
        assert (final["costTime"], final["createTime"]) == (12, 1776323915587)
        urls = json.loads(final["resultJson"])["resultUrls"]
        assert len(urls) == 6
        assert all(u.startswith(mock.base_url + "/_mock/har-files/") for u in urls)
        first, other = kie.fetch(urls[0]), kie.fetch(urls[1])
        recorded = parse_har(_har()).files[0].body
        assert (first.status, first.content_type, first.body) == (200, "image/jpeg", recorded)
        assert other.status == 200
        assert other.body.startswith(b"\xff\xd8")  # a real JPEG stands in for unrecorded bytes

        veo = kie.ok(kie.post("/api/v1/veo/generate", {"prompt": "x", "model": "veo3_fast"}))
        assert veo == {"taskId": VEO}
        flags = [
            kie.ok(kie.get(f"/api/v1/veo/record-info?taskId={VEO}"))["successFlag"]
            for _ in range(4)
        ]
        assert flags == [0, 0, 1, 1]
        video = kie.ok(kie.get(f"/api/v1/veo/record-info?taskId={VEO}"))["response"]
        answer = kie.fetch(video["resultUrls"][0])
        assert (answer.status, answer.content_type) == (200, "video/mp4")
        assert answer.body[4:8] == b"ftyp"


@pytest.mark.parametrize(
    "given",
    [
        lambda: str(HAR),
        lambda: HAR,
        _har,  # the HAR file's JSON, as json.load gives it
        lambda: read_scenario(HAR).to_json(),  # a scenario file's JSON
    ],
    ids=["path-text", "path", "har-dict", "scenario-dict"],
)
def test_a_recording_is_taken_in_the_forms_a_user_has_it(
    given: Callable[[], Any], kie_at: Any
) -> None:
    """MockServer(scenario=…) and load_har take a path or the JSON as well as a Scenario; a
    dict ended in "AttributeError: 'dict' object has no attribute 'warnings'"."""
    with MockServer(MockConfig(), scenario=given()) as mock:
        states, _ = _replayed_states(kie_at(mock.base_url))
        assert states == ["waiting", "waiting", "generating", "success", "success"]
    with MockServer(MockConfig()) as mock:
        mock.load_har(given())
        states, _ = _replayed_states(kie_at(mock.base_url))
        assert states == ["waiting", "waiting", "generating", "success", "success"]


def test_what_is_no_recording_is_refused_at_once_naming_scenario() -> None:
    with pytest.raises(TypeError, match=r"^scenario must be a Scenario, .* not list$"):
        MockServer(MockConfig(), scenario=[_har()])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^scenario: not a scenario: 'format' must be"):
        MockServer(MockConfig(), scenario={"tasks": []})
    with pytest.raises(ValueError, match=r"^scenario: tasks\[1\]: must be an object$"):
        MockServer(MockConfig(), scenario=_broken(lambda s: s["tasks"].__setitem__(1, "oops")))


def test_what_the_recording_does_not_cover_is_emulated(kie_at: Any) -> None:
    with MockServer(MockConfig(), scenario=read_scenario(HAR)) as mock:
        kie = kie_at(mock.base_url)
        # another model: an emulated task
        other = kie.create("grok-imagine/text-to-video", prompt="waves")
        assert other != GROK
        assert kie.record(other)["state"] == "success"
        # a recorded task is not there before its create was replayed
        assert kie.get(RECORD_INFO + GROK).json()["code"] == 404
        # each recorded create is replayed once; the next identical one is emulated
        assert kie.ok(kie.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"] == GROK
        assert kie.ok(kie.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"] != GROK
        # KIE's Bearer check still comes first
        assert kie.as_key(None).get(RECORD_INFO + GROK).json()["code"] == 401
        assert kie.fetch(mock.base_url + "/_mock/har-files/99.jpg").status == 404


def test_load_har_on_a_running_mock_and_journal_sees_replays(kie_at: Any) -> None:
    with MockServer(MockConfig()) as mock:
        loaded = mock.load_har(HAR)
        assert [t.task_id for t in loaded.tasks] == [GROK, VEO]
        states, _ = _replayed_states(kie_at(mock.base_url))
        assert states[-1] == "success"
        replayed = [r for r in mock.requests() if r.task_id == GROK]
        assert [r.path for r in replayed][:2] == ["/api/v1/jobs/createTask", RECORD_INFO[:-8]]
        assert all(r.authorization == "Bearer ***" for r in replayed)


def test_control_route_loads_and_clears_scenarios(kie_at: Any, mock: MockServer) -> None:
    kie = kie_at(mock.base_url)
    loaded = kie.post("/_mock/scenarios", _har())
    assert loaded.status == 200
    summary = loaded.json()
    assert [(t["taskId"], t["answers"]) for t in summary["tasks"]] == [(GROK, 4), (VEO, 3)]
    assert summary["files"] == 8
    assert _replayed_states(kie)[0][:3] == ["waiting", "waiting", "generating"]
    assert kie.fetch(mock.base_url + "/_mock/scenarios", method="DELETE").json() == {"cleared": 2}
    # back to the emulation, which holds the task it handed out, ended as recorded
    assert kie.record(GROK)["state"] == "success"
    bad = kie.post("/_mock/scenarios", {"log": {"entries": "nope"}})
    assert bad.status == 400
    assert "log.entries" in bad.json()["error"]


def test_cli_har_writes_the_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scenario.json"
    assert main(["har", str(HAR), "--out", str(out)]) == 0
    assert Scenario.from_json(json.loads(out.read_text())) == parse_har(_har())
    assert SECRET not in out.read_text()
    assert main(["har", str(tmp_path / "missing.har")]) == 2
    assert "missing.har" in capsys.readouterr().err


def _api_url(lines: IO[str]) -> str:
    """The API's base URL from `serve`'s start-up lines (the upload host has its own)."""
    for _ in range(5):
        found = re.search(r"KIE API mock listening on (http://127\.0\.0\.1:\d+)", lines.readline())
        if found:
            return found.group(1)
    raise AssertionError("the mock did not say where it listens")


def test_cli_serve_replays_a_scenario_file(tmp_path: Path, kie_at: Any) -> None:
    scenario = tmp_path / "scenario.json"
    assert main(["har", str(HAR), "--out", str(scenario)]) == 0
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [sys.executable, "-m", "kiekit_mock", "serve", "--port", "0", "--har", str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        states, _ = _replayed_states(kie_at(_api_url(process.stdout)))
        assert states == ["waiting", "waiting", "generating", "success", "success"]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_kiekit_client_replays_the_recorded_session(tmp_path: Path, monkeypatch: Any) -> None:
    """What a user gets: kiekit's own client, unchanged, sees the recorded task go by."""
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    seen: list[TaskStatus] = []
    poll = PollPolicy(initial=0.01, growth=0.01, maximum=0.05, timeout=10)
    with MockServer(MockConfig(), scenario=read_scenario(HAR)) as mock:
        client = Client(
            "any-key", base_url=mock.base_url, poll=poll, journal=None, rate_limits=None
        )
        task = client.submit("grok-imagine/text-to-image", prompt="a red fox", aspect_ratio="1:1")
        assert task.id == GROK
        results = client.wait(task, on_status=seen.append)
        files = client.download(results, tmp_path)
    assert [s.raw["state"] for s in seen] == ["waiting", "waiting", "generating", "success"]
    assert len(files) == 6
    assert files[0].read_bytes() == parse_har(_har()).files[0].body


EVIL_GIVEN = "https://evil-given.example/a.png"
EVIL_ESCAPED = "https://evil-escaped.example/b.png"


def _hostile_har() -> dict[str, Any]:
    """The fixture as a hostile author could edit it: the Grok result repeats a link that the
    create's prompt holds too, and lists another with its slashes escaped (valid JSON)."""
    har = _har()
    entries = har["log"]["entries"]
    sent = entries[1]["request"]["postData"]
    body = json.loads(sent["text"])
    body["input"]["prompt"] = f"a fox like {EVIL_GIVEN}"
    sent["text"] = json.dumps(body)
    final = entries[5]["response"]["content"]
    answer = json.loads(final["text"])
    escaped = EVIL_ESCAPED.replace("/", "\\/")
    answer["data"]["resultJson"] = f'{{"resultUrls":["{EVIL_GIVEN}","{escaped}"]}}'
    final["text"] = json.dumps(answer)
    assert r"https:\\/\\/evil-escaped" in final["text"]  # escaped in the recording itself
    return har


def _replayed_answers(kie: Kie) -> list[Answer]:
    kie.ok(kie.post("/api/v1/jobs/createTask", GROK_BODY))
    return [kie.get(RECORD_INFO + GROK) for _ in range(5)]


def test_a_replayed_har_never_hands_out_a_link_to_another_host(
    kie_at: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A result link also sent in the create body, and one with escaped slashes, are served
    from the mock like every other: the client never connects outside loopback."""
    with MockServer(MockConfig(), scenario=parse_har(_hostile_har())) as mock:
        kie = kie_at(mock.base_url)
        answers = _replayed_answers(kie)
        assert not [a.body for a in answers if b"evil" in a.body]
        urls = json.loads(answers[-1].json()["data"]["resultJson"])["resultUrls"]
        assert len(urls) == 2
        assert all(u.startswith(mock.base_url + "/_mock/har-files/") for u in urls)
        assert all(kie.fetch(u).body.startswith(b"\x89PNG") for u in urls)  # .png stand-ins

        monkeypatch.delenv("KIE_API_KEY", raising=False)
        mock.reset()
        poll = PollPolicy(initial=0.01, growth=0.01, maximum=0.05, timeout=10)
        with Client(
            "any-key", base_url=mock.base_url, poll=poll, journal=None, rate_limits=None
        ) as client:
            task = client.submit("grok-imagine/text-to-image", prompt="x", aspect_ratio="1:1")
            results = client.wait(task)
            assert all(a.url.startswith(mock.base_url) for a in results.assets)
            assert len(client.download(results, tmp_path)) == 2


def test_a_scenario_files_links_outside_its_files_are_served_from_the_mock(
    kie_at: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A scenario written by hand replays its answers as written, but a link it does not list
    in `files` (however it is spelt) is served from the mock, and the load says so."""
    scenario = parse_har(_har()).to_json()
    final = scenario["tasks"][0]["answers"][3]["data"]
    tricks = [
        "https://evil-scenario.example/c.png",
        "HTTPS://EVIL-CASE.example/d.png",
        "https://127.0.0.1 @evil-space.example/e.png",  # parsers take the host after the @
        "https://127.0.0.1\\@evil-backslash.example/f.png",
        " https://evil-blank.example/g.png",
    ]
    final["resultJson"] = json.dumps({"resultUrls": tricks})
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    loaded = read_scenario(path)
    (line,) = [w for w in loaded.warnings() if "not among the files" in w]
    assert line.startswith("tasks[0].answers[3]: https://evil-scenario.example/c.png ")
    assert "and 4 more" in line
    with caplog.at_level(logging.WARNING, logger="kiekit_mock"):
        mock = MockServer(MockConfig(), scenario=loaded)
    with mock:
        kie = kie_at(mock.base_url)
        answers = _replayed_answers(kie)
        assert not [a.body for a in answers if b"evil" in a.body.lower()]
        urls = json.loads(answers[-1].json()["data"]["resultJson"])["resultUrls"]
        assert len(urls) == len(tricks)
        assert all(u.startswith(mock.base_url + "/_mock/har-files/") for u in urls)
        assert all(kie.fetch(u).status == 200 for u in urls)
    assert "not among the files" in caplog.text


def test_a_har_command_scenario_lists_every_link_to_another_host(tmp_path: Path) -> None:
    """The scenario `python -m kiekit_mock har` writes serves the hostile links as files too."""
    har, out = tmp_path / "hostile.har", tmp_path / "scenario.json"
    har.write_text(json.dumps(_hostile_har()))
    assert main(["har", str(har), "--out", str(out)]) == 0
    listed = {f["url"] for f in json.loads(out.read_text())["files"]}
    assert {EVIL_GIVEN, EVIL_ESCAPED} <= listed
    assert read_scenario(out).unlisted() == []


def test_a_recorded_create_never_polled_still_gets_a_task_a_client_can_finish(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A recording that stops after the create (the client crashed, the capture ended) must
    not hand out a task id that then answers "not found" forever."""
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    har = _har()
    har["log"]["entries"] = [
        entry
        for entry in har["log"]["entries"]
        if not entry["request"]["url"].split("?")[0].endswith("/jobs/recordInfo")
    ]
    (grok, _veo) = parse_har(har).tasks
    assert grok.answers == ()  # created, never polled
    poll = PollPolicy(initial=0.01, growth=0.01, maximum=0.05, timeout=10)
    with MockServer(MockConfig(), scenario=parse_har(har)) as mock:
        client = Client(
            "any-key", base_url=mock.base_url, poll=poll, journal=None, rate_limits=None
        )
        task = client.submit("grok-imagine/text-to-image", prompt="a red fox", aspect_ratio="1:1")
        files = client.download(client.wait(task), tmp_path)
    assert files
    assert all(f.stat().st_size > 0 for f in files)


def test_reset_rewinds_a_recording_loaded_at_start_up(kie_at: Any) -> None:
    """A suite that shares one mock and resets between tests replays the recording in each."""
    with MockServer(MockConfig(), scenario=read_scenario(HAR)) as mock:
        kie = kie_at(mock.base_url)
        assert _replayed_states(kie)[0][:2] == ["waiting", "waiting"]
        mock.reset()
        assert _replayed_states(kie)[0][:3] == ["waiting", "waiting", "generating"]
        assert kie.fetch(mock.base_url + "/_mock/reset", method="POST").status == 200
        assert _replayed_states(kie)[0][0] == "waiting"


def _veo_with_follow_ups() -> dict[str, Any]:
    """The fixture HAR plus a recorded get-1080p-video of its Veo task, after it succeeded."""
    har = _har()
    entry = json.loads(json.dumps(har["log"]["entries"][-1]))  # the Veo task's last poll
    entry["startedDateTime"] = "2026-04-16T08:00:00.000Z"
    entry["request"]["url"] = f"https://api.kie.ai/api/v1/veo/get-1080p-video?taskId={VEO}&index=0"
    answer = {"code": 200, "msg": "success", "data": {"resultUrl": "https://x.example/v1080.mp4"}}
    entry["response"]["content"] = {"mimeType": "application/json", "text": json.dumps(answer)}
    har["log"]["entries"].append(entry)
    return har


def test_recorded_follow_ups_of_a_replayed_task_are_replayed(kie_at: Any) -> None:
    scenario = parse_har(_veo_with_follow_ups())
    veo = scenario.tasks[1]
    assert [(c.method, c.path) for c in veo.follow_ups] == [("GET", "/api/v1/veo/get-1080p-video")]
    with MockServer(MockConfig(), scenario=scenario) as mock:
        kie = kie_at(mock.base_url)
        hd = f"/api/v1/veo/get-1080p-video?taskId={VEO}&index=0"
        # not claimed yet: the emulation's "record is null"
        assert kie.get(hd).json()["code"] == 422
        kie.ok(kie.post("/api/v1/veo/generate", {"prompt": "x", "model": "veo3_fast"}))
        link = kie.ok(kie.get(hd))["resultUrl"]
        assert link.startswith(mock.base_url + "/_mock/har-files/")
        assert kie.fetch(link).content_type == "video/mp4"
        # a link the mock issued for a replayed file is one download-url takes (README)
        fresh = kie.ok(kie.post("/api/v1/common/download-url", {"url": link}))
        assert fresh.startswith(link + "?")
        assert "X-Amz-Expires=1200" in fresh
        assert kie.fetch(fresh).status == 200
        forged = fresh.replace("X-Amz-Expires=1200", "X-Amz-Expires=99999")
        assert b"<Code>SignatureDoesNotMatch</Code>" in kie.fetch(forged).body
        mock.clock.advance(20 * 60)  # the fresh link's 20 minutes, as the emulation's (§4)
        expired = kie.fetch(fresh)
        assert expired.status == 403
        assert b"<Message>Request has expired</Message>" in expired.body
        assert kie.fetch(link).status == 200  # the file itself is kept (README says why)
        unknown = link.rsplit("/", 1)[0] + "/99.mp4"
        wrong = kie.post("/api/v1/common/download-url", {"url": unknown})
        assert wrong.json() == {"code": 422, "msg": "url is wrong", "data": None}


def test_entries_that_cannot_be_read_are_named_and_reported(
    kie_at: Any, mock: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = _har()
    entries = har["log"]["entries"]
    create = entries.index(
        next(e for e in entries if e["request"]["url"].endswith("/jobs/createTask"))
    )
    entries[create]["response"]["content"] = {
        "encoding": "base64",
        "text": "H4sIAAAAAAAAA6uuBQBDv6ajAgAAAA==",  # gzip, as some recorders keep it
    }
    scenario = parse_har(har)
    assert [t.task_id for t in scenario.tasks] == [VEO]
    (skipped,) = scenario.skipped
    assert (skipped.index, skipped.method, skipped.path) == (
        create,
        "POST",
        "/api/v1/jobs/createTask",
    )
    assert "gzip" in skipped.reason
    loaded = kie_at(mock.base_url).post("/_mock/scenarios", har).json()
    assert loaded["skipped"] == [skipped.to_json()]
    # the CLI says so on standard error
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har))
    assert main(["har", str(path), "--out", str(tmp_path / "out.json")]) == 0
    err = capsys.readouterr().err
    # the host too: another service's /api/ entry would read as KIE's
    assert f"log.entries[{create}] POST api.kie.ai/api/v1/jobs/createTask" in err
    assert "gzip" in err
    # nothing to replay at all is said too
    entries[:] = [entries[create]]
    path.write_text(json.dumps(har))
    assert main(["har", str(path), "--out", str(tmp_path / "out.json")]) == 0
    assert "no task to replay" in capsys.readouterr().err


def test_each_task_names_its_host_and_a_har_of_two_api_hosts_is_warned_of() -> None:
    har = _har()
    for entry in har["log"]["entries"]:
        if "/veo/" in entry["request"]["url"]:
            entry["request"]["url"] = entry["request"]["url"].replace(
                "https://api.kie.ai", "http://127.0.0.1:8000"
            )
    scenario = parse_har(har)
    assert [t.host for t in scenario.tasks] == ["api.kie.ai", "127.0.0.1"]
    assert [t["host"] for t in scenario.summary()["tasks"]] == ["api.kie.ai", "127.0.0.1"]
    (warning,) = scenario.warnings()
    assert VEO in warning
    assert "127.0.0.1" in warning
    assert "api.kie.ai" in warning
    assert parse_har(_har()).warnings() == []


def test_a_bom_is_read_and_bad_base64_names_its_entry(tmp_path: Path) -> None:
    path = tmp_path / "bom.har"
    path.write_text(HAR.read_text(), encoding="utf-8-sig")
    assert read_scenario(path) == parse_har(_har())
    har = _har()
    har["log"]["entries"][2]["response"]["content"] = {"encoding": "base64", "text": "abcde"}
    with pytest.raises(ValueError, match=r"log\.entries\[2\]\.response\.content\.text: bad base64"):
        parse_har(har)


# --- small recordings built here ---------------------------------------------------------------

BOAT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
BOAT_BODY = {"prompt": "a paper boat on a rainy street", "model": "veo3_fast"}
VEO_RECORD = "/api/v1/veo/record-info?taskId="


def _entry(method: str, url: str, answer: dict[str, Any], body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    content = {"mimeType": "application/json", "text": json.dumps(answer)}
    return {"request": request, "response": {"status": 200, "content": content}}


def _boat_har(final_flag: int, origin: str = "https://api.kie.ai") -> dict[str, Any]:
    """A Veo generate polled successFlag 0, then ``final_flag`` (1: the video, 3: failed)
    (kie-api.md §3.3 record-info), and nothing else: no 1080P, 4K or extend was recorded."""
    pending = {"taskId": BOAT, "successFlag": 0, "response": None, "errorMessage": ""}
    final = {**pending, "successFlag": final_flag}
    if final_flag == 1:
        final["response"] = {"resultUrls": ["https://tempfile.aiquickdraw.com/v/boat.mp4"]}
    else:
        final["errorMessage"] = "generation failed"
    answer = {"code": 200, "msg": "success"}
    create = {**answer, "data": {"taskId": BOAT}}
    entries = [
        _entry("POST", f"{origin}/api/v1/veo/generate", create, BOAT_BODY),
        _entry("GET", f"{origin}{VEO_RECORD}{BOAT}", {**answer, "data": pending}),
        _entry("GET", f"{origin}{VEO_RECORD}{BOAT}", {**answer, "data": final}),
    ]
    return {"log": {"version": "1.2", "entries": entries}}


def test_a_har_whose_tasks_all_come_from_one_other_host_is_replayed_with_one_warning_naming_it(
    kie_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    har = _boat_har(1, origin="https://kie-proxy.internal:8443")
    (warning,) = parse_har(har).warnings()
    assert "kie-proxy.internal" in warning
    assert "api.kie.ai" in warning
    assert parse_har(_boat_har(1)).warnings() == []  # KIE's own host: nothing to say
    with caplog.at_level(logging.WARNING, logger="kiekit_mock"), MockServer(MockConfig()) as mock:
        kie = kie_at(mock.base_url)
        assert kie.post("/_mock/scenarios", har).status == 200
        assert kie.ok(kie.post("/api/v1/veo/generate", BOAT_BODY)) == {"taskId": BOAT}
    said = [r for r in caplog.records if "kie-proxy.internal" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING]


@pytest.mark.parametrize(
    ("final_flag", "code", "msg"),
    [(1, 200, "success"), (3, 422, "record status is not success")],
)
def test_calls_the_recording_never_made_for_its_task_are_answered_by_the_emulation(
    final_flag: int, code: int, msg: str, kie_at: Any
) -> None:
    """A client that was handed the recorded task id can go on with it: Veo's 4K, extend and
    1080P (kie-api.md §3.3) answer for that task as KIE would, not "record is null"."""
    with MockServer(MockConfig(), scenario=parse_har(_boat_har(final_flag))) as mock:
        kie = kie_at(mock.base_url)
        assert kie.ok(kie.post("/api/v1/veo/generate", BOAT_BODY)) == {"taskId": BOAT}
        assert kie.ok(kie.get(VEO_RECORD + BOAT))["successFlag"] == 0  # recorded
        four_k = {"taskId": BOAT, "index": 0}
        early = kie.post("/api/v1/veo/get-4k-video", four_k).json()
        assert (early["code"], early["msg"]) == (422, "record status is not success")
        ended = kie.ok(kie.get(VEO_RECORD + BOAT))
        assert ended["successFlag"] == final_flag  # the recording's own end
        assert ended["errorMessage"] == ("" if final_flag == 1 else "generation failed")

        answer = kie.post("/api/v1/veo/get-4k-video", four_k).json()
        assert (answer["code"], answer["msg"]) == (code, msg)
        if final_flag == 1:
            assert answer["data"]["taskId"] not in (None, BOAT)  # the 4K task it started
            assert answer["data"]["resultUrls"] is None
            extended = kie.ok(kie.post("/api/v1/veo/extend", {"taskId": BOAT, "prompt": "on"}))
            assert extended["taskId"] != BOAT
            hd = kie.get(f"/api/v1/veo/get-1080p-video?taskId={BOAT}&index=0").json()
            assert hd["code"] == 400  # "1080P is processing": started for the replayed task
        # its status queries are still the recording's, its last answer repeating
        assert kie.ok(kie.get(VEO_RECORD + BOAT))["successFlag"] == final_flag


def _restamped(write: Callable[[datetime], str]) -> dict[str, Any]:
    """The fixture HAR with every startedDateTime written another way, the same moments."""
    har = _har()
    for entry in har["log"]["entries"]:
        moment = datetime.fromisoformat(entry["startedDateTime"])
        entry["startedDateTime"] = write(moment)
    return har


def _go_style(moment: datetime) -> str:  # RFC 3339 with trailing zeros trimmed, as Go writes
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _plus_two(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")


@pytest.mark.parametrize("write", [_go_style, _plus_two])
def test_entries_are_ordered_by_the_moment_they_began_however_it_is_written(
    write: Callable[[datetime], str],
) -> None:
    """HAR 1.2's startedDateTime is ISO 8601 with any offset or fraction: ordered as text,
    "…:09.5Z" came before "…:09Z" and a task replayed success, then generating."""
    assert parse_har(_restamped(write)) == parse_har(_har())


def test_an_entry_without_a_start_time_keeps_the_files_order_and_says_so() -> None:
    har = _har()
    del har["log"]["entries"][3]["startedDateTime"]
    scenario = parse_har(har)
    assert scenario == parse_har(_har())  # the fixture is written in recorded order
    (note,) = [line for line in scenario.warnings() if "startedDateTime" in line]
    assert note.startswith("log.entries[3]: no readable startedDateTime")


def test_a_har_loaded_again_never_hands_out_a_recorded_id_a_live_task_holds(
    kie_at: Any, mock: MockServer
) -> None:
    """Two tests sharing a mock each load the same recording: the second create gets a fresh
    emulated task, never the id the first still holds (one task, paid once, one callback)."""
    first, second = kie_at(mock.base_url, "key-a"), kie_at(mock.base_url, "key-b")
    assert first.post("/_mock/scenarios", _har()).status == 200
    assert first.ok(first.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"] == GROK
    assert first.post("/_mock/scenarios", _har()).status == 200
    other = second.ok(second.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"]
    assert other != GROK
    assert {t.task_id for t in mock.tasks()} == {GROK, other}
    account = mock.account("key-a")
    assert account is not None
    assert account.tasks == 1  # the first's task is still the first's
    assert first.record(GROK)["state"] == "waiting"  # its recording, from its start
    assert second.record(other)["taskId"] == other
    # cleared and loaded again: the emulation still holds the recorded id, so again fresh
    assert first.fetch(mock.base_url + "/_mock/scenarios", method="DELETE").status == 200
    assert first.post("/_mock/scenarios", _har()).status == 200
    again = first.ok(first.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"]
    assert again not in (GROK, other)
    checked = first.get("/_mock/journal/check?check=created_once&task_id=" + GROK).json()
    assert checked["passed"], checked


def test_another_key_never_sees_nor_consumes_a_replayed_task(kie_at: Any, mock: MockServer) -> None:
    """A replayed task is its creator's account's (README: a key never sees another
    account's task): another key is answered as for an emulated task — market 404 "Task not
    found" (§2.2), Veo 422 "record is null" (§3.3) — and the creator's answers stay its own."""
    owner, stranger = kie_at(mock.base_url, "key-a"), kie_at(mock.base_url, "key-b")
    assert owner.post("/_mock/scenarios", _har()).status == 200
    assert owner.ok(owner.post("/api/v1/jobs/createTask", GROK_BODY))["taskId"] == GROK
    for _ in range(3):
        assert stranger.get(RECORD_INFO + GROK).json()["code"] == 404
    assert owner.record(GROK)["state"] == "waiting"  # the recording's first answer, unspent
    veo = owner.ok(owner.post("/api/v1/veo/generate", {"prompt": "x", "model": "veo3_fast"}))
    assert veo == {"taskId": VEO}
    refused = stranger.get(f"/api/v1/veo/record-info?taskId={VEO}").json()
    assert (refused["code"], refused["msg"]) == (422, "record is null")
    assert owner.ok(owner.get(f"/api/v1/veo/record-info?taskId={VEO}"))["successFlag"] == 0
