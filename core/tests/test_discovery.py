"""Reading a plugin's declared compatibility and capability tags from metadata alone."""

from __future__ import annotations

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
        ("kiekit-mock<0.1", True),  # another distribution
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
    ],
)
def test_policy_from_the_environment(environ: dict[str, Any], admitted: str, refused: str) -> None:
    policy = Policy.from_env(environ)
    assert policy.admits(admitted)
    assert not policy.admits(refused)


def test_prefer_maps_model_ids_to_distributions() -> None:
    policy = Policy.from_env({"KIEKIT_PREFER": "a/b=Kiekit_X, c=kiekit-y"})
    assert policy.prefer == {"a/b": "kiekit-x", "c": "kiekit-y"}
