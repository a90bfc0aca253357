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

Autouse fixtures isolate the tests from the environment the suite was started in, for the whole
session (its session- and module-scoped fixtures included) and again for every test: they remove
every kiekit variable that names a credential or a place shared with others (:data:`ISOLATED`:
the API key, the two KIE hosts, the journal URL, the shared-limits Redis, the Celery broker,
backend and queue) and point ``KIEKIT_DATA_DIR`` at a temporary folder. So no test can read, and
spend, a real key, reach a host or store the developer's environment names, or write the user's
(or the team's) task journal, whatever that environment holds; every fixture client uses the
fake key ``"test-key"``. The tuning knobs and the plugin choice (:data:`LEFT_AS_IS`) stay.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kiekit import AsyncClient, Client
    from kiekit_mock import MockConfig, MockServer

# pytest imports this module in every process of an environment that has kiekit-contract, for
# every test suite, kiekit's or not: the mock (aiohttp) and the core are imported by the
# fixtures that use them, not here (they cost each pytest process about a second).

__all__ = [
    "ISOLATED",
    "LEFT_AS_IS",
    "SESSION_MOCK_CONFIG",
    "kie_async_client",
    "kie_client",
    "kie_mock",
    "kie_mock_config",
    "kie_mock_session",
    "kie_mock_session_config",
]

SESSION_MOCK_CONFIG: MockConfig  # made when first asked for (__getattr__)

# What the autouse guards do with each variable of kiekit.settings.VARIABLES (a test checks that
# every one is in exactly one of the two, so a new variable gets a decision here). ISOLATED: a
# credential, or a place outside the test's temporary folder that others use or pay for: removed
# (KIEKIT_JOURNAL_URL would take precedence over the temporary KIEKIT_DATA_DIR and journal the
# test's tasks into the user's or the team's journal, where `kie resume` owes them for ever).
ISOLATED: tuple[str, ...] = (
    "KIE_API_KEY",  # a real key: every task would be paid for
    "KIE_BASE_URL",  # a proxy, a staging host, a shared mock: not this test's
    "KIE_UPLOAD_BASE_URL",
    "KIEKIT_JOURNAL_URL",  # the user's or team's journal (a file, PostgreSQL)
    "KIEKIT_LIMITS_URL",  # a shared Redis: tests would spend the team's rate budget
    "KIEKIT_BROKER_URL",  # Celery: jobs sent to the team's workers
    "KIEKIT_RESULT_BACKEND",
    "KIEKIT_CELERY_QUEUE",
)
# Set to a fresh temporary folder rather than removed (unset means the user's data folder).
DATA_DIR = "KIEKIT_DATA_DIR"
# LEFT_AS_IS: tuning knobs that reach nothing outside the process, and the choice of plugins
# (the application's tests run with the plugins the application uses).
LEFT_AS_IS: tuple[str, ...] = (
    "KIEKIT_JOURNAL_FSYNC",
    "KIEKIT_JOURNAL_LEASE",
    "KIEKIT_JOURNAL_STATEMENT_TIMEOUT",
    "KIEKIT_BLOCK_PLUGINS",
    "KIEKIT_ALLOW_PLUGINS",
    "KIEKIT_PREFER",
    "KIEKIT_LOG",
    "KIEKIT_STOP_GRACE",
    "KIEKIT_CELERY_VISIBILITY_TIMEOUT",
    "KIEKIT_MOCK_BLOCK_EXTENSIONS",
    "KIEKIT_MOCK_EXIT_WITH_PARENT",  # read by the mock's command line only, not by fixtures
)


if not TYPE_CHECKING:  # a type checker sees the declaration above, and no other name

    def __getattr__(name: str) -> Any:
        if name == "SESSION_MOCK_CONFIG":
            return _session_mock_config()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _session_mock_config() -> MockConfig:
    """Two pending polls before the final state, so waits see KIE's non-final states; credits
    enough for every task a long session creates on the one account of "test-key"; and the
    mock's middle stage shown as "queuing" (KIE documents it), so that
    ``test_every_pending_state_reads_as_pending`` steps a task through it (two polls never
    reach it: waits see waiting, then generating)."""
    from kiekit_mock import MockConfig

    return MockConfig(polls_to_complete=2, starting_credits=1e9, market_queuing=True)


def _isolate(patch: pytest.MonkeyPatch, data_dir: Path) -> None:
    for name in ISOLATED:
        patch.delenv(name, raising=False)
    patch.setenv(DATA_DIR, str(data_dir))


@pytest.fixture(scope="session", autouse=True)
def _kie_session_guard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The guard below, for the whole session: session-, module- and class-scoped fixtures
    (where an application's client often lives) are set up before any test's own guard runs.
    pytest sets up autouse fixtures before the others of their scope, and a plugin's before a
    conftest's, so no fixture of the suite sees the real key, the user's data folder or journal,
    or a shared host. Under xdist, each worker has its own base temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch, tmp_path_factory.getbasetemp() / "kiekit-data")
        yield


@pytest.fixture(autouse=True)
def _kie_isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Again for each test (a fixture or an earlier test may have set one of them): clients
    journal their tasks (kiekit.journal) into a fresh folder, not the home folder."""
    # A fresh path, made only if a client records a task (most tests never do).
    _isolate(monkeypatch, tmp_path_factory.getbasetemp() / "kiekit-data" / uuid.uuid4().hex)


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
