"""A create another live worker has parked is that worker's, not "outcome unknown".

A create KIE refused with a 429 waits to be sent again with its row ``rejected`` and still held
by its sender (``Journal.parked``). A second worker that submitted with the same idempotency key
meanwhile could not take the row (held) and read it as a create of unknown outcome: it raised
OutcomeUnknownError ("kie settle …") for a create the first worker was about to send again and
whose task it then made. It now waits for that worker, as for a create another worker is
sending, and returns the task the first worker's create made (docs/teams.md).

Two journals (two owners) on one store: one memory store, two connections to one SQLite file,
or two to one PostgreSQL database. The order is forced by an event, not timed: the first
worker sends its create again only once the second has answered, or has found the row parked
and looks at it again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import Client, OutcomeUnknownError
from kiekit.errors import RateLimitedError
from kiekit.journal import Entry, EntryState, Journal, MemoryStore, SqliteStore
from kiekit.journal._journal import HeldElsewhere, Recorder
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore
from kiekit.models import Task
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpRequest, HttpResponse

KEY = "job-1"
BASE_URL = "https://kie.test"
NO_LIMITS: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never()}
BOUND = 60.0  # a bound on each wait for the other thread; never reached when all is well


@pytest.fixture
def second(store: JournalStore) -> Iterator[JournalStore]:
    """Another connection to ``store``'s journal, as a second worker process opens it."""
    if isinstance(store, MemoryStore):
        yield store
        return
    other: Any = SqliteStore(store.path) if isinstance(store, SqliteStore) else None
    if isinstance(store, PostgresStore):
        other = PostgresStore(store.url)
    assert other is not None, store
    yield other
    other.close()


def _body(kit: SimpleNamespace) -> dict[str, Any]:
    """The create body of ``submit(GROK_T2I, prompt="x")``, as a client sends it."""
    kie = kit.FakeKie()
    with Client(kit.CANARY, transport=kie.transport, journal=None, **NO_LIMITS) as client:
        client.submit(kit.GROK_T2I, prompt="x")
    body: dict[str, Any] = json.loads(kie.requests[0].body)
    return body


class _Tries:
    """A store that counts the intent rows written to it (tried: one per look at the key by a
    submit, kept or not), and sets ``again`` at the second: a submit looking again."""

    def __init__(self, store: JournalStore) -> None:
        self._store = store
        self.tries = 0
        self.again = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        self.tries += 1
        if self.tries == 2:
            self.again.set()
        return self._store.insert(entry, lease=lease)


def test_a_parked_create_held_by_a_live_worker_is_held_elsewhere_not_outcome_unknown(
    kit: SimpleNamespace, store: JournalStore, second: JournalStore
) -> None:
    first, other = Journal(store), Journal(second)
    intent = first.intend(kit.GROK_T2I, _body(kit), key=KEY, base_url=BASE_URL)
    assert intent is not None
    assert first.parked(intent, RateLimitedError(429, "Rate limited")) is not None
    engine = SimpleNamespace(base_url=BASE_URL, account=None)
    recorder = Recorder(other, engine)  # type: ignore[arg-type]
    create = SimpleNamespace(body=_body(kit))

    with pytest.raises(HeldElsewhere) as held:
        recorder.before_create(kit.GROK_T2I, create, KEY)  # type: ignore[arg-type]

    assert held.value.owner == first.owner
    assert held.value.seconds_left > 0
    row = other.get(KEY)
    assert row is not None
    assert (row.state, row.owner) == (EntryState.REJECTED, first.owner)  # left to its holder


def test_a_submit_with_the_key_of_a_parked_create_waits_for_it_and_gets_its_task(
    api: Any, kit: SimpleNamespace, store: JournalStore, second: JournalStore
) -> None:
    """Worker A's create was refused with 429 and is parked; worker B submits with the same key
    while A waits to send it again. B waits for A and returns the task A's resend made; B
    sends nothing. A is this test, writing its row as a client does (Journal's calls); B is a
    Client or an AsyncClient in a thread of its own."""
    first = Journal(store)
    intent = first.intend(kit.GROK_T2I, _body(kit), key=KEY, base_url=BASE_URL)
    assert intent is not None
    assert first.parked(intent, RateLimitedError(429, "Rate limited")) is not None
    tries = _Tries(second)
    other = Journal(tries)
    b_creates: list[HttpRequest] = []

    def b_create(request: HttpRequest) -> HttpResponse:
        b_creates.append(request)
        return kit.created("made-by-b")

    kie_b = kit.FakeKie(create=b_create)
    outcome: dict[str, Any] = {}

    async def submit() -> Any:
        async with api.client(
            base_url=BASE_URL, transport=kie_b.transport, journal=other, **NO_LIMITS
        ) as client:
            return await client.submit(kit.GROK_T2I, prompt="x", idempotency_key=KEY)

    def worker_b() -> None:
        try:
            outcome["b"] = api.run(submit)
        except OutcomeUnknownError as exc:
            outcome["b"] = exc
        finally:
            tries.again.set()  # B is done: A goes on

    b = threading.Thread(target=worker_b)
    b.start()
    try:
        # B found the row parked and, rather than answer, waited and looked again (or ended)
        assert tries.again.wait(BOUND), "worker B neither ended nor looked again"
        # A sends its create again, and KIE makes the task (Journal's calls, as a client's)
        assert first.resending(intent) is not None
        first.created(intent, Task(kit.TASK_ID, kit.GROK_T2I))
    finally:
        b.join(BOUND)
    assert not b.is_alive()

    assert not isinstance(outcome["b"], OutcomeUnknownError), outcome["b"]
    assert outcome["b"].id == kit.TASK_ID  # A's task, not a second one
    assert b_creates == []
