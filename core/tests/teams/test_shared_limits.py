"""KIE's rate limits shared through a real Redis (kiekit.shared_limits, docs/teams.md).

Windows here are long (100 s) so that no slot slides out while a test runs: every booked slot's
wait then falls in a known band (the k-th group of ``count`` slots waits k windows), whatever
the machine's load — a reservation that broke the window would land in the wrong band.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from typing import Any, cast

import pytest
import redis
from kiekit import (
    ConfigurationError,
    Rate,
    RateLimitStoreError,
    Registry,
    RetryPolicy,
    SharedRateLimiter,
    Task,
)
from kiekit._engine import Engine, Reserve
from kiekit.polling import PollPolicy
from kiekit.ratelimit import RateLimits
from kiekit.shared_limits import PLACE_LEASE
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive, drive_async

GROK = "grok-imagine/text-to-image"
WINDOW = 100.0
MARGIN = 0.5


def limits(creates: int = 5, status: int = 3) -> RateLimits:
    return RateLimits(creates=Rate(creates, WINDOW), status=Rate(status, WINDOW), margin=MARGIN)


def shared(url: str, prefix: str, count: int = 5) -> SharedRateLimiter:
    return SharedRateLimiter(url, limits(count), prefix=prefix)


def bands(waits: list[float]) -> Counter[int]:
    """How many slots fall in each window: band k holds waits in [k·(window+margin), +50 s)."""
    found: Counter[int] = Counter()
    for wait in waits:
        band = round(wait / (WINDOW + MARGIN))
        assert abs(wait - band * (WINDOW + MARGIN)) < 50, f"a wait between bands: {wait}"
        found[band] += 1
    return found


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}"


def create(limiter: SharedRateLimiter, account: str = "acct") -> float:
    wait = limiter.reserve(Reserve(limiter, account))
    assert wait is not None
    return wait


# -- the windows -----------------------------------------------------------------------------


def test_threads_sharing_a_key_never_exceed_the_window(redis_url: str, prefix: str) -> None:
    """8 threads, each with its own limiter object (own connections), book 40 creates on one
    key with 5 allowed per window: exactly 5 land in each of 8 windows."""
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        limiter = shared(redis_url, prefix)
        start.wait()
        mine = [create(limiter) for _ in range(5)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert bands(waits) == dict.fromkeys(range(8), 5)


WORKER = """
import json, sys
from kiekit import Rate, SharedRateLimiter
from kiekit._engine import Reserve
from kiekit.ratelimit import RateLimits
url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
limiter = SharedRateLimiter(
    url, RateLimits(creates=Rate(5, 100.0), status=Rate(3, 100.0), margin=0.5), prefix=prefix
)
sys.stdin.readline()  # every worker starts together
print(json.dumps([limiter.reserve(Reserve(limiter, "acct")) for _ in range(n)]))
"""


def test_processes_sharing_a_key_never_exceed_the_window(redis_url: str, prefix: str) -> None:
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WORKER, redis_url, prefix, "5"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate("go\n", timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    waits = [wait for output in outputs for wait in json.loads(output)]

    assert bands(waits) == dict.fromkeys(range(4), 5)


def test_slots_go_first_come_first_served(redis_url: str, prefix: str) -> None:
    """One create per window: each booking, from whichever limiter object, waits one window
    more than the one booked before it."""
    limiters = [shared(redis_url, prefix, count=1) for _ in range(3)]
    waits = [create(limiters[index % 3]) for index in range(9)]

    assert [round(wait / (WINDOW + MARGIN)) for wait in waits] == list(range(9))


def test_other_keys_and_prefixes_have_windows_of_their_own(redis_url: str, prefix: str) -> None:
    limiter = shared(redis_url, prefix, count=1)
    assert create(limiter, "a") < 50
    assert create(limiter, "b") < 50
    assert create(shared(redis_url, prefix + ":other", count=1), "a") < 50
    assert create(limiter, "a") > WINDOW


def test_a_slot_later_than_within_is_not_booked(redis_url: str, prefix: str) -> None:
    limiter = SharedRateLimiter(redis_url, limits(status=1), prefix=prefix)
    poll = Reserve(limiter, "acct", task_id="t1", within=10.0)
    assert limiter.reserve(poll) is not None
    assert limiter.reserve(poll) is None  # the next slot is a window away
    # and nothing was booked: with room to wait, the next poll still gets the second slot
    later = limiter.reserve(Reserve(limiter, "acct", task_id="t2", within=1000.0))
    assert later is not None
    assert WINDOW < later < WINDOW + 50


def test_per_task_windows_are_kept_beside_the_key_window(redis_url: str, prefix: str) -> None:
    limiter = SharedRateLimiter(redis_url, limits(status=10), prefix=prefix)
    per_task = Rate(1, WINDOW)

    def poll(task_id: str) -> float:
        wait = limiter.reserve(Reserve(limiter, "acct", task_id=task_id, per_task=per_task))
        assert wait is not None
        return wait

    assert poll("a") < 50
    assert poll("b") < 50
    assert poll("a") > WINDOW  # task a's own window is full, the key's is not


# -- both clients, through their drivers ---------------------------------------------------------


def created_answer(request: HttpRequest) -> HttpResponse:
    body = {"code": 200, "msg": "ok", "data": {"taskId": uuid.uuid4().hex}}
    return HttpResponse(200, json.dumps(body).encode())


def engine(limiter: SharedRateLimiter | None, key: str = "sk-teams-test-key") -> Engine:
    return Engine(
        api_key=key,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        limiter=limiter,
        retry=RetryPolicy(attempts=3, seed=1),
    )


def test_client_and_async_client_share_one_window(redis_url: str, prefix: str) -> None:
    """The blocking driver and the asyncio driver each book, admit and report their creates
    through Redis: two creates on one key, one from each, fill a window of two, and both are
    recorded answered (none left counted in flight)."""
    limiter = shared(redis_url, prefix, count=2)
    eng = engine(limiter)
    request = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))
    transport = MockTransport(created_answer)

    async def async_create() -> None:
        await drive_async(eng.submit(GROK, request), transport)
        await limiter.aclose()

    drive(eng.submit(GROK, request), transport)
    asyncio.run(async_create())

    assert bands([create(limiter, eng.account)]) == {1: 1}  # the window is full
    store = redis.Redis.from_url(redis_url)
    base = f"{prefix}:{{{eng.account}}}"
    assert store.zcard(f"{base}:answered") == 2
    assert store.zcard(f"{base}:in-flight") == 0
    store.close()


def test_creates_are_admitted_by_what_may_have_arrived(redis_url: str, prefix: str) -> None:
    """Admission (issue 18), on the server: with 2 creates a window, a third waits while two
    are in flight, and once they are answered waits a window from their answers."""
    limiter = shared(redis_url, prefix, count=2)

    def admit(member: str, timeout: float = 60.0) -> float:
        wait = limiter.reserve(
            Reserve(limiter, "acct", action="admit", member=member, timeout=timeout)
        )
        assert wait is not None
        return wait

    assert admit("a") == 0.0
    assert admit("b") == 0.0
    assert 0 < admit("c") < 50  # both may arrive any moment: ask again soon
    for member in ("a", "b"):
        limiter.reserve(Reserve(limiter, "acct", action="answered", member=member))
    assert bands([admit("c")]) == {1: 1}  # a window after their answers


def test_polls_are_admitted_by_what_may_have_arrived_in_a_window_of_their_own(
    redis_url: str, prefix: str
) -> None:
    """Admission of status polls, on the server: the key's poll window (3 here), kept apart
    from the creates' (which stay open)."""
    limiter = SharedRateLimiter(redis_url, limits(creates=5, status=3), prefix=prefix)

    def admit(member: str, task_id: str | None = "t1") -> float:
        op = Reserve(limiter, "acct", task_id, action="admit", member=member, timeout=60.0)
        wait = limiter.reserve(op)
        assert wait is not None
        return wait

    assert [admit(m) for m in ("a", "b", "c")] == [0.0, 0.0, 0.0]
    assert 0 < admit("d") < 50  # all three may arrive any moment: ask again soon
    assert admit("create", task_id=None) == 0.0  # creates have a window of their own
    for member in ("a", "b", "c"):
        limiter.reserve(Reserve(limiter, "acct", "t1", action="answered", member=member))
    assert bands([admit("d")]) == {1: 1}  # a window after their answers
    store = redis.Redis.from_url(redis_url)
    base = f"{prefix}:{{acct}}"
    assert store.zcard(f"{base}:status-answered") == 3
    assert store.zcard(f"{base}:in-flight") == 1  # the create's, not the polls'
    store.close()


def test_a_dead_workers_create_holds_its_place_until_its_timeout_then_counts_as_arrived(
    redis_url: str, prefix: str
) -> None:
    """Its place ends with its attempt; it may have reached KIE until then, so it is counted
    a window from that moment, as an answered create is (not forgotten: KIE counts it)."""
    limiter = shared(redis_url, prefix, count=1)
    dead = Reserve(limiter, "acct", action="admit", member="killed", timeout=1e-6)
    assert limiter.reserve(dead) == 0.0  # then its worker is killed: no answer ever comes
    alive = Reserve(limiter, "acct", action="admit", member="next", timeout=60.0)
    assert bands([limiter.reserve(alive) or 0.0]) == {1: 1}  # a window after its end
    store = redis.Redis.from_url(redis_url)
    assert store.zrange(f"{prefix}:{{acct}}:answered", 0, -1) == [b"killed"]
    assert store.zcard(f"{prefix}:{{acct}}:in-flight") == 0
    store.close()


HOLDER = """
import sys
from kiekit import Rate, SharedRateLimiter
from kiekit._engine import Reserve
from kiekit.ratelimit import RateLimits
url, prefix = sys.argv[1], sys.argv[2]
limiter = SharedRateLimiter(url, RateLimits(creates=Rate(1, 100.0)), prefix=prefix)
# a create on its way: its attempt may last a minute
print(limiter.reserve(Reserve(limiter, "acct", action="admit", member="killed", timeout=60.0)))
sys.stdout.flush()
sys.stdin.readline()  # killed meanwhile
"""


def _clock(store: redis.Redis) -> float:
    """The shared store's clock, in the µs the scripts score places with."""
    seconds, micros = cast("tuple[int, int]", store.time())
    return seconds * 1_000_000 + micros


def _ends(store: redis.Redis, key: str, member: str) -> float:
    """When ``member``'s place in flight ends, on the store's clock (0: it holds none)."""
    return float(cast("float | None", store.zscore(key, member)) or 0)


def _until(what: str, condition: Any) -> Any:
    """``condition()``'s first true value; each look is a Redis call, bounded in count."""
    for _ in range(100_000):
        found = condition()
        if found:
            return found
    raise AssertionError(f"no {what}")


def test_a_killed_workers_place_lapses_a_lease_after_its_last_renewal_not_at_its_deadline(
    redis_url: str, prefix: str
) -> None:
    """A worker killed (SIGKILL) while its create is in flight: its place in the window ends
    within the lease (6 s) on the store's clock, not at its attempt's deadline a minute on
    (the other workers ran short of a place each for that minute)."""
    with subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HOLDER, redis_url, prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "0.0"  # admitted: in flight
        holder.kill()
        holder.wait(30)
    store = redis.Redis.from_url(redis_url)
    ends = _ends(store, f"{prefix}:{{acct}}:in-flight", "killed")
    assert 0 < ends - _clock(store) <= PLACE_LEASE * 1_000_000
    store.close()


def test_a_place_is_renewed_while_its_request_runs_and_lapses_once_its_holder_stops(
    redis_url: str, prefix: str
) -> None:
    """The process renews the places it holds (on the store's clock, a lease ahead), never
    past their attempt's end; an answered request's place is gone and no longer renewed, and
    the renewing thread ends with the last place."""
    limiter = SharedRateLimiter(redis_url, limits(creates=2), prefix=prefix, place_lease=1.5)
    store = redis.Redis.from_url(redis_url)
    key = f"{prefix}:{{acct}}:in-flight"

    def admit(member: str, timeout: float) -> None:
        op = Reserve(limiter, "acct", action="admit", member=member, timeout=timeout)
        assert limiter.reserve(op) == 0.0

    admit("long", timeout=60.0)
    admit("short", timeout=0.2)
    first = _ends(store, key, "long")
    assert 0 < first - _clock(store) <= 1.5 * 1_000_000  # a lease, not the minute of its attempt
    short = _ends(store, key, "short")
    assert 0 < short - _clock(store) <= 0.2 * 1_000_000  # its attempt ends first
    assert _until("renewal", lambda: _ends(store, key, "long") > first)
    assert _ends(store, key, "short") <= short + 100_000  # never renewed past its attempt
    assert _ends(store, key, "long") - _clock(store) <= 1.5 * 1_000_000

    renewer = limiter._places._thread  # this limiter's (other tests' may run in this process)
    assert renewer is not None
    limiter.reserve(Reserve(limiter, "acct", action="answered", member="long"))
    assert _ends(store, key, "long") == 0
    renewer.join(30)  # nothing held: it ends at its next turn
    assert not renewer.is_alive()
    store.close()


@pytest.mark.parametrize("closing", ["close", "aclose"])
def test_closing_the_limiter_stops_renewing_its_places_at_once(
    redis_url: str, prefix: str, closing: str
) -> None:
    """The renewing thread ran on until the last attempt it held a place for was over (a
    minute by default), after its client was closed: at a test's teardown it logged
    "Connection refused" at every turn once the test's Redis had stopped first."""
    limiter = SharedRateLimiter(redis_url, limits(creates=2), prefix=prefix, place_lease=1.5)
    op = Reserve(limiter, "acct", action="admit", member="running", timeout=60.0)
    assert limiter.reserve(op) == 0.0
    renewer = limiter._places._thread
    assert renewer is not None
    if closing == "close":
        limiter.close()
    else:
        asyncio.run(limiter.aclose())
    renewer.join(10)  # it ends at once; before, it ran the minute of its attempt
    assert not renewer.is_alive()
    assert limiter.reserve(Reserve(limiter, "acct", action="admit", member="again")) == 0.0
    assert limiter._places._thread is not None  # a later admission renews again
    limiter.close()


def test_a_redis_lost_while_renewing_places_is_said_once_not_at_every_turn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from kiekit.shared_limits import _Places

    turns = Counter[str]()
    fifth = threading.Event()
    due = _Places._due

    def counted(self: _Places, *args: Any) -> Any:
        turns["due"] += 1
        if turns["due"] == 5:  # four renewals have failed by now
            fifth.set()
        return due(self, *args)

    monkeypatch.setattr(_Places, "_due", counted)
    nowhere = "redis://127.0.0.1:1"  # nothing listens: "Connection refused" at every turn
    limiter = SharedRateLimiter(nowhere, limits(), place_lease=0.03)
    places = limiter._places
    op = Reserve(limiter, "acct", action="admit", member="m", timeout=60.0)
    places.admitted(op, ["answered", "in-flight"], ["m", 5, 100_000_000, 30_000], 0)
    renewer = places._thread
    assert renewer is not None
    assert fifth.wait(30)
    limiter.close()
    renewer.join(10)
    said = [r.getMessage() for r in caplog.records if nowhere in r.getMessage()]
    assert len(said) == 1, said  # was one at every turn
    assert said[0].startswith(f"shared rate limits at {nowhere}: cannot renew the places")


def test_the_api_key_never_reaches_redis(redis_url: str, prefix: str) -> None:
    key = "sk-do-not-store-this-key"
    eng = engine(shared(redis_url, prefix), key=key)
    request = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))
    drive(eng.submit(GROK, request), MockTransport(created_answer))

    store = redis.Redis.from_url(redis_url, decode_responses=True)
    names: list[str] = list(store.scan_iter(f"{prefix}:*"))
    assert names  # the window is there
    assert not any(key in name for name in names)
    members: list[str] = store.zrange(names[0], 0, -1)  # type: ignore[assignment]
    assert not any(key in member for member in members)
    store.close()


# -- a create refused with 429 waits out KIE's window ------------------------------------------


class FullKie:
    """A KIE whose create window another worker has filled: 429 until ``opens``."""

    def __init__(self, opens: float) -> None:
        self.now = 0.0
        self.opens = opens
        self.sent: list[float] = []
        self.transport = MockTransport(self.answer)

    def answer(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(self.now)
        if self.now < self.opens:
            return HttpResponse(200, b'{"code": 429, "msg": "Rate limit exceeded", "data": null}')
        return created_answer(request)

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.mark.parametrize("kind", ["shared", "in-process", "none"])
def test_a_create_refused_with_429_waits_out_the_window(
    kind: str, redis_url: str, prefix: str
) -> None:
    """KIE's window is 10 s (kie-api.md §8); a retry 0.5 s later would only be refused
    again. Fake time: KIE opens again at 9.9 s; the one retry comes after 10 s."""
    from kiekit import RateLimiter

    chosen: Any = {
        "shared": SharedRateLimiter(redis_url, RateLimits(margin=0.1), prefix=prefix),
        "in-process": RateLimiter(RateLimits(margin=0.1)),
        "none": None,
    }[kind]
    kie = FullKie(opens=9.9)
    eng = engine(chosen)
    request = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))

    task = drive(eng.submit(GROK, request), kie.transport, sleep=kie.sleep, clock=kie.clock)

    assert task.id
    assert kie.sent[0] == 0.0
    assert len(kie.sent) == 2
    assert kie.sent[1] >= 10.0


def test_a_poll_refused_with_429_waits_out_its_window() -> None:
    """A status poll refused with 429 during a wait is sent again a poll window later, not
    at the wait's own (here faster) pace."""
    from kiekit import RateLimiter

    now = [0.0]
    sent: list[float] = []

    def answer(request: HttpRequest) -> HttpResponse:
        sent.append(now[0])
        if len(sent) == 1:
            return HttpResponse(200, b'{"code": 429, "msg": "Rate limit exceeded", "data": null}')
        data = {
            "taskId": "t1",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": ["https://x.test/a.png"]}),
        }
        return HttpResponse(200, json.dumps({"code": 200, "msg": "ok", "data": data}).encode())

    def sleep(seconds: float) -> None:
        now[0] += seconds

    eng = Engine(
        api_key="sk-teams-test-key",
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(initial=0.1, maximum=0.1, first=0.0, timeout=60.0),
        user_agent="kiekit-tests",
        limiter=RateLimiter(RateLimits(margin=0.1)),
    )
    drive(eng.wait(Task("t1", GROK)), MockTransport(answer), sleep=sleep, clock=lambda: now[0])

    assert len(sent) == 2
    assert sent[1] - sent[0] >= 1.0  # jobs/recordInfo: 10 per second per key (§8)


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://", "redis://h:port/0", ""])
def test_a_bad_url_names_the_option(url: str) -> None:
    from kiekit import Client

    with pytest.raises(ConfigurationError, match="rate_limits"):
        Client("k", base_url="http://127.0.0.1:1", rate_limits=url, journal=None)


def test_a_bad_url_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiekit import Client

    monkeypatch.setenv("KIEKIT_LIMITS_URL", "postgres://127.0.0.1/x")
    with pytest.raises(ConfigurationError, match="KIEKIT_LIMITS_URL"):
        Client("k", base_url="http://127.0.0.1:1", journal=None)


def test_the_environment_chooses_the_shared_limiter(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    from kiekit import Client, RateLimiter

    monkeypatch.setenv("KIEKIT_LIMITS_URL", redis_url)
    with Client("k", base_url="http://127.0.0.1:1", journal=None) as kie:
        assert isinstance(kie._session.engine.limiter, SharedRateLimiter)
    # an explicit choice wins over the environment
    with Client("k", base_url="http://127.0.0.1:1", journal=None, rate_limits=limits()) as kie:
        assert isinstance(kie._session.engine.limiter, RateLimiter)


def test_an_unreachable_redis_is_a_typed_error_without_the_password() -> None:
    from kiekit import Client

    url = "redis://worker:hunter2@127.0.0.1:1/0"
    kie = Client("k", base_url="http://127.0.0.1:1", rate_limits=url, journal=None)
    with kie, pytest.raises(RateLimitStoreError) as caught:
        kie.submit(GROK, prompt="a fox")
    assert caught.value.url == "redis://worker:***@127.0.0.1:1/0"
    assert "127.0.0.1:1" in str(caught.value)
    assert "hunter2" not in str(caught.value) + repr(caught.value)


def test_the_cli_names_limits_for_a_bad_url(tmp_path: Any) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": GROK, "input": {"prompt": "a fox"}}) + "\n")
    environ = {**os.environ, "KIE_API_KEY": "sk-cli", "KIEKIT_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "kiekit", "batch", str(jobs), "--out", str(tmp_path / "out")]
    command += ["--base-url", "http://127.0.0.1:1", "--limits", "memcached://127.0.0.1"]
    done = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert done.returncode != 0
    assert "--limits" in done.stderr


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["batch", "JOBS", "--out", "OUT"], "--limits"),
        (["run", GROK, "--prompt", "a fox", "--out", "OUT"], "--limits"),
        (["batch", "JOBS", "--out", "OUT"], "KIEKIT_LIMITS_URL"),
    ],
)
def test_the_cli_refuses_shared_limits_without_the_redis_extra_before_any_job(
    command: list[str],
    named: str,
    mock_server_factory: Any,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without kiekit[redis], `kie batch --limits URL` failed each job on its own (a journal
    row "rejected" and an error line per job, exit 1; found by an outside tester): one usage
    error naming the extra, as a PostgreSQL journal or --celery without theirs, nothing sent
    or journalled."""
    from kiekit.cli import main
    from kiekit.journal import default_journal

    monkeypatch.setitem(sys.modules, "redis", None)  # not installed
    monkeypatch.setenv("KIE_API_KEY", "sk-cli")
    mock = mock_server_factory()
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"model": GROK, "input": {"prompt": p}}) + "\n"
                            for p in ("a fox", "a cat", "a dog")))  # fmt: skip
    places = {"JOBS": str(jobs), "OUT": str(tmp_path / "out")}
    argv = [places.get(word, word) for word in command] + ["--base-url", mock.base_url]
    if named == "--limits":
        argv += ["--limits", "redis://127.0.0.1:1/0"]
    else:
        monkeypatch.setenv(named, "redis://127.0.0.1:1/0")

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("kiekit[redis]") == 1
    assert named in err
    assert mock.requests() == []
    assert list(default_journal().entries()) == []
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_kie_run_with_a_redis_it_cannot_reach_exits_1_as_a_service_that_may_answer_later(
    mock_server_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    """An unreachable Redis was exit 2, "bad usage", while an unreachable journal database is
    1 (found by an outside tester): a script that retries on 1 and gives up on 2 gave up on a
    Redis restarting. Nothing is sent."""
    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "sk-cli")
    mock = mock_server_factory()
    argv = ["run", GROK, "--prompt", "a fox", "--base-url", mock.base_url,
            "--limits", "redis://127.0.0.1:1/0", "--out", str(tmp_path / "out")]  # fmt: skip

    assert main(argv) == 1
    assert "the shared rate limits at redis://127.0.0.1:1/0 cannot be used" in (
        capsys.readouterr().err
    )
    assert mock.requests() == []


@pytest.mark.parametrize("side", ["Client", "AsyncClient", "SharedRateLimiter"])
def test_a_shared_limiter_without_the_redis_extra_is_refused_when_made(
    side: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not at the first create, after the caller has set up (and a batch journalled) its
    work: where the limiter is made, naming the extra."""
    import kiekit

    monkeypatch.setitem(sys.modules, "redis", None)  # not installed
    url = "redis://127.0.0.1:1/0"
    make = (
        functools.partial(SharedRateLimiter, url)
        if side == "SharedRateLimiter"
        else functools.partial(
            getattr(kiekit, side), "k", base_url="http://127.0.0.1:1", rate_limits=url, journal=None
        )
    )
    with pytest.raises(ConfigurationError, match=r"^rate_limits: .*'kiekit\[redis\]'"):
        make()


def test_redis_is_imported_only_for_a_shared_limiter() -> None:
    """`import kiekit` and a client with the in-process limiter never import redis (an extra);
    a shared limiter imports it on its first reservation, not before."""
    code = """
import sys, kiekit
kiekit.Client("k", base_url="http://127.0.0.1:1", journal=None).close()
before = "redis" in sys.modules
limiter = kiekit.SharedRateLimiter("redis://127.0.0.1:1/0")
print(before, "redis" in sys.modules)
"""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_kie_batch_keeps_its_creates_in_the_shared_windows(redis_url: str, tmp_path: Any) -> None:
    """`kie batch --limits URL` books its creates in Redis: afterwards the key's create window
    holds them (under the key's hash), and every job succeeded against a mock that enforces
    KIE's documented limits."""
    from kiekit_mock import MockConfig, MockServer

    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": GROK, "input": {"prompt": f"fox {i}"}} for i in range(3)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    environ = {**os.environ, "KIE_API_KEY": "sk-cli-shared", "KIEKIT_DATA_DIR": str(tmp_path)}
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    # Watch the bookings as they happen: a window's key expires a window after its last slot,
    # so reading it after the run would depend on how long the run took (keyspace events, K z).
    store.config_set("notify-keyspace-events", "Kz")
    watch = store.pubsub()
    watch.psubscribe("__keyspace@0__:kiekit:limits:*:creates")
    confirmed = watch.get_message(timeout=60)  # subscribed before the run starts
    assert confirmed is not None
    assert confirmed["type"] == "psubscribe"
    with MockServer(MockConfig(documented_limits=True)) as mock:
        command = [sys.executable, "-m", "kiekit", "batch", str(jobs), "--out", str(tmp_path)]
        command += ["--base-url", mock.base_url, "--limits", redis_url, "--json"]
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, env=environ, timeout=300
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["states"] == {"succeeded": 3}
    booked: list[str] = []
    while (event := watch.get_message(timeout=5)) is not None:
        if event["type"] == "pmessage" and event["data"] == "zadd":
            booked.append(event["channel"].removeprefix("__keyspace@0__:"))
    assert len(booked) == 3
    assert len(set(booked)) == 1  # one window for the key, under its hash
    assert "sk-cli-shared" not in booked[0]
    watch.close()
    store.close()


@pytest.mark.parametrize("side", ["Client", "AsyncClient"])
def test_a_created_tasks_wait_goes_on_while_redis_cannot_be_reached(
    mock_server: Any, side: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The task is paid for: a Redis restart must not drop its wait. Its polls are paced by
    this process alone meanwhile (said once); a create still waits for Redis."""
    from kiekit import AsyncClient, Client

    with Client("k", base_url=mock_server.base_url, journal=None, rate_limits=None) as kie:
        task = kie.submit(GROK, prompt="a fox")
    gone = "redis://127.0.0.1:1/0"  # nothing listens there
    quick = PollPolicy(initial=0, growth=0, maximum=0, timeout=30)
    options: dict[str, Any] = {"rate_limits": gone, "journal": None, "poll": quick}

    async def in_async() -> Any:
        async with AsyncClient("k", base_url=mock_server.base_url, **options) as kie:
            results = await kie.wait(task)
            with pytest.raises(RateLimitStoreError):
                await kie.submit(GROK, prompt="another fox")
            return results

    with caplog.at_level("WARNING", logger="kiekit"):
        if side == "Client":
            with Client("k", base_url=mock_server.base_url, **options) as kie:
                results = kie.wait(task)
                with pytest.raises(RateLimitStoreError):
                    kie.submit(GROK, prompt="another fox")
        else:
            results = asyncio.run(in_async())
    assert results.assets
    assert len(mock_server.tasks()) == 1  # the create waited for Redis: nothing sent unpaced
    said = [r.getMessage() for r in caplog.records if "paced by this process" in r.getMessage()]
    assert len(said) == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:1/0?password=hunter2", "redis://127.0.0.1:1/0?password=***"),
        ("redis://w:hunter2@127.0.0.1:1/0", "redis://w:***@127.0.0.1:1/0"),
        ("rediss://h:6380/0?ssl_cert_reqs=none", "rediss://h:6380/0?ssl_cert_reqs=none"),
    ],
)
def test_a_redis_url_is_shown_without_its_password_wherever_it_is(url: str, shown: str) -> None:
    from kiekit.shared_limits import redacted

    assert redacted(url) == shown
    assert repr(SharedRateLimiter(url)).startswith(f"SharedRateLimiter({shown!r}")


class Watched(SharedRateLimiter):
    """Says when ``expected`` bookings have been answered."""

    expected = 0
    reached: asyncio.Event

    async def reserve_async(self, op: Reserve) -> float | None:
        answer = await super().reserve_async(op)
        if op.action == "book":
            self.expected -= 1
            if self.expected == 0:
                self.reached.set()
        return answer


def test_creates_cancelled_while_they_wait_give_their_shared_slots_back(
    redis_url: str, prefix: str
) -> None:
    """An outside tester's web service on shared limits: 5 users 12 s after a burst of
    cancelled creates still waited after 60 s. A slot booked and never used leaves Redis: the
    next create is booked in the first window after the creates sent, not behind the ghosts."""
    from kiekit import AsyncClient
    from kiekit._engine.engine import account_of

    key = "sk-teams-test-key"
    limiter = Watched(redis_url, limits(creates=2), prefix=prefix)

    async def scenario() -> None:
        limiter.expected, limiter.reached = 6, asyncio.Event()
        async with AsyncClient(
            key,
            transport=MockTransport(created_answer),
            rate_limits=limiter,
            retry=RetryPolicy(deadline=1000.0),  # the windows here are 100 s
        ) as client:
            for _ in range(2):
                await client.submit(GROK, prompt="sent")
            ghosts = [asyncio.create_task(client.submit(GROK, prompt="gave up")) for _ in range(4)]
            await limiter.reached.wait()  # all four booked (windows 1 and 2), and sleeping
            for ghost in ghosts:
                ghost.cancel()
            await asyncio.gather(*ghosts, return_exceptions=True)
        await limiter.aclose()

    asyncio.run(scenario())

    assert bands([create(limiter, account_of(key))]) == {1: 1}  # not {3: 1}, behind the ghosts
    store = redis.Redis.from_url(redis_url)
    assert store.zcard(f"{prefix}:{{{account_of(key)}}}:creates") == 3  # 2 sent, 1 booked
    store.close()


def test_a_slot_given_back_leaves_the_older_ones_in_force(redis_url: str, prefix: str) -> None:
    """The window keeps every slot of the last window, not only the last ``count``: a slot
    given back must not let a third create into a window two were sent in."""
    limiter = shared(redis_url, prefix, count=2)
    assert create(limiter) < 50
    assert create(limiter) < 50
    limiter.reserve(Reserve(limiter, "acct", member="ghost"))
    limiter.reserve(Reserve(limiter, "acct", action="release", member="ghost"))

    assert bands([create(limiter)]) == {1: 1}
