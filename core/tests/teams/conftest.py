"""Real servers for the team setup's tests (docs/teams.md): one of each per test worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
