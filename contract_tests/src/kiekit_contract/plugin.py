"""The pytest plugin (entry point ``pytest11: kiekit``): the mock KIE server as fixtures.

Installed with ``kiekit-contract``, it is active in every pytest run of that environment:

- ``kie_mock`` — a fresh :class:`kiekit_mock.MockServer` on a free 127.0.0.1 port for one test,
  configured by the overridable ``kie_mock_config`` fixture;
- ``kie_mock_session`` — one server for the whole session (cheap; what property tests use,
  since hypothesis must not share function-scoped fixtures across examples), configured by the
  overridable, session-scoped ``kie_mock_session_config`` fixture;
- ``kie_client`` — a :class:`kiekit.Client` on ``kie_mock`` (its API and its upload host),
  closed after the test;
- ``kie_async_client`` — a factory of :class:`kiekit.AsyncClient` on ``kie_mock``
  (no pytest-asyncio needed: ``asyncio.run`` a coroutine that uses ``async with``).

Autouse fixtures remove ``KIE_API_KEY`` from the environment and point ``KIEKIT_DATA_DIR`` at
a temporary folder, for the whole session (its session- and module-scoped fixtures included)
and again for every test, so no test can read, and spend, a real key or write the user's task
journal; every fixture client uses the fake key ``"test-key"``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kiekit import AsyncClient, Client
    from kiekit_mock import MockConfig, MockServer

# pytest imports this module in every process of an environment that has kiekit-contract, for
# every test suite, kiekit's or not: the mock (aiohttp) and the core are imported by the
# fixtures that use them, not here (they cost each pytest process about a second).

__all__ = [
    "SESSION_MOCK_CONFIG",
    "kie_async_client",
    "kie_client",
    "kie_mock",
    "kie_mock_config",
    "kie_mock_session",
    "kie_mock_session_config",
]

SESSION_MOCK_CONFIG: MockConfig  # made when first asked for (__getattr__)


if not TYPE_CHECKING:  # a type checker sees the declaration above, and no other name

    def __getattr__(name: str) -> Any:
        if name == "SESSION_MOCK_CONFIG":
            return _session_mock_config()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _session_mock_config() -> MockConfig:
    """Two pending polls before the final state, so waits see KIE's non-final states; credits
    enough for every task a long session creates on the one account of "test-key"."""
    from kiekit_mock import MockConfig

    return MockConfig(polls_to_complete=2, starting_credits=1e9)


@pytest.fixture(scope="session", autouse=True)
def _kie_session_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The two guards below, for the whole session: session-, module- and class-scoped
    fixtures (where an application's client often lives) are set up before any test's own
    guard runs. pytest sets up autouse fixtures before the others of their scope, and a
    plugin's before a conftest's, so no fixture of the suite sees the real key or the user's
    data folder. Under xdist, each worker has its own base temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KIE_API_KEY", raising=False)
        patch.setenv("KIEKIT_DATA_DIR", str(tmp_path_factory.getbasetemp() / "kiekit-data"))
        yield


@pytest.fixture(autouse=True)
def _kie_no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Again for each test: a fixture or an earlier test may have set one."""
    monkeypatch.delenv("KIE_API_KEY", raising=False)


@pytest.fixture(autouse=True)
def _kie_private_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Clients journal their tasks (kiekit.journal): into a fresh folder, not the home folder."""
    # A fresh path, made only if a client records a task (most tests never do).
    folder = tmp_path_factory.getbasetemp() / "kiekit-data" / uuid.uuid4().hex
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(folder))


@pytest.fixture
def kie_mock_config() -> MockConfig:
    """How ``kie_mock`` behaves; override this fixture in a conftest or module to change it."""
    from kiekit_mock import MockConfig

    return MockConfig(polls_to_complete=2)


@pytest.fixture
def kie_mock(kie_mock_config: MockConfig) -> Iterator[MockServer]:
    """A mock KIE server of this test alone, on 127.0.0.1; stopped after the test."""
    from kiekit_mock import MockServer

    with MockServer(kie_mock_config) as server:
        yield server


@pytest.fixture(scope="session")
def kie_mock_session_config() -> MockConfig:
    """How ``kie_mock_session`` behaves (``SESSION_MOCK_CONFIG``); override this fixture,
    session-scoped, in a conftest to change it, e.g. to add ``extra_market_models``."""
    return _session_mock_config()


@pytest.fixture(scope="session")
def kie_mock_session(kie_mock_session_config: MockConfig) -> Iterator[MockServer]:
    """One mock KIE server shared by the whole session (``kie_mock_session_config``)."""
    from kiekit_mock import MockServer

    with MockServer(kie_mock_session_config) as server:
        yield server


@pytest.fixture
def kie_client(kie_mock: MockServer) -> Iterator[Client]:
    """A blocking client on ``kie_mock`` with the installed providers, polling fast."""
    from kiekit_contract.clients import client_for

    with client_for(kie_mock.base_url, upload_base_url=kie_mock.upload_base_url) as client:
        yield client


@pytest.fixture
def kie_async_client(kie_mock: MockServer) -> Callable[[], AsyncClient]:
    """``kie_async_client()`` makes an AsyncClient on ``kie_mock``; use it as
    ``async with kie_async_client() as kie:`` inside the coroutine you ``asyncio.run``."""
    from kiekit_contract.clients import async_client_for

    return functools.partial(
        async_client_for, kie_mock.base_url, upload_base_url=kie_mock.upload_base_url
    )
