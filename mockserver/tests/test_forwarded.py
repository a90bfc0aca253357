"""A mock behind a TLS-terminating front or a reverse proxy hands out links with the scheme and
host the client used (Forwarded / X-Forwarded-*): the links are only text, the mock never
connects by them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

FRONT = "kie.example:8443"
GROK = {"model": "grok-imagine/text-to-image", "input": {"prompt": "p"}}
BEHIND = [
    {"X-Forwarded-Proto": "https", "X-Forwarded-Host": FRONT},
    {"Forwarded": f'for=10.0.0.7;proto=https;host="{FRONT}", for=10.0.0.8;proto=http'},
]


def _post(kie: Any, base: str, path: str, body: Any, front: dict[str, str]) -> Any:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer test-key", **front}
    answer = kie.fetch(base + path, method="POST", data=json.dumps(body).encode(), headers=headers)
    return kie.ok(answer)


def _get(kie: Any, path: str, front: dict[str, str]) -> Any:
    headers = {"Authorization": "Bearer test-key", **front}
    return kie.ok(kie.fetch(kie.base_url + path, headers=headers))


@pytest.mark.parametrize("front", BEHIND)
def test_result_links_name_the_front_the_client_reached(kie: Any, front: dict[str, str]) -> None:
    task_id = _post(kie, kie.base_url, "/api/v1/jobs/createTask", GROK, front)
    record = _get(kie, f"/api/v1/jobs/recordInfo?taskId={task_id['taskId']}", front)
    urls = json.loads(record["resultJson"])["resultUrls"]
    assert urls
    assert all(url.startswith(f"https://{FRONT}/files/") for url in urls)


@pytest.mark.parametrize("front", BEHIND)
def test_an_uploads_download_url_names_the_front_too(
    kie: Any, mock: Any, front: dict[str, str]
) -> None:
    body = {
        "base64Data": base64.b64encode(b"hello").decode(),
        "uploadPath": "t",
        "fileName": "a.txt",
    }
    data = _post(kie, mock.upload_base_url, "/api/file-base64-upload", body, front)
    assert data["downloadUrl"].startswith(f"https://{FRONT}/")


@pytest.mark.parametrize(
    "front",
    [{"X-Forwarded-Host": "evil.example/path"}, {"X-Forwarded-Proto": "gopher"}, {}],
)
def test_without_a_usable_forwarded_header_links_name_the_mock_itself(
    kie: Any, front: dict[str, str]
) -> None:
    task_id = _post(kie, kie.base_url, "/api/v1/jobs/createTask", GROK, front)
    record = _get(kie, f"/api/v1/jobs/recordInfo?taskId={task_id['taskId']}", {})
    urls = json.loads(record["resultJson"])["resultUrls"]
    assert all(url.startswith(f"{kie.base_url}/files/") for url in urls)
