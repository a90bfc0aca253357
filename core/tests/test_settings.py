"""Where clients talk to: KIE_BASE_URL / KIE_UPLOAD_BASE_URL, and one base URL means one service
(an API host that is not KIE's never sends uploads to KIE's upload host unless asked)."""

from __future__ import annotations

import json
import warnings
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
        ({"base_url": "http://proxy.corp:8080/kie"}, "base_url is http://proxy.corp:8080"),
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


# -- the environment's variables: one table, unknown names warned, a misspelt host refused --


@pytest.fixture
def warn_afresh() -> Any:
    """Each unknown name is warned once a process: a test sees its own first warning."""
    from kiekit import settings

    settings._warn_unknown.cache_clear()
    yield
    settings._warn_unknown.cache_clear()


@pytest.mark.parametrize(
    ("name", "close"),
    [
        ("KIE_BASEURL", "KIE_BASE_URL"),
        ("KIEKIT_DATADIR", "KIEKIT_DATA_DIR"),
        ("kie_api_key", "KIE_API_KEY"),  # names are read in capitals only
        ("KIEKIT_BASE_URL", "KIE_BASE_URL"),
        ("KIE_PROJECT", None),  # a name of the user's own: said, with no guess
    ],
)
def test_an_unknown_kie_variable_is_found_with_the_known_one_it_is_close_to(
    name: str, close: str | None
) -> None:
    from kiekit.settings import unknown_variables

    env = {name: "x", "KIE_BASE_URL": "http://127.0.0.1:9", "HOME": "/h", "KIEKIT": "x"}
    assert unknown_variables(env) == [(name, close)]


@pytest.mark.usefixtures("warn_afresh")
def test_a_client_warns_once_a_process_about_a_misspelt_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KIEKIT_DATADIR was ignored without a word: the journal went to the default folder."""
    from kiekit import UnknownVariableWarning

    monkeypatch.setenv("KIEKIT_DATADIR", "/tmp/x")
    with pytest.warns(UnknownVariableWarning) as said:
        Client("sk-fake", base_url="http://127.0.0.1:9", journal=None)
    (warning,) = said
    assert str(warning.message) == (
        "KIEKIT_DATADIR is not a variable kiekit reads; did you mean KIEKIT_DATA_DIR? "
        "(it is ignored)"
    )
    assert warning.filename == __file__  # the user's line, not kiekit's
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client("sk-fake", base_url="http://127.0.0.1:9", journal=None)  # once is enough


@pytest.mark.parametrize(
    ("misspelt", "variable"),
    [("KIE_BASEURL", "KIE_BASE_URL"), ("KIE_UPLOAD_BASEURL", "KIE_UPLOAD_BASE_URL")],
)
def test_a_misspelt_host_variable_is_refused_while_kies_real_host_would_be_used(
    misspelt: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job meant for a mock, with KIE_BASEURL=http://127.0.0.1:8000, sent its creates to
    the real api.kie.ai (found by an outside tester): refused before anything is sent."""
    from kiekit import UnknownVariableWarning

    env = {misspelt: "http://127.0.0.1:8000"}
    with pytest.raises(ConfigurationError) as refused:
        endpoints(environ=env)
    said = str(refused.value)
    assert said.startswith(f"{misspelt} is not a variable kiekit reads; did you mean {variable}?")
    assert "paid for" in said
    assert "http://127.0.0.1:8000" not in said  # a name, never a value
    real = DEFAULT_BASE_URL if variable == "KIE_BASE_URL" else DEFAULT_UPLOAD_BASE_URL
    # the ways out: name the real host, or a host at all (the misspelt name is then ignored)
    warnings.filterwarnings("ignore", category=UnknownVariableWarning)  # pytest restores them
    assert endpoints(environ={**env, variable: real}) == endpoints(environ={})
    if variable == "KIE_BASE_URL":
        assert endpoints(DEFAULT_BASE_URL, environ=env).base_url == DEFAULT_BASE_URL
        assert endpoints(environ={**env, variable: "http://127.0.0.1:9"}).base_url.endswith(":9")


@pytest.mark.usefixtures("warn_afresh")
def test_a_refused_host_variable_is_said_once_by_the_refusal_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warning that KIE_BASEURL "is ignored" came first, then the refusal saying the same."""
    from kiekit import UnknownVariableWarning

    monkeypatch.setenv("KIE_BASEURL", "http://127.0.0.1:8000")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(ConfigurationError, match="did you mean KIE_BASE_URL"):
            Client("sk-fake", journal=None)
        assert said == []
        # not refused (a host named): ignored, and said so once, at the user's line
        Client("sk-fake", base_url="http://127.0.0.1:9", journal=None)
        Client("sk-fake", base_url="http://127.0.0.1:9", journal=None)
    (warning,) = said
    assert warning.category is UnknownVariableWarning
    assert str(warning.message) == (
        "KIE_BASEURL is not a variable kiekit reads; did you mean KIE_BASE_URL? (it is ignored)"
    )
    assert warning.filename == __file__


def test_a_name_close_to_no_host_variable_is_only_warned() -> None:
    env = {"KIEKIT_DATADIR": "/x", "KIE_BASE_URL_STAGING": "http://127.0.0.1:9"}
    assert endpoints(environ=env).base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("arguments", "env", "said"),
    [
        ({}, {"KIE_BASE_URL": "notaurl"}, "KIE_BASE_URL must be an http(s) URL"),
        ({}, {"KIE_BASE_URL": "http://127.0.0.1:99999"}, "KIE_BASE_URL has a bad port"),
        ({}, {"KIE_UPLOAD_BASE_URL": "ftp://x"}, "KIE_UPLOAD_BASE_URL must be an http(s) URL"),
        ({"base_url": "notaurl"}, {"KIE_BASE_URL": "notaurl"}, "base_url must be an http(s)"),
        ({"upload_base_url": "ftp://x"}, {}, "upload_base_url must be an http(s) URL"),
    ],
)
def test_a_bad_url_names_where_it_came_from(
    arguments: dict[str, str], env: dict[str, str], said: str
) -> None:
    """A bad KIE_BASE_URL was reported as `base_url`, a name the user never wrote."""
    with pytest.raises(ConfigurationError) as refused:
        endpoints(arguments.get("base_url"), arguments.get("upload_base_url"), environ=env)
    assert str(refused.value).startswith(said)


@pytest.mark.usefixtures("warn_afresh")
def test_kie_refuses_a_misspelt_base_url_variable_and_warns_of_each_unknown_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`KIE_BASEURL=… KIEKIT_DATADIR=… kie credits` asked the real api.kie.ai, saying nothing
    of either variable (found by an outside tester)."""
    from kiekit import UnknownVariableWarning
    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "sk-fake")
    monkeypatch.setenv("KIE_BASEURL", "http://127.0.0.1:9")
    monkeypatch.setenv("KIEKIT_DATADIR", "/x")
    # shown as kie shows a warning, not raised as the suite's filter would
    warnings.filterwarnings("always", category=UnknownVariableWarning)  # pytest restores them
    assert main(["credits"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "kie: warning: KIEKIT_DATADIR is not a variable kiekit reads; did you mean "
        "KIEKIT_DATA_DIR? (it is ignored)"
    )
    # KIE_BASEURL is said once, by the refusal (not first warned of as ignored as well)
    assert err[1].startswith("kie: error: KIE_BASEURL is not a variable kiekit reads; did you")
    assert "KIE_BASE_URL=https://api.kie.ai" in err[1]  # the way on to KIE's real host
    assert len(err) == 2

    assert main(["credits", "--mock"]) == 0  # the embedded mock: no host to mistake
    said = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert said == [  # ignored there, and said so; KIEKIT_DATADIR was said: once a process
        "kie: warning: KIE_BASEURL is not a variable kiekit reads; did you mean KIE_BASE_URL? "
        "(it is ignored)",
    ]


def test_kie_names_the_option_or_variable_a_bad_url_came_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "sk-fake")
    assert main(["credits", "--base-url", "notaurl"]) == 2
    assert "kie: error: --base-url must be an http(s) URL, got 'notaurl'" in capsys.readouterr().err
    monkeypatch.setenv("KIE_BASE_URL", "notaurl")
    assert main(["credits"]) == 2
    assert "kie: error: KIE_BASE_URL must be an http(s) URL" in capsys.readouterr().err


@pytest.mark.parametrize("blank", ["", " "])
@pytest.mark.parametrize("name", ["KIE_BASE_URL", "KIE_UPLOAD_BASE_URL"])
def test_a_host_variable_set_but_empty_is_refused_not_read_as_kies_real_host(
    name: str, blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`KIE_BASE_URL=$MOCK_URL kie run …` with MOCK_URL unset sent the create to the real,
    paid api.kie.ai (found by an outside tester): set but empty is refused, as a misspelt name
    is, by the library and by kie, before anything is sent."""
    from kiekit import AsyncClient
    from kiekit.cli import main

    with pytest.raises(ConfigurationError, match=f"^{name} is set but empty"):
        endpoints(environ={name: blank})
    monkeypatch.setenv(name, blank)
    sent: list[HttpRequest] = []

    def answer(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return HttpResponse(200, b'{"code": 200, "msg": "success", "data": 7}')

    with pytest.raises(ConfigurationError, match=name):
        Client("sk-fake", transport=MockTransport(answer), journal=None)
    with pytest.raises(ConfigurationError, match=name):
        AsyncClient("sk-fake", journal=None)
    assert sent == []
    monkeypatch.setenv("KIE_API_KEY", "sk-fake")
    _dead_proxy(monkeypatch)
    assert main(["credits", "--json"]) == 2


def _dead_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy on a loopback port no one listens on: kiekit without the refusal would ask
    KIE's real host, and must stop on this machine."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def test_kie_says_which_host_variable_is_empty_in_its_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "sk-fake")
    _dead_proxy(monkeypatch)
    monkeypatch.setenv("KIE_BASE_URL", "")
    assert main(["run", "flux-kontext-pro", "--prompt", "x", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "ConfigurationError"
    assert error["message"].startswith("KIE_BASE_URL is set but empty")


@pytest.mark.parametrize("name", ["KIEKIT_DATA_DIR", "KIEKIT_JOURNAL_URL"])
def test_a_journal_variable_set_but_empty_is_refused_not_read_as_the_home_journal(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`KIEKIT_DATA_DIR= kie tasks` listed the rows of $HOME's journal, another job's."""
    from kiekit.cli import main
    from kiekit.journal import default_journal

    monkeypatch.setenv(name, "")
    with pytest.raises(ConfigurationError, match=f"^{name} is set but empty"):
        default_journal()
    with pytest.raises(ConfigurationError, match=name):
        Client("sk-fake", base_url="http://127.0.0.1:9")  # its default journal
    assert main(["tasks"]) == 2
    assert f"kie: error: {name} is set but empty" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["KIEKIT_LOG", "KIEKIT_STOP_GRACE", "KIEKIT_ALLOW_PLUGINS"])
def test_a_tuning_variable_set_but_empty_means_its_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv(name, "")
    assert main(["credits", "--mock"]) == 0
