"""A replayed recording answers as KIE answered it, and as the emulation would where the two
meet (kiekit_mock/har.py): creates matched by each family's own model word, a create the
emulation refuses refused, callbacks that agree with the polls, a recording's text kept but for
its links, and HARs as recorders write them (big, without a request body, several hosts, a
broken URL). Every step is a request or a control call, never a sleep."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer, app
from kiekit_mock.har import parse_har

if TYPE_CHECKING:
    from conftest import Kie

HAR = Path(__file__).parent / "data" / "kie_session.har"
GROK = "5f488be792eafad4b066e21e5bc472c7"
VEO = "a1c3e5f7092b4d6f8a0c2e4f6a8b0d2e"
GROK_BODY = {
    "model": "grok-imagine/text-to-image",
    "input": {"prompt": "a red fox in fresh snow, morning light", "aspect_ratio": "1:1"},
}
VEO_BODY = {"prompt": "a paper boat on a rainy street", "model": "veo3_fast"}
CREATE = "/api/v1/jobs/createTask"
RECORD_INFO = "/api/v1/jobs/recordInfo?taskId="
KIE = "https://api.kie.ai"


def _har() -> dict[str, Any]:
    return dict(json.loads(HAR.read_text()))


def _entry(method: str, url: str, answer: dict[str, Any], body: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    content = {"mimeType": "application/json", "text": json.dumps(answer)}
    return {"request": request, "response": {"status": 200, "content": content}}


def _ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": data}


def _har_of(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "entries": list(entries)}}


# --- 1. a create claims the recording of its own model word -----------------------------------

MJ_IMAGE, MJ_VIDEO = "9a" * 16, "9b" * 16


def _mj(task_id: str, task_type: str, links: list[str]) -> list[dict[str, Any]]:
    """A Midjourney create and its final record-info (kie-api.md §3.7)."""
    body = {"taskType": task_type, "prompt": "a lighthouse at dusk", "speed": "fast"}
    results = {"resultUrls": [{"resultUrl": link} for link in links]}
    record = {"taskId": task_id, "taskType": task_type, "successFlag": 1}
    record |= {"resultInfoJson": results, "errorMessage": None}
    return [
        _entry("POST", f"{KIE}/api/v1/mj/generate", _ok({"taskId": task_id}), body),
        _entry("GET", f"{KIE}/api/v1/mj/record-info?taskId={task_id}", _ok(record)),
    ]


def test_a_midjourney_create_claims_the_recording_of_its_task_type(kie_at: Any) -> None:
    """MJ names its job by `taskType`, not `model` (§3.7): a video create replays the recorded
    video, not the images recorded before it."""
    images = [f"https://cdn.example/mj/{i}.png" for i in range(4)]
    har = _har_of(
        *_mj(MJ_IMAGE, "mj_txt2img", images), *_mj(MJ_VIDEO, "mj_video", ["https://c.x/v.mp4"])
    )
    assert [t.model for t in parse_har(har).tasks] == ["mj_txt2img", "mj_video"]
    with MockServer(MockConfig(), scenario=har) as mock:
        kie = kie_at(mock.base_url)
        video = {"taskType": "mj_video", "prompt": "a lighthouse", "fileUrl": "https://c.x/a.png"}
        assert kie.ok(kie.post("/api/v1/mj/generate", video))["taskId"] == MJ_VIDEO
        image = {"taskType": "mj_txt2img", "prompt": "a lighthouse", "speed": "fast"}
        assert kie.ok(kie.post("/api/v1/mj/generate", image))["taskId"] == MJ_IMAGE


# --- 2. a create the emulation refuses is refused ---------------------------------------------


@pytest.mark.parametrize("polls", [1, 4], ids=["recording-cut-short", "recording-to-the-end"])
def test_a_replayed_create_the_emulation_refuses_is_refused_and_the_recording_kept(
    polls: int, kie_at: Any
) -> None:
    """No credits: the client gets the emulation's 402, not an id that waits forever or that
    the mock then calls "not found"; the recording is there for the next create."""
    har = _har()
    entries = har["log"]["entries"]
    entries[2 : 2 + 4] = entries[2 : 2 + polls]  # the grok task's first `polls` answers
    with MockServer(MockConfig(), scenario=har) as mock:
        kie = kie_at(mock.base_url)
        broke = {"api_key": "broke", "credits": 0}
        accounts = f"{mock.base_url}/_mock/accounts"
        assert kie.fetch(accounts, method="POST", data=json.dumps(broke).encode()).status == 201
        refused = kie_at(mock.base_url, "broke").post(CREATE, GROK_BODY).json()
        assert (refused["code"], refused["data"]) == (402, None)
        with pytest.raises(KeyError):
            mock.task(GROK)
        assert kie.ok(kie.post(CREATE, GROK_BODY))["taskId"] == GROK  # claimed now
        states = [kie.record(GROK)["state"] for _ in range(6)]
        assert states[-1] == "success"  # recorded or emulated, it ends


# --- 3. a replayed task's callback is its recorded end ----------------------------------------


def test_a_replayed_tasks_callback_tells_what_its_polls_told(kie_at: Any) -> None:
    with MockServer(MockConfig(), scenario=_har()) as mock:
        kie = kie_at(mock.base_url)
        hook = "http://127.0.0.1:9/cb"
        kie.ok(kie.post(CREATE, {**GROK_BODY, "callBackUrl": hook}))
        polled = [kie.record(GROK) for _ in range(4)][-1]
        kie.ok(kie.post("/api/v1/veo/generate", {**VEO_BODY, "callBackUrl": hook}))
        veo = [kie.record(VEO, "/api/v1/veo/record-info") for _ in range(3)][-1]
        (grok_hook,) = mock.callbacks(task_id=GROK)
        (veo_hook,) = mock.callbacks(task_id=VEO)
    assert polled["state"] == "success"
    told = grok_hook.payload["data"]
    for name in ("state", "resultJson", "completeTime", "costTime", "createTime"):
        assert told[name] == polled[name], name
    assert told["updateTime"] == polled["completeTime"]  # §2.3: equal on success
    assert "/_mock/har-files/" in told["resultJson"]
    # Veo's callback has its own shape (§3.3): the polled result links under data.info
    assert veo["successFlag"] == 1
    assert veo_hook.payload["data"]["info"]["resultUrls"] == veo["response"]["resultUrls"]


# --- 4. a big HAR posted to the control API ---------------------------------------------------


def _big_har(size: int) -> dict[str, Any]:
    """The fixture HAR and one more recorded file of ``size`` bytes of base64."""
    har = _har()
    content = {"mimeType": "video/mp4", "encoding": "base64", "text": "A" * size}
    big = {"method": "GET", "url": "https://tempfile.aiquickdraw.com/v/big.mp4", "headers": []}
    har["log"]["entries"].append({"request": big, "response": {"status": 200, "content": content}})
    return har


def test_a_har_over_a_mebibyte_loads_at_run_time_and_one_over_the_limit_is_named(
    kie_at: Any, mock: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kie = kie_at(mock.base_url)
    loaded = kie.post("/_mock/scenarios", _big_har(3 * 2**20))  # as `serve --har` reads it
    assert loaded.status == 200
    assert [t["taskId"] for t in loaded.json()["tasks"]] == [GROK, VEO]
    monkeypatch.setattr(app, "SCENARIO_BODY_LIMIT", 2**20)
    refused = kie.post("/_mock/scenarios", _big_har(2 * 2**20))
    assert (refused.status, refused.content_type.split(";")[0]) == (413, "application/json")
    assert refused.json()["field"] == "body"
    assert "too large" in refused.json()["error"]


# --- 5. a create recorded without its body ----------------------------------------------------


def test_a_create_recorded_without_a_body_takes_its_model_from_its_status_answers(
    kie_at: Any,
) -> None:
    """Charles and Firefox drop a large postData: the market record names the model (§2.2)."""
    har = _har()
    del har["log"]["entries"][1]["request"]["postData"]
    scenario = parse_har(har)
    assert scenario.tasks[0].model == "grok-imagine/text-to-image"
    assert scenario.warnings() == []
    with MockServer(MockConfig(), scenario=scenario) as mock:
        kie = kie_at(mock.base_url)
        assert kie.ok(kie.post(CREATE, GROK_BODY))["taskId"] == GROK


def test_a_create_recorded_without_a_body_nor_a_named_model_is_warned_of() -> None:
    har = _har()
    del har["log"]["entries"][8]["request"]["postData"]
    assert parse_har(har).tasks[1].model == "veo3_fast"  # from the paramJson it echoes (§3.3)
    del har["log"]["entries"][9:]  # never polled: nothing names its model
    scenario = parse_har(har)
    assert scenario.tasks[1].model is None
    (warning,) = scenario.warnings()
    assert warning.startswith("log.entries[8] POST /api/v1/veo/generate: no request body")


# --- 6. another service's task in the HAR -----------------------------------------------------


def test_a_task_of_another_host_is_replayed_only_after_kies_own(kie_at: Any) -> None:
    har = _har()
    other = copy.deepcopy(har["log"]["entries"][1])
    other["request"]["url"] = "https://api.other-ai.example/api/v1/jobs/createTask"
    created = {"code": 200, "msg": "success", "data": {"taskId": "OTHER-1"}}
    other["response"]["content"]["text"] = json.dumps(created)
    shop = _entry("POST", "https://shop.example/api/cart", {"items": []}, {"add": 1})
    har["log"]["entries"][:0] = [other, shop]  # recorded before KIE's
    scenario = parse_har(har)
    assert any("was sent to api.other-ai.example" in line for line in scenario.warnings())
    assert any("POST shop.example/api/cart" in line for line in scenario.warnings())
    with MockServer(MockConfig(), scenario=scenario) as mock:
        kie = kie_at(mock.base_url)
        assert kie.ok(kie.post(CREATE, GROK_BODY))["taskId"] == GROK
        assert kie.ok(kie.post(CREATE, GROK_BODY))["taskId"] == "OTHER-1"  # then, as recorded


# --- 7. JSON in a string keeps its text -------------------------------------------------------


def _escaped(link: str) -> str:
    return json.dumps(link).replace("/", "\\/")  # as PHP and some Java writers spell it


def test_json_in_a_string_keeps_its_recorded_text_but_for_the_links(kie_at: Any) -> None:
    """A recording compared byte for byte differs from its replay only in the links: spacing
    and escaped slashes of `resultJson` (§2.2) are as recorded."""
    har = _har()
    final = har["log"]["entries"][5]["response"]["content"]
    answer = json.loads(final["text"])
    links = json.loads(answer["data"]["resultJson"])["resultUrls"]
    answer["data"]["resultJson"] = '{"resultUrls": [ ' + ", ".join(map(_escaped, links)) + " ]}"
    final["text"] = json.dumps(answer)
    with MockServer(MockConfig(), scenario=har) as mock:
        kie = kie_at(mock.base_url)
        kie.ok(kie.post(CREATE, GROK_BODY))
        told = [kie.record(GROK) for _ in range(4)][-1]["resultJson"]
    served = json.loads(told)["resultUrls"]
    assert len(served) == len(links)
    assert told == '{"resultUrls": [ ' + ", ".join(map(_escaped, served)) + " ]}"


# --- 8. a malformed URL names its entry -------------------------------------------------------


def test_a_malformed_url_names_its_entry() -> None:
    har = _har()
    har["log"]["entries"][2]["request"]["url"] = "http://[::1"  # a truncated export
    with pytest.raises(ValueError, match=r"^log\.entries\[2\]\.request\.url: Invalid IPv6 URL"):
        parse_har(har)


# --- 9. the announcement list -----------------------------------------------------------------


def test_the_announcement_list_answers_in_kies_shape(kie: Kie) -> None:
    """Undocumented but used (kie-api.md §4): `data: {pages, records}`."""
    body = {"language": "en", "projectSource": "kie.ai", "pageNum": 1, "pageSize": 10}
    assert kie.ok(kie.post("/api/v1/common/pageApiAnnouncementList", body)) == {
        "pages": 0,
        "records": [],
    }
