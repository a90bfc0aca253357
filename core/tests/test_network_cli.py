"""``kie``'s network options: ``--proxy``, ``--no-proxy`` and ``--ca-file``, through the suite's
forward proxy and TLS front on 127.0.0.1 (the ``network`` fixture: "kie.test" stands for a
remote host and resolves here, without DNS). A bad option is a usage error naming it, before
anything is sent, and a proxy's password is never shown."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, cast

import pytest
import trustme
from kiekit import Client
from kiekit.cli import _parser, main

REMOTE = "kie.test"
FAKE_KEY = "sk-fake-network-cli-key-0123456789"
# plain http to kie.test is what these tests are about (it is not loopback by name)
pytestmark = pytest.mark.filterwarnings("ignore::kiekit.settings.PlainHttpWarning")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64) + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # for the mock: never a real key


def remote(url: str) -> str:
    """The mock's URL under the remote-looking name (same port, still 127.0.0.1)."""
    return url.replace("127.0.0.1", REMOTE)


def results(out: Path) -> list[dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def asked(seen: list[str]) -> list[str]:
    """The proxy's log as method and path: ``GET /api/v1/chat/credit``."""
    return [f"{line.split(' ')[0]} /{line.split('/', 3)[3].split('?')[0]}" for line in seen]


def test_credits_upload_and_batch_go_through_the_proxy_named_by_proxy(
    network: Any, mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--base-url", remote(mock_server.base_url),
             "--upload-base-url", remote(mock_server.upload_base_url)]  # fmt: skip
    proxy = ["--proxy", network.proxy_url]
    assert main(["credits", *where, *proxy]) == 0
    photo = tmp_path / "p.png"
    photo.write_bytes(PNG)
    assert main(["upload", str(photo), *where, *proxy]) == 0
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "a"}}) + "\n")
    out = tmp_path / "out"
    batch = ["batch", str(jobs), "--out", str(out), "--poll-interval", "0.01"]
    assert main([*batch, *where, *proxy]) == 0
    capsys.readouterr()
    seen = asked(network.seen)
    assert seen[:2] == ["GET /api/v1/chat/credit", "POST /api/file-stream-upload"]
    assert seen[2:5] == ["POST /api/v1/flux/kontext/generate",
                         "GET /api/v1/flux/kontext/record-info",
                         "GET /api/v1/flux/kontext/record-info"]  # fmt: skip
    assert seen[5:]
    assert all(line.startswith("GET /files/") for line in seen[5:])
    assert all(Path(f).is_file() for f in results(out)[0]["files"])


def test_an_https_host_of_a_private_ca_is_reached_through_the_proxys_tunnel_with_ca_file(
    network: Any, mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CONNECT through --proxy, then TLS checked against --ca-file's CA; without it the
    handshake fails (the system's CAs do not know this one) before a create is sent."""
    port = network.tls_front(int(mock_server.base_url.rsplit(":", 1)[1]))
    ca = tmp_path / "corp-ca.pem"
    network.ca.cert_pem.write_to_path(str(ca))
    where = ["--base-url", f"https://{REMOTE}:{port}", "--proxy", network.proxy_url]

    run = ["run", "flux-kontext-pro", "--prompt", "a fox", "--out", str(tmp_path / "out")]
    assert main([*run, *where, "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)["error"]
    assert "certificate verify failed" in failed["message"]
    assert failed["task_id"] is None
    assert mock_server.tasks() == []  # refused at the handshake: nothing created
    assert set(network.seen) == {f"CONNECT {REMOTE}:{port}"}

    network.seen.clear()
    assert main(["credits", *where, "--ca-file", str(ca), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["credits"] > 0
    assert network.seen == [f"CONNECT {REMOTE}:{port}"]


def test_kie_resume_polls_through_the_proxy(
    network: Any, mock_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = remote(mock_server.base_url)
    with Client(FAKE_KEY, base_url=base, trust_env=False) as kie:  # straight: not through it
        task = kie.submit("flux-kontext-pro", prompt="a fox", out_dir=tmp_path / "out")
    assert network.seen == []
    resume = ["resume", "--base-url", base, "--poll-interval", "0.01"]
    assert main([*resume, "--proxy", network.proxy_url]) == 0
    assert f"resumed task {task.id}" in capsys.readouterr().err
    assert "GET /api/v1/flux/kontext/record-info" in asked(network.seen)


def test_no_proxy_goes_straight_whatever_the_environment_names(
    network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", network.proxy_url)
    monkeypatch.setenv("HTTP_PROXY", network.proxy_url)
    where = ["--base-url", remote(mock_server.base_url)]
    assert main(["credits", *where, "--no-proxy"]) == 0
    assert network.seen == []
    assert main(["credits", *where]) == 0  # the environment's proxy, as before
    assert asked(network.seen) == ["GET /api/v1/chat/credit"]


def test_a_socks_proxy_in_the_environment_names_the_way_out_on_the_command_line(
    network: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://user:secret@127.0.0.1:1080")
    assert main(["credits", "--base-url", remote(mock_server.base_url)]) == 2
    err = capsys.readouterr().err
    assert "ALL_PROXY" in err
    assert "--no-proxy" in err
    assert "secret" not in err
    assert main(["credits", "--base-url", remote(mock_server.base_url), "--no-proxy"]) == 0


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--proxy", "socks5://user:secret@127.0.0.1:1080", "http:// and https:// proxies only"),
        ("--proxy", "http://user:secret@127.0.0.1:99999", "bad port"),
        ("--proxy", "http://user:secret@:3128", "names no host"),
        ("--ca-file", "no-such-ca.pem", "no such file: no-such-ca.pem"),
        ("--ca-file", ".", "cannot read .: Is a directory"),
        ("--ca-file", "jobs.jsonl", "jobs.jsonl holds no PEM certificate"),
    ],
)
def test_a_bad_network_option_is_a_usage_error_naming_it_before_anything_is_sent(
    network: Any,
    mock_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("jobs.jsonl").write_text(json.dumps({"model": "flux-kontext-pro", "input": {}}) + "\n")
    where = ["--base-url", remote(mock_server.base_url)]
    for command in (["credits"], ["run", "flux-kontext-pro", "--prompt", "a"],
                    ["batch", "jobs.jsonl", "--out", "out"], ["resume"]):  # fmt: skip
        # a value the option's check refuses: a ValidationError naming it, exit 2
        assert main([*command, *where, option, value, "--json"]) == 2
        shown = capsys.readouterr()
        error = json.loads(shown.out)["error"]
        assert (error["type"], error["field"]) == ("ValidationError", option)
        assert error["message"].startswith(f"{option}: ")
        assert said in error["message"]
        assert "secret" not in shown.out + shown.err
    assert network.seen == []
    assert mock_server.requests() == []
    assert not Path("out").exists()


@pytest.mark.parametrize("option", [["--proxy", "http://p.test:3128"], ["--ca-file", "ca.pem"]])
def test_network_options_that_would_be_left_unused_are_refused(
    option: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The embedded mock is reached straight over http; Celery workers use their own
    environment: either way the option would do nothing, so it is refused."""
    monkeypatch.chdir(tmp_path)
    trustme.CA().cert_pem.write_to_path("ca.pem")
    jobs = Path("jobs.jsonl")
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "a"}}) + "\n")
    assert main(["run", "flux-kontext-pro", "--prompt", "a", "--mock", *option]) == 2
    assert f"{option[0]} does not go with --mock" in capsys.readouterr().err
    assert main(["batch", "jobs.jsonl", "--out", "out", "--celery", *option]) == 2
    assert f"{option[0]} does not go with --celery" in capsys.readouterr().err
    assert not Path("out").exists()


def test_every_command_that_takes_a_base_url_takes_the_network_options() -> None:
    """A command that talks to KIE must reach it through a corporate proxy too."""
    subparsers = _parser()._subparsers
    assert subparsers is not None
    commands = cast("dict[str, argparse.ArgumentParser]", subparsers._group_actions[0].choices)
    # kie adopt's --base-url says where the task it journals lives: it sends nothing
    talking = {name: parser for name, parser in commands.items()
               if "--base-url" in parser._option_string_actions and name != "adopt"}  # fmt: skip
    assert {"run", "batch", "resume", "credits", "upload", "chat"} <= set(talking)
    for name, parser in talking.items():
        assert {"--proxy", "--no-proxy", "--ca-file"} <= set(parser._option_string_actions), name
