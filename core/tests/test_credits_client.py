"""Client.credits / AsyncClient.credits: GET /api/v1/chat/credit, a float (kie-api.md §4)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import AuthenticationError, ProtocolError
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

FAST = {"journal": None}


def test_the_balance_goes_down_as_tasks_are_created(
    api: Any, kit: SimpleNamespace, mock_server_factory: Any
) -> None:
    mock = mock_server_factory(starting_credits=5916.25)  # a balance as recorded (§4)

    async def scenario() -> list[float]:
        async with api.client(base_url=mock.base_url, **FAST) as client:
            balances = [await client.credits()]
            await client.submit(kit.FLUX_PRO, prompt="a lighthouse at dawn")
            balances.append(await client.credits())
            await client.submit(kit.GROK_T2I, prompt="a lighthouse at dusk")
            balances.append(await client.credits())
            return balances

    balances = api.run(scenario)

    assert balances[0] == 5916.25
    assert all(isinstance(balance, float) for balance in balances)
    assert balances[0] > balances[1] > balances[2]
    account = mock.account(kit.CANARY)
    assert account is not None
    assert balances[2] == account.credits


@pytest.mark.parametrize(("data", "balance"), [(100, 100.0), (5916.25, 5916.25), ("12.5", 12.5)])
def test_an_int_as_in_the_docs_or_a_float_as_in_traffic_reads_as_float(
    api: Any, kit: SimpleNamespace, data: Any, balance: float
) -> None:
    seen: list[HttpRequest] = []

    def kie(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return kit.reply(data)

    async def scenario() -> float:
        async with api.client(transport=MockTransport(kie), **FAST) as client:
            result: float = await client.credits()
            return result

    assert api.run(scenario) == balance
    assert [(r.method, r.url) for r in seen] == [("GET", "https://api.kie.ai/api/v1/chat/credit")]


@pytest.mark.parametrize("data", [None, True, {"credits": 5}, "lots"])
def test_a_balance_that_is_not_a_number_is_a_protocol_error(
    api: Any, kit: SimpleNamespace, data: Any
) -> None:
    async def scenario() -> None:
        transport = MockTransport(lambda request: kit.reply(data))
        async with api.client(transport=transport, **FAST) as client:
            await client.credits()

    with pytest.raises(ProtocolError):
        api.run(scenario)


def test_a_refused_key_is_an_authentication_error(api: Any) -> None:
    body = json.dumps({"code": 401, "msg": "You do not have access permissions", "data": None})

    async def scenario() -> None:
        transport = MockTransport(lambda request: HttpResponse(200, body.encode()))
        async with api.client(transport=transport, **FAST) as client:
            await client.credits()

    with pytest.raises(AuthenticationError):
        api.run(scenario)


@pytest.mark.parametrize(
    "data",
    ["NaN", "inf", "-Infinity", "1e999", float("nan"), pytest.param(10**400, id="huge-int"), ""],
)
def test_a_balance_that_is_not_finite_is_a_protocol_error_naming_the_field(
    api: Any, kit: SimpleNamespace, data: Any
) -> None:
    """``float("NaN")`` took "NaN" and "1e999" as balances: `kie credits` printed nan, inf."""

    async def scenario() -> None:
        transport = MockTransport(lambda request: kit.reply(data))
        async with api.client(transport=transport, **FAST) as client:
            await client.credits()

    with pytest.raises(ProtocolError, match=r"credit balance \(data\) is not a finite number"):
        api.run(scenario)


@pytest.mark.parametrize(("data", "balance"), [(-5, -5.0), ("-2.5", -2.5)])
def test_a_negative_balance_is_read_as_sent(
    api: Any, kit: SimpleNamespace, data: Any, balance: float
) -> None:
    """No source says KIE never shows one: a debt is shown, not hidden behind an error."""

    async def scenario() -> float:
        transport = MockTransport(lambda request: kit.reply(data))
        async with api.client(transport=transport, **FAST) as client:
            result: float = await client.credits()
            return result

    assert api.run(scenario) == balance
