"""Where clients talk to: KIE_BASE_URL / KIE_UPLOAD_BASE_URL, and one base URL means one service
(an API host that is not KIE's never sends uploads to KIE's upload host unless asked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kiekit import Client, ConfigurationError
from kiekit.settings import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL, endpoints
from kiekit.transport import HttpRequest, HttpResponse, MockTransport


def test_without_arguments_or_environment_both_hosts_are_kies() -> None:
    hosts = endpoints(environ={})
    assert (hosts.base_url, hosts.upload_base_url) == (DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL)


def test_the_environment_names_both_hosts_and_arguments_win_over_it() -> None:
    env = {"KIE_BASE_URL": "http://127.0.0.1:9/", "KIE_UPLOAD_BASE_URL": "http://127.0.0.1:8"}
    hosts = endpoints(environ=env)
    assert (hosts.base_url, hosts.upload_base_url) == ("http://127.0.0.1:9", "http://127.0.0.1:8")
    given = endpoints("http://127.0.0.1:7", environ=env)
    assert given.base_url == "http://127.0.0.1:7"


def test_another_api_host_gets_no_upload_host_by_default() -> None:
    hosts = endpoints("http://127.0.0.1:9", environ={})
    assert hosts.upload_base_url is None
    with pytest.raises(ConfigurationError, match="KIE_UPLOAD_BASE_URL"):
        hosts.require_upload_base_url()


@pytest.mark.parametrize("name", ["KIE_BASE_URL", "KIE_UPLOAD_BASE_URL"])
def test_a_bad_url_in_the_environment_is_a_configuration_error(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "api.kie.ai")
    with pytest.raises(ConfigurationError, match="http"):
        Client("sk-fake", journal=None)


def test_a_client_reads_kie_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_BASE_URL", "http://127.0.0.1:9")
    seen: list[str] = []

    def answer(request: HttpRequest) -> HttpResponse:
        seen.append(request.url)
        return HttpResponse(200, json.dumps({"code": 200, "msg": "success", "data": 7}).encode())

    with Client("sk-fake", transport=MockTransport(answer), journal=None) as kie:
        assert kie.credits() == 7
    assert seen == ["http://127.0.0.1:9/api/v1/chat/credit"]


def test_an_upload_on_another_api_host_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)

    def never(request: HttpRequest) -> HttpResponse:
        raise AssertionError(f"sent {request.url}")

    transport = MockTransport(never)
    with Client("sk-fake", base_url="http://127.0.0.1:9", transport=transport, journal=None) as kie:
        for source in (photo, b"bytes", "https://example.com/p.png"):
            with pytest.raises(ConfigurationError, match="no upload host"):
                kie.upload(source)
