"""Two installed mock extensions that want one route: the one loaded first (kiekit-mock's own,
then by entry point name) keeps it, the other is left out with a log line naming who holds the
route and how to serve the other instead: KIEKIT_MOCK_BLOCK_EXTENSIONS, which leaves out
extensions by entry point or distribution name as KIEKIT_BLOCK_PLUGINS leaves out plugins."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer
from kiekit_mock.extension import installed_families

if TYPE_CHECKING:
    from conftest import InstallFamily, Kie

BLOCK = "KIEKIT_MOCK_BLOCK_EXTENSIONS"


@pytest.fixture
def clashing(install_family: InstallFamily, monkeypatch: pytest.MonkeyPatch) -> None:
    """mesh-c (acme-mesh-c), and a-dup (acme-dup): another family whose status route is
    mesh-c's, under an entry point that sorts first."""
    monkeypatch.delenv(BLOCK, raising=False)
    install_family("mesh-c", dist="acme-mesh-c")
    on_mesh = '"/api/v1/a-dup/record-info"', '"/api/v1/mesh-c/record-info"'
    install_family("a-dup", dist="acme-dup", edit=lambda source: source.replace(*on_mesh))


def _names() -> list[str]:
    return [extension.name for extension in installed_families()]


def test_the_one_left_out_is_told_who_holds_the_route_and_how_to_choose(
    clashing: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kiekit_mock"):
        names = _names()
    assert "a-dup" in names
    assert "mesh-c" not in names
    [line] = [r.getMessage() for r in caplog.records if "'mesh-c'" in r.getMessage()]
    assert "(acme-mesh-c) failed to load" in line
    assert (
        "route GET /api/v1/mesh-c/record-info is already extension 'a-dup' (acme-dup)'s, "
        f"loaded first; to serve this one instead, set {BLOCK}=a-dup"
    ) in line


@pytest.mark.parametrize("named", ["a-dup", "Acme_Dup"])  # entry point, or distribution
def test_blocking_the_other_serves_the_one_chosen(
    clashing: None, named: str, monkeypatch: pytest.MonkeyPatch, kie_at: Any
) -> None:
    monkeypatch.setenv(BLOCK, f" {named} ")
    names = _names()
    assert "mesh-c" in names
    assert "a-dup" not in names
    with MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        task_id = kie.ok(kie.post("/api/v1/mesh-c/generate", {"prompt": "a chair"}))["taskId"]
        assert kie.record(task_id, "/api/v1/mesh-c/record-info")["status"] == "COMPLETED"


def test_a_blocked_name_no_extension_has_is_said(
    clashing: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(BLOCK, "a-dupp")
    with caplog.at_level(logging.WARNING, logger="kiekit_mock"):
        assert "a-dup" in _names()
    assert f"{BLOCK} names 'a-dupp', no installed mock extension" in caplog.text
