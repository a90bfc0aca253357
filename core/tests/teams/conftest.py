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


@pytest.fixture
def store_clock() -> Callable[[], float]:
    """The clock of the memory and SQLite stores (PostgreSQL reads its own): a module that
    moves time overrides it."""
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
