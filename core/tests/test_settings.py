"""Where clients talk to: KIE_BASE_URL / KIE_UPLOAD_BASE_URL, and one base URL means one service
(an API host that is not KIE's never sends uploads to KIE's upload host unless asked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, ConfigurationError, PlainHttpWarning
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


CANARY_KEY = "sk-canary-plain-http-0123456789"


@pytest.mark.parametrize(
    ("hosts", "said"),
    [
        ({"base_url": "http://api.kie.ai"}, "base_url is http://api.kie.ai"),
        (
            {"base_url": "http://user:pw@proxy.corp:8080/kie"},
            "base_url is http://proxy.corp:8080",
        ),
        (
            {"base_url": "http://127.0.0.1:9", "upload_base_url": "http://files.example"},
            "upload_base_url is http://files.example",
        ),
    ],
)
def test_the_key_over_plain_http_to_another_machine_is_warned_of(
    hosts: dict[str, Any], said: str
) -> None:
    """`--base-url http://api.kie.ai` (a typo) sent `Authorization: Bearer <key>` in clear
    without a word (found by an outside tester). Nothing is sent here: the warning comes when
    the client is made, naming the host, never the key."""
    with pytest.warns(PlainHttpWarning) as caught:
        Client(CANARY_KEY, **hosts).close()
    (warning,) = caught
    message = str(warning.message)
    assert said in message
    assert CANARY_KEY not in message
    assert "pw" not in message
    assert warning.filename == __file__  # said where the client is made


@pytest.mark.parametrize(
    ("name", "url"),
    [("base_url", "http://127.0.0.1:99999"), ("base_url", "http://127.0.0.1:0"),
     ("base_url", "https://api.kie.ai:https"), ("upload_base_url", "http://127.0.0.1:70000")],
)  # fmt: skip
def test_a_bad_port_is_refused_naming_the_setting_before_anything_is_sent(
    name: str, url: str
) -> None:
    """It was urllib3's "LocationParseError" (a TransportError, retried) at the first call."""
    sent: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return HttpResponse(200, b"{}")

    hosts: dict[str, Any] = {"base_url": "http://127.0.0.1:9", name: url}
    with pytest.raises(ConfigurationError, match=f"^{name} has a bad port"):
        Client(CANARY_KEY, transport=MockTransport(answer), **hosts)
    assert sent == []


@pytest.mark.parametrize(
    "base_url",
    ["https://api.kie.ai", "http://127.0.0.1:9", "http://127.8.0.1:9", "http://[::1]:9",
     "http://localhost:9", "http://mock.localhost:9"],
)  # fmt: skip
def test_https_and_loopback_need_no_warning(base_url: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(CANARY_KEY, base_url=base_url, upload_base_url=base_url).close()
