"""What the contract asks of an installed provider's capability manifest (its entry point
tags). Its advice on a wrong output tag can be followed: a model of ``MediaKind.OTHER`` (3D
models, archives) is tagged ``other``, and the advice keeps the entry point's capabilities, so
writing what it says passes. A ``progress`` capability asks for a documented status with the
progress it means, so that the scale progress is read on is checked."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from kiekit import State
from kiekit_contract import ProviderContract

PLUGIN = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text


@frozen
class Prompt(Input):
    prompt: str = text()


class Mesh(MarketProvider):
    name = "acme-mesh"
    models = (Model("acme/mesh-v1", Prompt, MediaKind.OTHER),)


@hookimpl
def kiekit_register_providers(register):
    register(Mesh())
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Path]]:
    """acme-mesh 1.0 on sys.path, tagging its OTHER model ``any`` (as authors wrote before
    ``other`` was a tag), with the progress capability; and its entry_points.txt."""
    (tmp_path / "acme_mesh_kind.py").write_text(PLUGIN)
    info = tmp_path / "acme_mesh-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-mesh\nVersion: 1.0\n")
    points = info / "entry_points.txt"
    points.write_text("[kiekit.providers]\nacme/mesh-v1 = acme_mesh_kind [any, progress]\n")
    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("acme_mesh_kind"), points
    sys.modules.pop("acme_mesh_kind", None)


def test_the_advice_for_an_other_model_is_a_tag_that_passes(
    plugin: tuple[ModuleType, Path],
) -> None:
    module, points = plugin

    class Check(ProviderContract):
        provider = module.Mesh()
        check_entry_points = True

    with pytest.raises(AssertionError) as failed:
        Check().test_entry_points_declare_the_models()
    advice = re.search(r'write "acme/mesh-v1" = "(.+?)"', str(failed.value))
    assert advice is not None, str(failed.value)
    assert advice.group(1) == "acme_mesh_kind [other, progress]"
    points.write_text(f"[kiekit.providers]\nacme/mesh-v1 = {advice.group(1)}\n")
    Check().test_entry_points_declare_the_models()  # as advised: passes


# a market record, generating, at 45 of the 0-100 progress KIE gives (kie-api.md §2.2)
GENERATING = {
    "taskId": "t1",
    "model": "acme/mesh-v1",
    "state": "generating",
    "param": "{}",
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
    "progress": 45,
    "costTime": None,
    "completeTime": None,
    "createTime": 1776323915587,
}


def test_a_progress_capability_asks_for_a_documented_progress(
    plugin: tuple[ModuleType, Path],
) -> None:
    module, points = plugin
    points.write_text("[kiekit.providers]\nacme/mesh-v1 = acme_mesh_kind [other, progress]\n")

    class Pairs(ProviderContract):
        provider = module.Mesh()
        documented_statuses = ((GENERATING, State.RUNNING),)

    with pytest.raises(AssertionError, match=r"State.RUNNING, 0.45\) for KIE's 45 of 0-100"):
        Pairs().test_documented_progress_is_read_on_its_scale()

    class WithProgress(ProviderContract):
        provider = module.Mesh()
        documented_statuses = ((GENERATING, State.RUNNING, 0.45),)

    WithProgress().test_documented_progress_is_read_on_its_scale()  # the market's 45 / 100
