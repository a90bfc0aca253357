"""Expiring result links (files.py) and the common download-url endpoint (families/common.py):
lifetimes from kie-api.md §1, §4, §8, measured on the mock clock."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import TYPE_CHECKING

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

T2I = "grok-imagine/text-to-image"
DOWNLOAD_URL = "/api/v1/common/download-url"
DAY = 24 * 3600


def _result_url(kie: Kie) -> tuple[str, str]:
    task_id = kie.create(T2I, prompt="p")
    urls = json.loads(kie.record(task_id)["resultJson"])["resultUrls"]
    return task_id, urls[0]


def _expired(answer: Answer, code: str = "AccessDenied") -> bool:
    return (
        answer.status == 403
        and answer.content_type.startswith("application/xml")
        and f"<Code>{code}</Code>".encode() in answer.body
    )


def _advance(mock: MockServer, kie: Kie, seconds: float, *, over_http: bool) -> None:
    """Both interfaces move the same clock: Python's and the control route's."""
    if over_http:
        answer = kie.post("/_mock/clock/advance", {"seconds": seconds})
        assert answer.status == 200, answer.body
    else:
        mock.clock.advance(seconds)


@pytest.mark.parametrize("over_http", [False, True])
def test_result_links_expire_after_14_days(mock: MockServer, kie: Kie, over_http: bool) -> None:
    _, url = _result_url(kie)
    assert kie.fetch(url).status == 200
    _advance(mock, kie, 14 * DAY - 60, over_http=over_http)
    assert kie.fetch(url).status == 200
    _advance(mock, kie, 60, over_http=over_http)
    answer = kie.fetch(url)
    assert _expired(answer)
    assert b"<Message>Request has expired</Message>" in answer.body


def test_download_url_gives_a_20_minute_link_renewable_while_media_are_kept(
    mock: MockServer, kie: Kie
) -> None:
    _, url = _result_url(kie)
    link = kie.ok(kie.post(DOWNLOAD_URL, {"url": url}))
    assert isinstance(link, str)
    assert urllib.parse.urlsplit(link).path == urllib.parse.urlsplit(url).path
    assert "X-Amz-Expires=1200" in link
    assert kie.fetch(link).body == kie.fetch(url).body
    mock.clock.advance(20 * 60)
    assert _expired(kie.fetch(link))
    assert kie.fetch(url).status == 200  # the result link itself lives 14 days
    # an expired link is still a link the mock issued: it renews while the media are kept
    renewed = kie.ok(kie.post(DOWNLOAD_URL, {"url": link}))
    assert renewed != link
    assert kie.fetch(renewed).status == 200
    mock.clock.advance(14 * DAY)
    assert kie.post(DOWNLOAD_URL, {"url": url}).json() == {
        "code": 422,
        "msg": "url is wrong",
        "data": None,
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://tempfile.aiquickdraw.com/r/abc.jpg",
        "https://example.com/files/{task}/0.jpg",  # our path on another host
        "{base}/files/{task}/7.jpg",  # no such index
        "{base}/files/{task}/0.png",  # wrong extension
        "{base}/files/0123456789abcdef0123456789abcdef/0.jpg",  # no such task
        "{base}/api/v1/chat/credit",
        "not a url",
    ],
)
def test_download_url_refuses_urls_it_did_not_issue(kie: Kie, url: str) -> None:
    task_id, _ = _result_url(kie)
    url = url.format(base=kie.base_url, task=task_id)
    answer = kie.post(DOWNLOAD_URL, {"url": url})
    assert answer.status == 200
    assert answer.json() == {"code": 422, "msg": "url is wrong", "data": None}


def test_download_url_field_checks(kie: Kie) -> None:
    assert kie.post(DOWNLOAD_URL, {}).json()["msg"] == "url cannot be empty"
    assert kie.post(DOWNLOAD_URL, {"url": 5}).json()["code"] == 422
    assert kie.as_key(None).post(DOWNLOAD_URL, {"url": "x"}).json()["code"] == 401


def test_download_url_of_a_pending_task_is_wrong(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=3)
    task_id = kie.create(T2I, prompt="p")
    url = f"{kie.base_url}/files/{task_id}/0.jpg"
    assert kie.post(DOWNLOAD_URL, {"url": url}).json()["msg"] == "url is wrong"


def test_a_link_whose_query_was_edited_is_refused(mock: MockServer, kie: Kie) -> None:
    _, url = _result_url(kie)
    link = kie.ok(kie.post(DOWNLOAD_URL, {"url": url}))
    stretched = link.replace("X-Amz-Expires=1200", "X-Amz-Expires=999999")
    assert _expired(kie.fetch(stretched), "SignatureDoesNotMatch")
    # the credential is signed too: another access key id is another signer
    query = urllib.parse.urlsplit(link).query
    credential = urllib.parse.parse_qs(query)["X-Amz-Credential"][0]
    edited = urllib.parse.urlencode({"X-Amz-Credential": "Z" + credential[1:]})  # not hex
    other = link.replace(urllib.parse.urlencode({"X-Amz-Credential": credential}), edited)
    assert other != link
    assert _expired(kie.fetch(other), "SignatureDoesNotMatch")
    assert kie.fetch(link).status == 200  # the link as issued still works


def test_flux_origin_image_lives_10_minutes_its_copy_14_days(mock: MockServer, kie: Kie) -> None:
    task_id = kie.flux(prompt="p")
    images = kie.flux_record(task_id)["response"]
    assert kie.flux_record(task_id)["response"] == images  # the same links on every poll
    origin, copy = images["originImageUrl"], images["resultImageUrl"]
    assert "X-Amz-Expires=600" in origin
    assert kie.fetch(origin).status == 200
    mock.clock.advance(10 * 60)
    assert _expired(kie.fetch(origin))
    assert kie.fetch(copy).status == 200
    fresh = kie.ok(kie.post(DOWNLOAD_URL, {"url": origin}))
    assert kie.fetch(fresh).status == 200


def test_runway_expire_flag_turns_1_after_14_days(mock: MockServer, kie: Kie) -> None:
    body = {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}
    task_id = kie.ok(kie.post("/api/v1/runway/generate", body))["taskId"]
    detail = f"/api/v1/runway/record-detail?taskId={task_id}"
    record = kie.ok(kie.get(detail))
    assert (record["state"], record["expireFlag"]) == ("success", 0)
    mock.clock.advance(14 * DAY)
    record = kie.ok(kie.get(detail))
    assert record["expireFlag"] == 1
    assert _expired(kie.fetch(record["videoInfo"]["videoUrl"]))
    assert _expired(kie.fetch(record["videoInfo"]["imageUrl"]))  # the cover still too


def test_time_scale_brings_a_link_s_end_closer(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=1e5)
    _, url = _result_url(kie)
    link = kie.ok(kie.post(DOWNLOAD_URL, {"url": url}))
    time.sleep(mock.clock.wall_seconds(20 * 60))  # 20 mock minutes: 12 ms of real time
    assert _expired(kie.fetch(link))


def test_download_url_knows_the_files_a_family_route_serves(kie: Kie) -> None:
    """A family's own file route (Runway's cover still) counts as issued; a name that route
    does not serve (a second still, a task of another family) is "url is wrong"."""
    body = {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}
    task_id = kie.ok(kie.post("/api/v1/runway/generate", body))["taskId"]
    record = kie.ok(kie.get(f"/api/v1/runway/record-detail?taskId={task_id}"))
    cover = record["videoInfo"]["imageUrl"]
    assert urllib.parse.urlsplit(cover).path == f"/files/{task_id}/cover/0.png"
    link = kie.ok(kie.post(DOWNLOAD_URL, {"url": cover}))
    assert kie.fetch(link).body == kie.fetch(cover).body
    other, _ = _result_url(kie)  # a Grok image: its task has no cover still
    for wrong in (cover.replace("/0.png", "/1.png"), cover.replace(task_id, other)):
        assert kie.post(DOWNLOAD_URL, {"url": wrong}).json()["msg"] == "url is wrong"


FROZEN = 1e-6  # the mock clock moves only when advanced (a boundary must not race the wall)
MOMENT = 0.01  # mock seconds: well above the clock's drift while a test runs
# the float ulp of an epoch time (2.4e-7 s): a step of MOMENT after lifetime - MOMENT may
# land that much short of the lifetime; a microsecond more is the lifetime itself
TICK = 1e-6


def _to_fraction(mock: MockServer, fraction: float) -> float:
    """Move the clock on to the next time whose fraction of a second is ``fraction``."""
    now = mock.clock.now()
    return mock.clock.advance((fraction - now % 1) % 1)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9])
def test_a_download_url_link_lives_exactly_20_minutes_from_its_issue(
    make_mock: MakeMock, fraction: float
) -> None:
    """X-Amz-Date holds whole seconds; a link issued at x.9 s expired 0.9 s early (longrun's
    finding 4). It is valid until the moment its 20 minutes are up, and not after."""
    mock, kie = make_mock(time_scale=FROZEN)
    _, url = _result_url(kie)
    issued = _to_fraction(mock, fraction)
    link = kie.ok(kie.post(DOWNLOAD_URL, {"url": url}))
    mock.clock.advance(20 * 60 - MOMENT - (mock.clock.now() - issued))
    assert kie.fetch(link).status == 200
    mock.clock.advance(MOMENT + TICK)
    assert _expired(kie.fetch(link))


def test_a_flux_origin_link_lives_exactly_10_minutes_from_the_task_end(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    task_id = kie.flux(prompt="p")
    ended = _to_fraction(mock, 0.9)
    mock.complete(task_id)
    origin = kie.flux_record(task_id)["response"]["originImageUrl"]
    mock.clock.advance(10 * 60 - MOMENT - (mock.clock.now() - ended))
    assert kie.fetch(origin).status == 200
    mock.clock.advance(MOMENT + TICK)
    assert _expired(kie.fetch(origin))
