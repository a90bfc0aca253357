"""Reading a plugin's declared compatibility and capability tags from metadata alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kiekit.discovery import Policy, incompatibility


class FakeDistribution:
    """Just the metadata `incompatibility` reads."""

    def __init__(self, *requires: str) -> None:
        self.requires = list(requires)


@pytest.mark.parametrize(
    ("requirement", "compatible"),
    [
        ("kiekit<0.2,>=0.1", True),
        ("kiekit (>=0.1,<0.2)", True),
        ("kiekit[mock]>=0.1", True),
        ("KieKit~=0.1", True),
        ("kiekit==0.1.*", True),
        ("kiekit<0.1", False),
        ("kiekit>=0.2", False),
        ("kiekit~=0.1.1", False),
        ("kiekit==0.2.*", False),
        ("kiekit!=0.1.0", False),
        ('kiekit<0.1 ; extra == "old"', True),  # only under a condition: not a blocker
        ("kiekit >=0.2", False),
        ("Kiekit[mock,cli] (>=0.2)", False),
        ("kiekit>=0.2;python_version>'3'", True),  # a marker: a condition, as above
        # other distributions, whatever their bounds: only the name `kiekit` is kiekit's (PEP 503)
        # (each with a second clause kiekit 0.1.0 fails, as in METADATA's sorted `<0.2,>=0.1.5`)
        ("kiekit-mock<0.1", True),
        ("kiekit-suno<0.2,>=0.1.5", True),
        ("kiekit_suno!=0.1.9,>=0.2", True),
        ("kiekit.suno (!=0.1.9,>=0.2)", True),
        ("KieKit-Market[x]<1,>=0.2", True),
        ("kiekitx<1,>=0.2", True),
        ("attrs>=99", True),
    ],
)
def test_the_declared_kiekit_range_decides(requirement: str, compatible: bool) -> None:
    why = incompatibility(FakeDistribution(requirement))  # type: ignore[arg-type]
    assert (why is None) is compatible
    if why is not None:
        assert "this is kiekit 0.1.0" in why


def test_a_plugin_that_states_nothing_is_compatible() -> None:
    assert incompatibility(FakeDistribution()) is None  # type: ignore[arg-type]
    assert incompatibility(None) is None


@pytest.mark.parametrize(
    ("environ", "admitted", "refused"),
    [
        ({"KIEKIT_BLOCK_PLUGINS": "kiekit-market"}, "kiekit-veo", "kiekit_market"),
        ({"KIEKIT_ALLOW_PLUGINS": "kiekit-veo"}, "kiekit-veo", "kiekit-sora"),
        ({"KIEKIT_ALLOW_PLUGINS": "a,b", "KIEKIT_BLOCK_PLUGINS": "b"}, "a", "b"),
        # set but blank is unset (as every variable): an empty allow-list would block them all
        ({"KIEKIT_ALLOW_PLUGINS": " ", "KIEKIT_BLOCK_PLUGINS": "b"}, "kiekit-veo", "b"),
    ],
)
def test_policy_from_the_environment(environ: dict[str, Any], admitted: str, refused: str) -> None:
    policy = Policy.from_env(environ)
    assert policy.admits(admitted)
    assert not policy.admits(refused)


def test_prefer_maps_model_ids_to_distributions() -> None:
    policy = Policy.from_env({"KIEKIT_PREFER": "a/b=Kiekit_X, c=kiekit-y"})
    assert policy.prefer == {"a/b": "kiekit-x", "c": "kiekit-y"}


def test_a_prefer_pair_without_its_equals_sign_is_said_not_silently_dropped() -> None:
    with pytest.warns(UserWarning, match="'garbage' is not MODEL=DISTRIBUTION"):
        policy = Policy.from_env({"KIEKIT_PREFER": "a=kiekit-x, garbage,"})
    assert policy.prefer == {"a": "kiekit-x"}


def _readme_providers() -> dict[str, str]:
    """The README's providers table: model id -> distribution."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("kiekit-") and cells[0] != "*":
            rows[cells[0]] = cells[1]
    return rows


def test_the_distribution_named_for_a_model_is_the_readmes() -> None:
    from kiekit.discovery import distribution_for

    table = _readme_providers()
    assert len(table) > 60  # the table was read
    assert {model: distribution_for(model) for model in table} == table
    assert distribution_for("nano-banana-pro") == "kiekit-market"  # any other id: the market


def test_a_model_of_a_plugin_not_installed_names_what_to_install() -> None:
    from kiekit.errors import UnknownModelError
    from kiekit.registry import Registry

    with pytest.raises(UnknownModelError, match="kiekit-veo serves it: install kiekit-veo"):
        Registry(discover=False).provider("veo3")
    blocked = Registry(blocked=["kiekit-veo", "kiekit-market"])
    with pytest.raises(
        UnknownModelError, match=r"kiekit-veo serves it, but Registry\(blocked=…\) leaves"
    ):
        blocked.provider("veo3")
    with pytest.raises(UnknownModelError) as info:  # served by a plugin that is here: no hint
        Registry(blocked=["kiekit-market"]).provider("flux-kontext-mx")
    assert "serves it" not in str(info.value)


def test_a_typo_of_a_third_party_id_names_it_not_the_market_to_install() -> None:
    """An id of no known product line is kiekit-market's guess; with an installed plugin's id
    close to it, the typo is named and installing the market (which would send it to KIE as
    an open market job) is not advised (marketplug's report)."""
    from attrs import frozen
    from kiekit import Input, MediaKind, Model
    from kiekit.errors import UnknownModelError
    from kiekit.families.market import MarketProvider
    from kiekit.fields import text
    from kiekit.registry import Registry

    @frozen
    class Prompt(Input):
        prompt: str = text()

    class Turbo(MarketProvider):
        name = "acme-turbo"
        models = (Model("acme/turbo-image", Prompt, MediaKind.IMAGE),)

    registry = Registry(discover=False)
    registry.add_provider(Turbo())
    with pytest.raises(UnknownModelError) as info:
        registry.provider("acme/turbo-imag")
    assert "did you mean 'acme/turbo-image'" in str(info.value)
    assert "kiekit-market" not in str(info.value)
    with pytest.raises(UnknownModelError, match="kiekit-market serves it: install"):
        registry.provider("acme/nothing-like-it")  # no close id: the market may serve it


def test_the_market_does_not_take_the_id_of_a_typed_plugin_that_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README, Install: with kiekit-market installed but not kiekit-gpt4o-image or
    kiekit-runway, their ids are not sent as market jobs (the wrong path, kie-api.md §3) but
    name the plugin to install."""
    from kiekit import discovery
    from kiekit.errors import UnknownModelError
    from kiekit.registry import Registry

    every = list(discovery.entry_points_of_group())
    missing = {"kiekit-gpt4o-image", "kiekit-runway"}
    here = [ep for ep in every if discovery.distribution_of(ep) not in missing]
    monkeypatch.setattr(discovery, "entry_points_of_group", lambda: here)
    registry = Registry()
    for model, folder in [("gpt4o-image", "gpt4o-image"), ("runway/generate", "runway")]:
        with pytest.raises(UnknownModelError, match=f"install kiekit-{folder} .*plugins/{folder};"):
            registry.provider(model)
    with pytest.raises(
        UnknownModelError, match=r"kiekit-veo serves it, but Registry\(blocked=…\) leaves"
    ):
        Registry(blocked=["kiekit-veo"]).provider("veo3")
    # the market's own: a catalogue id of a typed plugin's family (Kling is market jobs) and
    # any other id
    market_only = Registry(blocked=["kiekit-kling"])
    for model in ["kling-3.0/video", "nano-banana-pro", "acme/new-model"]:
        assert market_only.provider(model).name == "market"


def test_every_media_kind_is_an_output_tag() -> None:
    """A model of MediaKind.OTHER (3D models…) is tagged ``other``, as the contract advises:
    read as its output, not as a capability."""
    from importlib.metadata import EntryPoint

    from kiekit import MediaKind
    from kiekit.discovery import OUTPUTS, tags_of

    assert {kind.value for kind in MediaKind} | {"any"} == OUTPUTS
    point = EntryPoint("acme/mesh-v1", "acme_mesh [other, callbacks]", "kiekit.providers")
    assert tags_of(point) == ("other", ("callbacks",))
