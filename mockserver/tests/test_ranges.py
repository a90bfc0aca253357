"""Range requests on the files the mock serves (ranges.py): result files and the upload host's,
as the object stores KIE's links imitate answer them. A Node tester got all 157286400 bytes of
an upload for ``Range: bytes=0-9``, and never a 206 or a 416."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Answer, Kie, RecordedTask

DAY = 24 * 3600
RECORDED_MODEL = "grok-imagine/text-to-image"  # conftest's recorded_task
DATA = bytes(range(256)) * 4  # 1024 bytes, each position telling its offset mod 256


@pytest.fixture(params=["result", "upload", "har"])
def file_url(
    request: pytest.FixtureRequest, mock: MockServer, kie: Kie, recorded_task: RecordedTask
) -> tuple[str, bytes]:
    """The URL of a file the mock serves, and its bytes: a task's result file, an upload, or
    a replayed recording's file."""
    if request.param == "result":
        task_id = kie.create("google/nano-banana", prompt="x")
        url = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]
        return url, kie.fetch(url).body
    if request.param == "upload":
        body = {"base64Data": base64.b64encode(DATA).decode(), "uploadPath": "r", "fileName": "f"}
        host = kie.__class__(mock.upload_base_url, kie.key)
        data = host.ok(host.post("/api/file-base64-upload", body))
        return data["downloadUrl"], DATA
    mock.load_har(recorded_task("rec-1", "https://cdn.example/r/0.png", "image/png", DATA))
    kie.ok(kie.post("/api/v1/jobs/createTask", {"model": RECORDED_MODEL, "input": {"prompt": "x"}}))
    record = [kie.record("rec-1") for _ in range(2)][-1]
    url = json.loads(record["resultJson"])["resultUrls"][0]
    assert url.startswith(mock.base_url + "/_mock/har-files/")
    return url, DATA


def _get(kie: Kie, url: str, method: str = "GET", **headers: str) -> Answer:
    return kie.as_key(None).fetch(url, method=method, headers=headers)


def test_a_whole_file_says_it_takes_ranges(file_url: tuple[str, bytes], kie: Kie) -> None:
    url, data = file_url
    answer = _get(kie, url)
    assert answer.status == 200
    assert answer.body == data
    assert answer.headers["accept-ranges"] == "bytes"
    assert "content-range" not in answer.headers


@pytest.mark.parametrize(
    ("asked", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, None),
        ("bytes=-5", -5, None),
        ("bytes=3-99999999", 3, None),  # past the end: to the end
        ("bytes=-99999999", 0, None),  # more than there is: all of it, as a 206
    ],
)
def test_one_range_answers_206_with_its_bytes_and_content_range(
    file_url: tuple[str, bytes], kie: Kie, asked: str, start: int, end: int | None
) -> None:
    url, data = file_url
    size = len(data)
    first = start % size if start < 0 else min(start, size)
    last = size - 1 if end is None else end
    answer = _get(kie, url, Range=asked)
    assert answer.status == 206
    assert answer.body == data[first : last + 1]
    assert answer.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert answer.headers["content-length"] == str(last + 1 - first)
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["x-content-type-options"] == "nosniff"  # still served as untrusted
    head = _get(kie, url, "HEAD", Range=asked)  # HEAD: the same head, no bytes
    assert (head.status, head.body) == (206, b"")
    assert head.headers["content-range"] == answer.headers["content-range"]
    assert head.headers["content-length"] == answer.headers["content-length"]


@pytest.mark.parametrize("asked", ["bytes=99999999-", "bytes=-0"])
def test_a_range_past_the_end_answers_416_with_the_size(
    file_url: tuple[str, bytes], kie: Kie, asked: str
) -> None:
    url, data = file_url
    for method in ("GET", "HEAD"):
        answer = _get(kie, url, method, Range=asked)
        assert answer.status == 416
        assert answer.headers["content-range"] == f"bytes */{len(data)}"
    assert b"<Code>InvalidRange</Code>" in _get(kie, url, Range=asked).body  # S3's words


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-1,5-6"},  # several ranges: the whole file (as S3 answers)
        {"Range": "items=0-9"},  # another unit
        {"Range": "bytes=9-0"},  # not a range
        {"Range": "bytes=-"},
        {"Range": "bytes=0-9", "If-Range": '"some-etag"'},  # no validator could match
    ],
)
def test_what_is_not_one_byte_range_answers_the_whole_file(
    file_url: tuple[str, bytes], kie: Kie, headers: dict[str, str]
) -> None:
    url, data = file_url
    answer = _get(kie, url, **headers)
    assert answer.status == 200
    assert answer.body == data


def test_an_expired_link_is_refused_whatever_the_range(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create("google/nano-banana", prompt="x")
    url = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]
    mock.clock.advance(14 * DAY)
    answer = _get(kie, url, Range="bytes=0-9")
    assert answer.status == 403
    assert b"<Message>Request has expired</Message>" in answer.body
