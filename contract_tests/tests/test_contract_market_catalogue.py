"""A third party's new market model, taught to the mock without a fork: its catalogue entry
(``MockConfig.market_catalogue``, the form of the mock's own ``catalogue.json``) makes the mock
check its fields as KIE does, so the contract's field test catches a wrong wire name
(``style`` sent as ``styleName``: KIE ignores it and makes its default style, paid for); with
only ``extra_market_models`` the mock knows no fields, and the test says so by skipping
instead of passing (marketplug's report, finding 5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Outcomes = dict[str, dict[str, str]]  # test class → contract test → outcome
RunContract = Callable[..., tuple[Outcomes, str]]  # conftest.run_contract
AGREE = "test_field_checks_agree_with_the_mock"

ENTRY = {
    "id": "acme/turbo-image",
    "kind": "image",
    "file": "png",
    "source": "https://docs.acme.example/turbo-image",
    "fields": {
        "prompt": {"type": "string", "required": True, "max_length": 5000},
        "style": {"type": "string", "enum": ["vivid", "natural"]},
    },
}

# the session mock's config, in the test module (run_contract writes the conftest)
SESSION_CONFIG = f"""
import dataclasses

import pytest
from kiekit_contract.plugin import SESSION_MOCK_CONFIG

TAUGHT = {{"catalogue": {{"market_catalogue": ({ENTRY!r},)}},
          "extra": {{"extra_market_models": {{"acme/turbo-image": "image"}}}}}}


@pytest.fixture(scope="session")
def kie_mock_session_config():
    return dataclasses.replace(SESSION_MOCK_CONFIG, **TAUGHT[MODE])
"""

PLUGIN = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, State
from kiekit.families.market import MarketProvider
from kiekit.fields import choice, text
from kiekit_contract import ProviderContract


@frozen
class Turbo(Input):
    prompt: str = text(max_length=5000)
    style: str | None = choice("vivid", "natural", default=None)


@frozen
class TurboCamel(Input):
    prompt: str = text(max_length=5000)
    style: str | None = choice("vivid", "natural", default=None, wire="styleName")


class TurboProvider(MarketProvider):
    name = "acme-turbo"
    models = (Model("acme/turbo-image", Turbo, MediaKind.IMAGE),)


class WrongWire(TurboProvider):
    models = (Model("acme/turbo-image", TurboCamel, MediaKind.IMAGE),)


PENDING = {"taskId": "t", "state": "waiting", "resultJson": None, "failCode": None,
           "failMsg": None}
DONE = PENDING | {"state": "success",
                  "resultJson": '{"resultUrls": ["https://tempfile.example/t-0.png"]}'}
FAILED = PENDING | {"state": "fail", "failCode": "500", "failMsg": "internal error"}


class Contract(ProviderContract):
    check_entry_points = False
    max_examples = 5
    documented_statuses = ((PENDING, State.QUEUED), (DONE, State.SUCCEEDED),
                           (FAILED, State.FAILED))


class TestTurbo(Contract):
    provider = TurboProvider()


class TestWrongWire(Contract):
    provider = WrongWire()
"""


@pytest.mark.parametrize(("mode", "wrong_wire"), [("catalogue", "failed"), ("extra", "skipped")])
def test_a_catalogue_entry_lets_the_contract_catch_a_wrong_wire_name(
    pytester: pytest.Pytester, run_contract: RunContract, mode: str, wrong_wire: str
) -> None:
    pytester.makepyfile(test_turbo=f"MODE = {mode!r}\n" + SESSION_CONFIG + PLUGIN)
    outcomes, out = run_contract("-k", AGREE, "-rs")
    assert outcomes["TestTurbo"][AGREE] == ("passed" if mode == "catalogue" else "skipped")
    assert outcomes["TestWrongWire"][AGREE] == wrong_wire
    if mode == "extra":
        assert "the mock knows no fields of acme/turbo-image" in out
        assert "MockConfig.market_catalogue" in out
