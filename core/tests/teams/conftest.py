"""Real servers for the team setup's tests (docs/teams.md): one of each per test worker."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from kiekit.journal import MemoryStore, SqliteStore
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore

sys.path.insert(0, str(Path(__file__).parents[1]))  # teams/servers.py, shared with tools/bench
from teams.clocks import FakeClock
from teams.servers import postgres_server, redis_server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis on loopback for this worker; tests keep apart by their own key prefixes."""
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL on loopback for this worker; tests keep apart by their own tables or rows."""
    with postgres_server() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clock: the memory and SQLite stores run on the test's `clock`"
    )


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (teams/clocks.py)."""
    return FakeClock()


@pytest.fixture
def store_clock(request: pytest.FixtureRequest) -> Callable[[], float]:
    """The clock of the memory and SQLite stores (PostgreSQL reads its own): the real one, or
    in a module marked ``fake_clock`` the test's ``clock``, which it moves by hand."""
    if request.node.get_closest_marker("fake_clock") is not None:
        clock: FakeClock = request.getfixturevalue("clock")
        return clock
    return time.time


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, store_clock: Callable[[], float]
) -> Iterator[JournalStore]:
    """An empty journal store of each kind kiekit has; PostgreSQL's in a database of its own."""
    if request.param == "memory":
        yield MemoryStore(clock=store_clock)
    elif request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "journal.sqlite3", clock=store_clock)
        yield sqlite
        sqlite.close()
    else:
        url = request.getfixturevalue("postgres_url")
        name = "j" + uuid.uuid4().hex[:12]
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        postgres = PostgresStore(url.rsplit("/", 1)[0] + "/" + name)
        yield postgres
        postgres.close()
