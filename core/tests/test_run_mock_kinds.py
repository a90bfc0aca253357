"""``kie run MODEL --mock`` with a third party's market model: the embedded mock is told the
output kind the plugin's entry point declares (the mock imports no kiekit: the CLI passes it,
as ``kie mock serve --market-model`` does by hand), so a video model gets a video, not the JPEG
the mock guessed from the id (saved as ``.bin``, exit 0: marketplug's report); and a file of
another kind than the model declares is said, not saved silently."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGIN = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text


@frozen
class Prompt(Input):
    prompt: str = text()


class Clip(MarketProvider):
    name = "acme-clip"
    models = (Model("acme/clip-x", Prompt, MediaKind.VIDEO),)


@hookimpl
def kiekit_register_providers(register):
    register(Clip())
"""


@pytest.fixture
def clip_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-clip, declaring its video model ``acme/clip-x`` (an id whose wording the mock
    reads as an image's), installed as a distribution on sys.path."""
    import sys

    from kiekit import registry

    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_clip.py").write_text(PLUGIN)
    info = site / "acme_clip-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-clip\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kiekit.providers]\nacme/clip-x = acme_clip [video]\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "default_registry", registry.Registry)
    yield
    sys.modules.pop("acme_clip", None)


def test_the_embedded_mock_serves_an_installed_model_as_its_plugin_declares(
    clip_plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit import cli
    from kiekit.cli._common import installed_model_kinds

    assert installed_model_kinds()["acme/clip-x"] == "video"
    assert "veo3" not in installed_model_kinds()  # kiekit's own: the mock emulates them
    out = tmp_path / "out"
    argv = ["run", "acme/clip-x", "--prompt", "a fox", "--mock", "--mock-seconds", "0"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    [saved] = out.iterdir()
    assert saved.suffix == ".mp4"
    assert saved.read_bytes()[4:8] == b"ftyp"  # an MP4's box, not a JPEG's bytes
    capsys.readouterr()


def test_a_file_of_another_kind_than_the_model_declares_is_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kiekit._engine import Fetch, check_file_start
    from kiekit.models import MediaKind

    fetch = Fetch(
        "https://tempfile.example/t1-0.jpg?sig=secret",
        Path("t1-0.bin"),
        task_id="t1",
        kind=MediaKind.VIDEO,
    )
    with caplog.at_level(logging.WARNING, logger="kiekit"):
        check_file_start(fetch, "image/jpeg", b"\xff\xd8\xff\xe0")  # kept, not refused
        check_file_start(fetch, "video/mp4", b"\x00\x00\x00\x18ftypmp42")
    [said] = caplog.records
    assert "task t1: the video file https://tempfile.example/t1-0.jpg answered image/jpeg" in (
        said.getMessage()
    )
    assert "secret" not in said.getMessage()  # a signed link's query is no log's business
