"""A client closes the PostgreSQL journal it opened (its sessions on the server), as SQLite's."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import psycopg
import pytest
from kiekit import Client
from kiekit.journal import EntryState, open_journal
from kiekit.retry import RetryPolicy


def _sessions(admin_url: str, database: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _sessions_ended(admin_url: str, database: str, patience: float = 30.0) -> bool:
    """Whether the database's sessions end: a backend leaves pg_stat_activity a moment after
    its client's Terminate message, so the count is looked at until it is 0 (at once when
    the client closed; never, for as long as the patience lasts, when it did not)."""
    ends = time.monotonic() + patience
    while _sessions(admin_url, database) != 0:
        if time.monotonic() > ends:
            return False
        time.sleep(0.05)
    return True


def test_close_ends_the_postgresql_sessions_of_the_journal_the_client_opened(
    postgres_url: str, kit: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each closed client kept its journal's connection until the garbage collector ran
    (outside tester "fixtures", finding 3, by code reading): a team's server runs out."""
    database = "c" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + database
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", url)
    kie = kit.FakeKie([kit.market("waiting")])
    with Client(
        kit.CANARY, transport=kie.transport, rate_limits=None, retry=RetryPolicy.never()
    ) as client:
        task = client.submit(kit.GROK_T2I, prompt="a lighthouse")
        assert _sessions(postgres_url, database) >= 1
    assert _sessions_ended(postgres_url, database)  # the client is alive: closed, not collected
    journal = open_journal(url)
    row = journal.by_task(task.id)
    assert row is not None
    assert row.state is EntryState.CREATED
    journal.close()
