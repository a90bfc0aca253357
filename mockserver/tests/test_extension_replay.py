"""HAR replay of a family from another package, whose status words are its own (QUEUED,
MODELING, COMPLETED…): its ``FamilyExtension.read_state`` tells the replay how they read, so a
replayed task ends as its recording did, and one whose recording stops early goes on to
success (mockserver/README.md, "Replaying a recorded session")."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.extension import status_words
from kiekit_mock.har import parse_har

if TYPE_CHECKING:
    from conftest import InstallFamily, Kie

TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
KIE = "https://api.kie.ai"


def _entry(method: str, url: str, body: Any, answer: Any, second: int) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": [], "queryString": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    return {
        "startedDateTime": f"2026-07-01T10:00:{second:02d}.000Z",
        "request": request,
        "response": {
            "status": 200,
            "content": {"mimeType": "application/json", "text": json.dumps(answer)},
        },
    }


def _recording(family: str, body: dict[str, Any], *words: str) -> dict[str, Any]:
    """A create of ``family`` and one status answer per word, as KIE answered them."""
    created = {"code": 200, "msg": "success", "data": {"taskId": TASK_ID}}
    entries = [_entry("POST", f"{KIE}/api/v1/{family}/generate", body, created, 0)]
    for second, word in enumerate(words, start=1):
        done = word == "COMPLETED"
        result = {"modelUrls": [f"https://tempfile.aiquickdraw.com/m/{TASK_ID}-0.glb"]}
        data = {"taskId": TASK_ID, "status": word, "result": result if done else None}
        answer = {"code": 200, "msg": "success", "data": data}
        url = f"{KIE}/api/v1/{family}/record-info?taskId={TASK_ID}"
        entries.append(_entry("GET", url, None, answer, second))
    return {"log": {"version": "1.2", "entries": entries}}


def test_a_recording_that_stops_mid_task_goes_on_to_success(
    install_family: InstallFamily, kie_at: Any
) -> None:
    install_family("mesh-a")
    body = {"prompt": "a chair"}
    har = _recording("mesh-a", body, "QUEUED", "MODELING")
    with MockServer(MockConfig(polls_to_complete=2), scenario=parse_har(har)) as mock:
        kie: Kie = kie_at(mock.base_url)
        assert kie.ok(kie.post("/api/v1/mesh-a/generate", body))["taskId"] == TASK_ID
        seen = [kie.record(TASK_ID, "/api/v1/mesh-a/record-info")["status"] for _ in range(5)]
        assert seen[:2] == ["QUEUED", "MODELING"]  # as recorded
        assert "QUEUED" not in seen[2:]  # the emulation goes on from MODELING, never back
        assert seen[-1] == "COMPLETED"
        assert mock.task(TASK_ID).state == "success"


def test_a_whole_recording_ends_the_mocks_task_and_callback_as_recorded(
    install_family: InstallFamily, kie_at: Any
) -> None:
    install_family("mesh-b")
    body = {"prompt": "a chair", "callBackUrl": "http://127.0.0.1:9/cb"}
    har = _recording("mesh-b", body, "QUEUED", "MODELING", "COMPLETED")
    with MockServer(MockConfig(polls_to_complete=1), scenario=parse_har(har)) as mock:
        kie: Kie = kie_at(mock.base_url)
        kie.ok(kie.post("/api/v1/mesh-b/generate", body))
        seen = [kie.record(TASK_ID, "/api/v1/mesh-b/record-info")["status"] for _ in range(3)]
        assert seen == ["QUEUED", "MODELING", "COMPLETED"]
        assert mock.task(TASK_ID).state == "success"  # not "fail": COMPLETED is a success
        [callback] = mock.callbacks()
        assert (callback.payload["code"], callback.payload["data"]["status"]) == (200, "COMPLETED")
        shown = kie.fetch(f"{mock.base_url}/_mock/tasks/{TASK_ID}").json()["task"]["replay"]
        assert shown["state"] == "success"  # what the inspector says its client was told


def test_status_words_refuse_a_state_the_mock_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"'DONE' must map to one of \('waiting'"):
        status_words("status", {"QUEUED": "queuing", "DONE": "finished"})
    read = status_words("status", {"QUEUED": "queuing"})
    assert (read({"status": "QUEUED"}), read({"status": "HUH"}), read({"status": []})) == (
        "queuing",
        None,
        None,
    )
