"""A family from another package serves result files of its own types and bytes: per index
(``TaskSpec.result_exts``: two models and a PNG preview) and made by its
``FamilyExtension.result_file`` hook (a real glTF header, not a line of text), the mock's own
bytes where the hook gives None."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import InstallFamily, Kie

GLB = b"glTF\x02\x00\x00\x00"  # a binary glTF's header: magic, version 2

HOOK = """

def result_file(task, index):
    if index == 1 and task.prompt == "broken model":
        raise RuntimeError("no mesh")
    return b"glTF\\x02\\x00\\x00\\x00" if task.result_ext_at(index) == "glb" else None


EXTENSION = FamilyExtension(
    name=FAMILY, routes=ROUTES, callback_payload=callback_payload, result_file=result_file,
)
"""


def _models_and_preview(source: str) -> str:
    spec = 'result_ext="glb", result_count=2,'
    assert spec in source
    mixed = 'result_ext="glb", result_count=3, result_exts=("glb", "glb", "png"),'
    return source.replace(spec, mixed) + HOOK


@pytest.fixture
def meshes(install_family: InstallFamily) -> None:
    install_family("mesh-f", edit=_models_and_preview)


def _finished(kie: Kie, prompt: str) -> list[str]:
    task_id = kie.ok(kie.post("/api/v1/mesh-f/generate", {"prompt": prompt}))["taskId"]
    done = kie.record(task_id, "/api/v1/mesh-f/record-info")
    assert done["status"] == "COMPLETED"
    urls: list[str] = done["result"]["modelUrls"]
    return urls


def test_each_result_file_has_its_own_type_and_the_familys_bytes(meshes: None, kie_at: Any) -> None:
    with MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        urls = _finished(kie, "a chair")
        assert [url.rsplit("/", 1)[1] for url in urls] == ["0.glb", "1.glb", "2.png"]
        model, preview = kie.fetch(urls[0]), kie.fetch(urls[2])
        assert (model.status, model.content_type, model.body) == (200, "model/gltf-binary", GLB)
        assert (preview.content_type, preview.body[:4]) == ("image/png", b"\x89PNG")  # the mock's
        assert kie.fetch(urls[2].replace(".png", ".glb")).status == 404  # index 2 is a PNG
        assert kie.fetch(urls[0].replace(".glb", ".png")).status == 404


def test_a_result_file_hook_that_raises_answers_500_naming_the_family(
    meshes: None, kie_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kiekit_mock"), MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        urls = _finished(kie, "broken model")
        assert kie.fetch(urls[0]).status == 200
        assert kie.fetch(urls[1]).status == 500
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "mock family extension 'mesh-f' (acme-mesh)" in line
    assert "RuntimeError: no mesh" in line
