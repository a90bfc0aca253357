"""Result files are real little media files served back by the mock (kie-api.md §2.2, §3.2)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import TYPE_CHECKING

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, tag = struct.unpack(">I4s", data[8:16])
    assert (length, tag) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _png_pixels_ok(data: bytes) -> bool:
    """Walk the chunks, check CRCs, inflate IDAT: a decoder's minimum."""
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(tag + body) & 0xFFFFFFFF != crc:
            return False
        idat += body if tag == b"IDAT" else b""
        pos += 12 + length
    width, height = _png_size(data)
    return len(zlib.decompress(idat)) == height * (1 + 3 * width)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    pos = 2
    while pos < len(data):
        marker, length = struct.unpack(">HH", data[pos : pos + 4])
        if marker == 0xFFC0:  # baseline SOF
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise AssertionError("no SOF0 segment")


def _get_file(kie: Kie, url: str) -> Answer:
    answer = kie.as_key(None).fetch(url)  # no Authorization: CDN links are public
    assert answer.status == 200
    return answer


def test_flux_png_result_is_a_real_png(kie: Kie) -> None:
    task_id = kie.flux(prompt="p", outputFormat="png", aspectRatio="16:9")
    url = kie.flux_record(task_id)["response"]["resultImageUrl"]
    answer = _get_file(kie, url)
    assert answer.content_type == "image/png"
    assert _png_size(answer.body) == (64, 36)
    assert _png_pixels_ok(answer.body)


def test_flux_default_result_is_a_real_jpeg(kie: Kie) -> None:
    task_id = kie.flux(prompt="p", aspectRatio="9:16")
    url = kie.flux_record(task_id)["response"]["resultImageUrl"]
    assert url.endswith(".jpeg")
    answer = _get_file(kie, url)
    assert answer.content_type == "image/jpeg"
    assert answer.body[:3] == b"\xff\xd8\xff"
    assert _jpeg_size(answer.body) == (36, 64)


def test_grok_images_are_distinct_jpegs(kie: Kie) -> None:
    record = kie.record(kie.create("grok-imagine/text-to-image", prompt="p"))
    bodies = []
    for url in json.loads(record["resultJson"])["resultUrls"]:
        answer = _get_file(kie, url)
        assert answer.content_type == "image/jpeg"
        assert _jpeg_size(answer.body) == (64, 64)
        bodies.append(answer.body)
    assert len(set(bodies)) == 6


def test_video_result_is_an_mp4(kie: Kie) -> None:
    record = kie.record(kie.create("grok-imagine/text-to-video", prompt="p"))
    (url,) = json.loads(record["resultJson"])["resultUrls"]
    answer = _get_file(kie, url)
    assert answer.content_type == "video/mp4"
    assert answer.body[4:8] == b"ftyp"


@pytest.mark.parametrize("name", ["6.jpg", "0.png", "x.jpg", "0", "-1.jpg"])
def test_unknown_file_is_a_real_404(kie: Kie, name: str) -> None:
    record = kie.record(kie.create("grok-imagine/text-to-image", prompt="p"))
    assert kie.fetch(f"{kie.base_url}/files/{record['taskId']}/{name}").status == 404


def test_no_file_for_unknown_pending_or_failed_tasks(make_mock: MakeMock) -> None:
    _, kie = make_mock(polls_to_complete=1)
    assert kie.fetch(f"{kie.base_url}/files/{'a' * 32}/0.jpg").status == 404
    pending = kie.create("grok-imagine/upscale", task_id="t")
    assert kie.fetch(f"{kie.base_url}/files/{pending}/0.jpg").status == 404
    failed = kie.create("grok-imagine/text-to-image", prompt="[mock:fail]")
    kie.record(failed)
    kie.record(failed)
    assert kie.fetch(f"{kie.base_url}/files/{failed}/0.jpg").status == 404


def test_links_follow_the_host_the_client_used(mock: MockServer, kie: Kie) -> None:
    # result links are built from the incoming request's host, whatever the port
    headers = {"Authorization": "Bearer k", "Host": "localhost:9"}
    body = json.dumps({"prompt": "p"}).encode()
    url = f"{mock.base_url}/api/v1/flux/kontext/generate"
    task_id = kie.fetch(url, method="POST", data=body, headers=headers).json()["data"]["taskId"]
    url = f"{mock.base_url}/api/v1/flux/kontext/record-info?taskId={task_id}"
    record = kie.fetch(url, headers=headers).json()["data"]
    assert record["response"]["resultImageUrl"] == f"http://localhost:9/files/{task_id}/0.jpeg"
    (task,) = mock.tasks()
    assert task.result_urls() == [f"http://localhost:9/files/{task_id}/0.jpeg"]


def test_a_text_result_is_served_as_text(make_mock: MakeMock) -> None:
    """A lyrics task's ``0.txt`` was a 500 (KeyError 'txt'), found by schemathesis after
    ``POST /_mock/tasks/{id}/complete``; every type now has a real file and a sane type."""
    mock, kie = make_mock()
    lyrics = kie.ok(
        kie.post("/api/v1/lyrics", {"prompt": "sea", "callBackUrl": "http://127.0.0.1:9/cb"})
    )["taskId"]
    mock.complete(lyrics)
    text = _get_file(kie, f"{kie.base_url}/files/{lyrics}/0.txt")
    assert text.content_type.startswith("text/plain")
    assert text.body.decode().startswith("kiekit-mock ")
    assert kie.fetch(f"{kie.base_url}/files/{lyrics}/0.mp4").status == 404  # not its type


@pytest.mark.parametrize(
    ("ext", "expected"),
    [
        ("wav", "audio/wav"),
        ("mid", "audio/midi"),
        ("txt", "text/plain"),
        ("webm", "video/webm"),
        ("zzz", "application/octet-stream"),
    ],
)
def test_an_extension_no_table_knows_still_gets_a_sane_type(ext: str, expected: str) -> None:
    from kiekit_mock.files import content_type

    assert content_type(ext) == expected


def test_a_midi_result_is_a_standard_midi_file() -> None:
    from kiekit_mock.media import midi_bytes

    data = midi_bytes("t/0")
    assert data[:4] == b"MThd"
    assert struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 96)
    assert data[14:18] == b"MTrk"
    (length,) = struct.unpack(">I", data[18:22])
    assert len(data) == 22 + length
    assert data.endswith(b"\x00\xff\x2f\x00")
