"""`kie providers --check` fails when something is wrong: a plugin that cannot be imported, and a
model id two distributions declare — each named in its JSON (issue 16)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROVIDER = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, Provider, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text


@frozen
class Prompt(Input):
    prompt: str = text()


class Dup(MarketProvider):
    name = "{name}"
    models = (Model("acme/dup-model", Prompt, MediaKind.IMAGE),)


@hookimpl
def kiekit_register_providers(register):
    register(Dup())
"""


def _dist(site: Path, name: str, entry_points: str, requires: str = "") -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    if requires:
        metadata += f"Requires-Dist: {requires}\n"
    (info / "METADATA").write_text(metadata)
    (info / "entry_points.txt").write_text(f"[kiekit.providers]\n{entry_points}\n")


@contextlib.contextmanager
def _duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *others: tuple[str, ...]
) -> Iterator[Path]:
    """acme-one and acme-two both declaring acme/dup-model (and ``others``: _dist's arguments
    after the site), importable for the test's length."""
    site = tmp_path / "site"
    site.mkdir()
    for name in ("acme_one", "acme_two"):
        (site / f"{name}.py").write_text(PROVIDER.replace("{name}", name))
    _dist(site, "acme-one", "acme/dup-model = acme_one")
    _dist(site, "acme-two", "acme/dup-model = acme_two")
    for other in others:
        _dist(site, *other)
    monkeypatch.syspath_prepend(str(site))
    try:
        yield site
    finally:
        for name in ("acme_one", "acme_two"):
            sys.modules.pop(name, None)


@pytest.fixture
def troubled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two distributions declaring one model id, a third whose module does not exist, and a
    fourth built for a kiekit far in the future."""
    with _duplicates(
        tmp_path,
        monkeypatch,
        ("acme-broken", "acme/broken-model = acme_missing_module"),
        ("acme-future", "acme/future-model = acme_one", "kiekit>=9,<10"),
    ):
        yield


def test_check_fails_and_names_each_problem(
    troubled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    problems = {(p["distribution"], p["kind"]) for p in report["problems"]}
    assert ("acme-broken", "quarantined") in problems
    assert ("acme-future", "incompatible") in problems
    assert {("acme-one", "duplicate"), ("acme-two", "duplicate")} <= problems
    broken = next(p for p in report["problems"] if p["distribution"] == "acme-broken")
    assert "acme_missing_module" in broken["detail"]


def test_check_in_plain_text_fails_too(troubled: None, capsys: pytest.CaptureFixture[str]) -> None:
    from kiekit.cli import main

    assert main(["providers", "--check"]) == 1
    err = capsys.readouterr().err
    assert "acme-broken" in err
    assert "acme/dup-model" in err


def test_a_healthy_install_passes_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    from kiekit.cli import main

    assert main(["providers", "--check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["problems"] == []


@pytest.fixture
def duplicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the two distributions declaring one model id: nothing else is wrong."""
    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    with _duplicates(tmp_path, monkeypatch):
        yield


def test_an_unsettled_duplicate_still_fails(
    duplicated: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {p["kind"] for p in report["problems"]} == {"duplicate"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KIEKIT_BLOCK_PLUGINS", "acme-two"),  # the blocked plugin is never loaded
        ("KIEKIT_PREFER", "acme/dup-model=acme-two"),  # the user picked the owner
        ("KIEKIT_PREFER", "acme/dup-model=Acme_One"),  # named as pip would accept it
    ],
)
def test_a_duplicate_the_user_settled_passes_the_check(
    duplicated: None,
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv(variable, value)
    assert main(["providers", "--check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["problems"] == []
    assert main(["providers", "--check"]) == 0
    assert "duplicate" not in capsys.readouterr().err


def test_preferring_a_plugin_that_does_not_declare_the_id_settles_nothing(
    duplicated: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv("KIEKIT_PREFER", "acme/dup-model=acme-three")
    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False


@pytest.fixture
def with_an_old_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-one, and acme-old: built for a kiekit far in the future, declaring the same id
    with other tags."""
    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_one.py").write_text(PROVIDER.replace("{name}", "acme_one"))
    _dist(site, "acme-one", "acme/dup-model = acme_one [image, callbacks, progress]")
    _dist(site, "acme-old", "acme/dup-model = acme_one [video]", "kiekit>=9,<10")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("acme_one", None)


def test_an_incompatible_plugin_owns_no_model_id(
    with_an_old_twin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    from kiekit.cli import main
    from kiekit.registry import PluginWarning, Registry

    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(p["distribution"], p["kind"]) for p in report["problems"]] == [
        ("acme-old", "incompatible")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # acme-old may be reported as skipped
        assert Registry().provider("acme/dup-model").name == "acme_one"


def test_each_distribution_shows_its_own_tags_for_a_shared_id(
    with_an_old_twin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    main(["providers", "--json"])
    rows = {row["distribution"]: row for row in json.loads(capsys.readouterr().out)["providers"]}
    assert rows["acme-one"]["manifest"]["acme/dup-model"] == {
        "output": "image",
        "capabilities": ["callbacks", "progress"],
    }
    assert rows["acme-old"]["manifest"]["acme/dup-model"] == {"output": "video", "capabilities": []}
    main(["providers"])
    listing = capsys.readouterr().out
    assert "acme/dup-model  [image, callbacks, progress]" in listing
    assert "acme/dup-model  [video]" in listing


PARTIAL = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, Provider, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text


@frozen
class Prompt(Input):
    prompt: str = text()


class Some(MarketProvider):
    name = "acme-some"
    models = (Model("acme/some-a", Prompt, MediaKind.IMAGE),)


@hookimpl
def kiekit_register_providers(register):
    register(Some())
"""
HOOK_RAISES = """
from kiekit import hookimpl


@hookimpl
def kiekit_register_providers(register):
    raise RuntimeError("boom: config file missing")
"""


@pytest.fixture
def unregistering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-nohook: a module with no hook at all, declaring one id; acme-some: a hook that
    registers one of the two ids it declares; acme-boom: a hook that raises."""
    site = tmp_path / "site"
    site.mkdir()
    modules = {"acme_nohook": '"""No kiekit_register_providers here."""\n'}
    modules |= {"acme_some": PARTIAL, "acme_boom": HOOK_RAISES}
    for name, text in modules.items():
        (site / f"{name}.py").write_text(text)
    _dist(site, "acme-nohook", "acme/nohook-model = acme_nohook [image]")
    _dist(site, "acme-some", "acme/some-a = acme_some [image]\nacme/some-b = acme_some [image]")
    _dist(site, "acme-boom", "acme/boom-model = acme_boom [image]")
    monkeypatch.syspath_prepend(str(site))
    yield
    for name in modules:
        sys.modules.pop(name, None)


def test_ids_a_plugin_declares_but_never_registers_fail_the_check_by_name(
    unregistering: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every use of such an id fails (`model 'acme/nohook-model' is unavailable`): the
    pre-deploy check says so first, naming the distribution and the ids."""
    from kiekit.cli import main

    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(p["distribution"], p["kind"]): p for p in report["problems"]}
    nohook = found["acme-nohook", "unregistered"]
    assert nohook["models"] == ["acme/nohook-model"]
    assert "'acme/nohook-model'" in nohook["detail"]
    assert found["acme-some", "unregistered"]["models"] == ["acme/some-b"]  # some-a is fine
    rows = {(r["distribution"], r["status"]): r["models"] for r in report["providers"]}
    assert rows["acme-some", "ok"] == ["acme/some-a"]
    assert main(["providers", "--check"]) == 1
    err = capsys.readouterr().err
    assert "acme-nohook: declares 'acme/nohook-model'" in err
    assert "acme-some: declares 'acme/some-b'" in err


def test_an_output_tag_the_model_contradicts_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry point tagged ``[video]`` for a model whose ``Model.output`` is IMAGE: ``kie
    providers`` advertises the tag and ``kie run --mock`` serves by it, so the pre-deploy check
    fails, naming the id, the tag and what the model says (marketplug's report: exit 0)."""
    from kiekit.cli import main

    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_tagged.py").write_text(PROVIDER.replace("{name}", "acme_tagged"))
    _dist(site, "acme-tagged", "acme/dup-model = acme_tagged [video, callbacks]")
    monkeypatch.syspath_prepend(str(site))
    try:
        assert main(["providers", "--check", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        [problem] = [p for p in report["problems"] if p["distribution"] == "acme-tagged"]
        assert (problem["kind"], problem["models"]) == ("mistagged", ["acme/dup-model"])
        assert problem["detail"].startswith(
            "'acme/dup-model': tagged [video], its Model.output says 'image'"
        )
        assert main(["providers"]) == 0  # the listing alone imports nothing, judges nothing
    finally:
        sys.modules.pop("acme_tagged", None)


def test_a_hook_that_raises_is_told_from_a_module_that_does_not_import(
    unregistering: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    assert main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    [boom] = [p for p in report["problems"] if p["distribution"] == "acme-boom"]
    assert boom["kind"] == "quarantined"
    assert boom["detail"] == (
        "quarantined: its kiekit_register_providers hook raised RuntimeError: "
        "boom: config file missing"
    )


@pytest.mark.parametrize("variable", ["KIEKIT_ALLOW_PLUGINS", "KIEKIT_BLOCK_PLUGINS"])
def test_a_policy_that_leaves_no_plugin_usable_fails_the_check(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`KIEKIT_ALLOW_PLUGINS=kiekit-veoo` (a typo) blocked every plugin, and the healthcheck
    still passed, "ok": true, for a container that could run no model (found by an outside
    tester)."""
    import warnings

    from kiekit.cli import main
    from kiekit.discovery import installed

    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    every = ",".join(sorted({item.distribution for item in installed()}))
    monkeypatch.setenv(variable, "kiekit-veoo" if variable == "KIEKIT_ALLOW_PLUGINS" else every)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a name no plugin has: warned, as before
        assert main(["providers", "--check", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert main(["providers", "--check"]) == 1
    assert report["ok"] is False
    (problem,) = report["problems"]
    assert problem["kind"] == "nothing_admitted"
    assert f"{variable} leaves no installed plugin usable, so no model can run" in problem["detail"]
    said = capsys.readouterr().err
    assert f"kie providers --check: {variable} leaves no installed plugin usable" in said


@pytest.fixture
def listing(troubled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``troubled``, and a fresh registry for `kie models` (not the process-wide one)."""
    from kiekit import registry

    for name in ("KIEKIT_BLOCK_PLUGINS", "KIEKIT_ALLOW_PLUGINS", "KIEKIT_PREFER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(registry, "default_registry", registry.Registry)


def test_models_marks_the_ids_no_plugin_serves_as_providers_check_does(
    listing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kie models` listed an id two plugins declare as the last one's, and a quarantined
    plugin's id as served, where `kie run` refuses both (found by an outside plugin author)."""
    from kiekit.cli import main

    assert main(["models", "acme/*", "--json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    dup = rows["acme/dup-model"]
    assert (dup["status"], dup["served_by"]) == ("contested", None)
    assert dup["declared_by"] == ["acme-one", "acme-two"]
    assert "KIEKIT_PREFER=acme/dup-model=<distribution>" in dup["detail"]
    broken = rows["acme/broken-model"]
    assert (broken["status"], broken["served_by"], broken["declared_by"]) == (
        "unavailable", None, ["acme-broken"],
    )  # fmt: skip
    assert "acme-broken is quarantined: failed to import" in broken["detail"]
    assert "acme_missing_module" in broken["detail"]
    assert rows["acme/future-model"]["status"] == "unavailable"  # built for another kiekit

    assert main(["models", "acme/*"]) == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert (
        "acme-one, acme-two  [contested: declared by acme-one and acme-two;"
        in lines["acme/dup-model"]
    )
    assert (
        "acme-broken  [unavailable: acme-broken is quarantined: failed"
        in lines["acme/broken-model"]
    )
    assert "quarantined" not in err  # said once, in its row, not again as a warning


def test_models_lists_a_settled_id_as_the_preferred_plugins(
    listing: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    monkeypatch.setenv("KIEKIT_PREFER", "acme/dup-model=acme-one")
    assert main(["models", "acme/dup-*", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["models"]
    assert row == {"model": "acme/dup-model", "served_by": "acme-one", "status": "ok"}


def test_models_of_a_contested_id_refuses_it_as_kie_run_does(
    listing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    assert main(["models", "acme/dup-model"]) == 2
    assert "declared by several plugins (acme-one, acme-two)" in capsys.readouterr().err
