"""Retries: full-jitter backoff, Retry-After, a deadline, and creates that are never paid twice.

The engine flows run on fake time through both drivers, so the retry schedule is checked to the
millisecond without sleeping; a few stories then run through Client/AsyncClient and over real
sockets, where "nothing was sent" and "the answer was lost" are real network events.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import random
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiekit import (
    ApiError,
    AuthenticationError,
    InsufficientCreditsError,
    KieError,
    MaintenanceError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    Registry,
    Request,
    RetryPolicy,
    ServerError,
    Task,
    TaskNotFoundError,
    TransportError,
)
from kiekit._engine import Engine, Flow
from kiekit.errors import api_error, http_error
from kiekit.polling import PollPolicy
from kiekit.retry import Verdict, parse_retry_after, verdict
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive, drive_async

GROK = "grok-imagine/text-to-image"
TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
KEY = "sk-retry-test-key-0d9c"
CREATED = HttpResponse(
    200, b'{"code":200,"msg":"success","data":{"taskId":"%s"}}' % TASK_ID.encode()
)
RUNNING = HttpResponse(
    200,
    b'{"code":200,"msg":"success","data":{"taskId":"%s","state":"generating","param":"",'
    b'"resultJson":"","failCode":null,"failMsg":null,"createTime":1776323915587}}'
    % TASK_ID.encode(),
)
NOT_SENT = "nothing sent"
LOST = "answer lost"


def body(code: int, msg: str = "no") -> HttpResponse:
    return HttpResponse(200, b'{"code":%d,"msg":"%s","data":null}' % (code, msg.encode()))


def answer(kind: str | HttpResponse) -> HttpResponse | KieError:
    if isinstance(kind, HttpResponse):
        return kind
    if kind == NOT_SENT:
        return TransportError("connection refused", maybe_sent=False)
    return TransportError("connection reset by peer", maybe_sent=True)


@dataclass
class FakeTime:
    now: float = 5000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Script:
    """Answers requests from a list, in order (the last repeats); an exception is raised."""

    answers: list[Any]
    sent: list[HttpRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        found = answer(self.answers[min(len(self.sent), len(self.answers)) - 1])
        if isinstance(found, BaseException):
            raise found
        return found


def engine(retry: RetryPolicy | None = None) -> Engine:
    return Engine(
        api_key=KEY,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        retry=retry,
    )


@pytest.fixture(params=["drive", "drive_async"])
def run(request: pytest.FixtureRequest) -> Callable[[Flow[Any], Script, FakeTime], Any]:
    def go(flow: Flow[Any], script: Script, fake: FakeTime) -> Any:
        if request.param == "drive":
            return drive(flow, script.transport, sleep=fake.sleep, clock=fake.clock)
        coroutine = drive_async(flow, script.transport, sleep=fake.async_sleep, clock=fake.clock)
        return asyncio.run(coroutine)

    return go


def submit(eng: Engine) -> Flow[Task]:
    return eng.submit(GROK, eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"})))


def status(eng: Engine) -> Flow[Any]:
    return eng.status(Task(TASK_ID, GROK))


# -- the policy's arithmetic ---------------------------------------------------------------------


@given(retry=st.integers(1, 80), seed=st.integers(0, 2**32))
def test_backoff_is_full_jitter_under_the_cap(retry: int, seed: int) -> None:
    policy = RetryPolicy(base=0.5, cap=8.0)

    delay = policy.backoff(retry, random.Random(seed))  # noqa: S311

    assert 0 <= delay <= min(8.0, 0.5 * 2 ** (retry - 1))


def test_a_seed_makes_the_jitter_repeatable_and_jitter_spreads_clients() -> None:
    seeded = RetryPolicy(seed=7)
    first = [seeded.backoff(3, seeded.randomness()) for _ in range(2)]
    spread = {RetryPolicy().backoff(4, RetryPolicy().randomness()) for _ in range(20)}

    assert first[0] == first[1]
    assert len(spread) > 10  # clients failing together do not come back together


@pytest.mark.parametrize(
    "options",
    [{"attempts": 0}, {"attempts": 1.5}, {"attempts": True}, {"base": -1}, {"cap": float("nan")}],
)
def test_a_nonsense_policy_is_refused_naming_the_field(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        RetryPolicy(**options)


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    sent = datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC)
    later = format_datetime(sent + timedelta(seconds=42), usegmt=True)

    assert parse_retry_after({"Retry-After": "7"}) == 7
    assert parse_retry_after({"retry-after": " 1.5 "}) == 1.5
    # a date is measured against the answer's own Date header, whatever our clock says
    assert (
        parse_retry_after({"retry-after": later, "date": format_datetime(sent, usegmt=True)}) == 42
    )
    assert parse_retry_after({"retry-after": later}, now=sent.timestamp() + 40) == 2
    assert parse_retry_after({"retry-after": later}, now=sent.timestamp() + 99) == 0


@pytest.mark.parametrize("value", ["soon", "-3", "inf", "nan", "", "Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
    assert parse_retry_after({}) is None


READ_CASES = [
    (TransportError("reset"), Verdict.RETRY),
    (TransportError("refused", maybe_sent=False), Verdict.RETRY),
    (http_error(502, "Bad Gateway"), Verdict.RETRY),
    (api_error(429, "slow"), Verdict.RETRY),
    (api_error(455, "maintenance"), Verdict.RETRY),
    (api_error(500, "oops"), Verdict.RETRY),
    (ProtocolError("junk"), Verdict.RAISE),
    (api_error(401, "no"), Verdict.RAISE),
    (api_error(402, "no"), Verdict.RAISE),
    (api_error(422, "no"), Verdict.RAISE),
]
CREATE_CASES = [
    (TransportError("refused", maybe_sent=False), Verdict.RETRY, Verdict.RETRY),
    (TransportError("reset"), Verdict.UNKNOWN, Verdict.RETRY),
    (http_error(502, "Bad Gateway"), Verdict.UNKNOWN, Verdict.RETRY),
    (http_error(429, "Too Many Requests"), Verdict.RETRY, Verdict.RETRY),
    (api_error(429, "slow"), Verdict.RETRY, Verdict.RETRY),
    (api_error(455, "maintenance"), Verdict.RETRY, Verdict.RETRY),
    (api_error(550, "queue full"), Verdict.RETRY, Verdict.RETRY),
    (api_error(500, "oops"), Verdict.RAISE, Verdict.RETRY),
    (ProtocolError("junk"), Verdict.UNKNOWN, Verdict.UNKNOWN),
    (api_error(401, "no"), Verdict.RAISE, Verdict.RAISE),
    (api_error(402, "no"), Verdict.RAISE, Verdict.RAISE),
    (api_error(422, "no"), Verdict.RAISE, Verdict.RAISE),
    (http_error(404, "Not Found"), Verdict.RAISE, Verdict.RAISE),
]


@pytest.mark.parametrize(("error", "expected"), READ_CASES)
def test_reads_retry_whatever_is_retryable(error: KieError, expected: Verdict) -> None:
    assert verdict(error, safe=True) is expected


@pytest.mark.parametrize(("error", "default", "opted_in"), CREATE_CASES)
def test_the_create_table(error: KieError, default: Verdict, opted_in: Verdict) -> None:
    assert verdict(error, safe=False) is default
    assert verdict(error, safe=False, retry_creates=True) is opted_in


# -- reads on fake time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trouble",
    [
        LOST,
        NOT_SENT,
        HttpResponse(503, b"<html>busy</html>", "Service Unavailable"),
        body(429),
        body(455),
        body(500),
    ],
    ids=["reset", "refused", "http-503", "429", "455", "500"],
)
def test_a_status_poll_is_retried_with_backoff(run: Any, trouble: Any) -> None:
    fake, script = FakeTime(), Script([trouble, trouble, RUNNING])
    policy = RetryPolicy(attempts=3, base=1.0, cap=10.0, seed=1)

    found = run(status(engine(policy)), script, fake)

    assert found.task_id == TASK_ID
    assert len(script.sent) == 3
    assert len(fake.sleeps) == 2
    assert 0 <= fake.sleeps[0] <= 1.0
    assert 0 <= fake.sleeps[1] <= 2.0


def test_attempts_run_out_and_the_last_error_is_raised(run: Any) -> None:
    fake, script = FakeTime(), Script([LOST, LOST, body(455, "Service under maintenance")])

    with pytest.raises(MaintenanceError) as info:
        run(status(engine(RetryPolicy(attempts=3))), script, fake)

    assert info.value.task_id == TASK_ID
    assert len(script.sent) == 3


@pytest.mark.parametrize(
    ("code", "error"),
    # a status query's 422 refuses its only field, the task id: KIE has no such task
    [(401, AuthenticationError), (402, InsufficientCreditsError), (422, TaskNotFoundError)],
)
def test_caller_faults_are_never_retried(run: Any, code: int, error: type[ApiError]) -> None:
    fake, script = FakeTime(), Script([body(code), RUNNING])

    with pytest.raises(error):
        run(status(engine(RetryPolicy(attempts=5))), script, fake)

    assert len(script.sent) == 1
    assert fake.sleeps == []


def test_retry_after_seconds_replace_the_backoff(run: Any) -> None:
    limited = HttpResponse(429, b"", "Too Many Requests", {"retry-after": "7"})
    fake, script = FakeTime(), Script([limited, RUNNING])

    run(status(engine(RetryPolicy(base=0.1, cap=0.2))), script, fake)

    assert fake.sleeps == [7]


def test_retry_after_as_a_date_is_read_against_the_answers_date(run: Any) -> None:
    sent = datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC)
    headers = {
        "date": format_datetime(sent, usegmt=True),
        "retry-after": format_datetime(sent + timedelta(seconds=3), usegmt=True),
    }
    fake = FakeTime()
    script = Script([HttpResponse(503, b"", "Service Unavailable", headers), RUNNING])

    run(status(engine(RetryPolicy())), script, fake)

    assert fake.sleeps == [3]


def test_a_retry_after_past_the_deadline_raises_at_once(run: Any) -> None:
    limited = HttpResponse(429, b"", "Too Many Requests", {"retry-after": "120"})
    fake, script = FakeTime(), Script([limited, RUNNING])

    with pytest.raises(RateLimitedError):
        run(status(engine(RetryPolicy(deadline=60))), script, fake)

    assert fake.sleeps == []  # never sleeps past the deadline
    assert len(script.sent) == 1


def test_every_retry_ends_within_the_deadline(run: Any) -> None:
    fake, script = FakeTime(), Script([LOST])
    policy = RetryPolicy(attempts=50, base=4.0, cap=30.0, deadline=45.0, seed=3)

    with pytest.raises(TransportError):
        run(status(engine(policy)), script, fake)

    assert sum(fake.sleeps) <= 45.0
    assert len(script.sent) == len(fake.sleeps) + 1


def test_a_wait_deadline_bounds_the_retries_of_its_polls(run: Any) -> None:
    fake, script = FakeTime(), Script([LOST])
    policy = RetryPolicy(attempts=100, base=1.0, cap=1.0, deadline=600.0)
    flow = engine(policy).wait(Task(TASK_ID, GROK), policy=PollPolicy(initial=1, timeout=20))

    with pytest.raises(KieError):
        run(flow, script, fake)

    assert fake.now - 5000.0 <= 20 + 1e-9


def test_a_wait_honours_retry_after_beyond_its_poll_interval(run: Any) -> None:
    limited = HttpResponse(429, b"", "Too Many Requests", {"retry-after": "30"})
    fake, script = FakeTime(), Script([limited, RUNNING])
    flow = engine(RetryPolicy()).wait(Task(TASK_ID, GROK), policy=PollPolicy(timeout=40))

    with pytest.raises(KieError):
        run(flow, script, fake)

    assert fake.sleeps[0] == 30  # not the 2 s poll interval
    assert sum(fake.sleeps) == pytest.approx(40)  # and never past the deadline


def test_a_retry_is_logged_at_info(run: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kiekit")  # -v: retries, not every request
    fake, script = FakeTime(), Script([body(455, "Service under maintenance"), RUNNING])

    run(status(engine(RetryPolicy())), script, fake)

    (record,) = [r for r in caplog.records if r.name == "kiekit" and "retrying" in r.getMessage()]
    assert "retrying GET /api/v1/jobs/recordInfo" in record.getMessage()
    assert "455" in record.getMessage()


def test_never_means_one_try(run: Any) -> None:
    fake, script = FakeTime(), Script([LOST, RUNNING])

    with pytest.raises(TransportError):
        run(status(engine(RetryPolicy.never())), script, fake)

    assert len(script.sent) == 1


# -- creates on fake time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "lost",
    [
        LOST,
        HttpResponse(502, b"<html>Bad Gateway</html>", "Bad Gateway"),
        HttpResponse(200, b"<html>portal</html>", "OK"),
        HttpResponse(200, b'{"code":200,"msg":"success","da', "OK"),
        HttpResponse(200, b'{"code":200,"msg":"success","data":{}}', "OK"),
    ],
    ids=["reset", "http-502", "html", "cut-json", "no-task-id"],
)
def test_a_create_that_may_have_reached_kie_is_not_sent_again(run: Any, lost: Any) -> None:
    fake, script = FakeTime(), Script([lost, CREATED])

    with pytest.raises(OutcomeUnknownError) as info:
        run(submit(engine(RetryPolicy(attempts=5))), script, fake)

    error = info.value
    assert len(script.sent) == 1
    assert error.model == GROK
    assert isinstance(error.request, Request)  # the call as described
    assert error.request.path == "/api/v1/jobs/createTask"
    assert (error.request.body or {})["input"] == {"prompt": "a fox"}
    assert isinstance(error.cause, KieError)
    assert error.__cause__ is error.cause
    assert "dashboard" in str(error)
    assert not error.retryable
    assert KEY not in repr(error.request) + str(error) + repr(vars(error))


@pytest.mark.parametrize(
    "refused",
    [NOT_SENT, body(429, "Rate limit exceeded"), body(455), body(550), HttpResponse(429, b"", "")],
    ids=["refused", "429", "455", "550", "http-429"],
)
def test_a_create_that_provably_made_nothing_is_sent_again(run: Any, refused: Any) -> None:
    fake, script = FakeTime(), Script([refused, refused, CREATED])

    task = run(submit(engine(RetryPolicy(attempts=3))), script, fake)

    assert task == Task(TASK_ID, GROK)
    assert len(script.sent) == 3


def test_a_create_kie_refused_with_500_is_raised_not_resent(run: Any) -> None:
    fake, script = FakeTime(), Script([body(500, "This field is required"), CREATED])

    with pytest.raises(ServerError):
        run(submit(engine(RetryPolicy(attempts=3))), script, fake)

    assert len(script.sent) == 1


def test_opting_in_resends_a_create_whose_answer_was_lost(run: Any) -> None:
    fake, script = FakeTime(), Script([LOST, body(500), CREATED])

    task = run(submit(engine(RetryPolicy(attempts=3, retry_creates=True))), script, fake)

    assert task.id == TASK_ID
    assert len(script.sent) == 3


def test_an_opted_in_create_that_keeps_failing_is_still_outcome_unknown(run: Any) -> None:
    """The first try may have made a task even though the last one was refused."""
    fake, script = FakeTime(), Script([LOST, NOT_SENT])

    with pytest.raises(OutcomeUnknownError) as info:
        run(submit(engine(RetryPolicy(attempts=3, retry_creates=True))), script, fake)

    assert len(script.sent) == 3
    assert isinstance(info.value.cause, TransportError)
    assert info.value.cause.maybe_sent is False


def test_a_refused_create_that_then_loses_its_answer_is_outcome_unknown(run: Any) -> None:
    fake, script = FakeTime(), Script([NOT_SENT, LOST, CREATED])

    with pytest.raises(OutcomeUnknownError):
        run(submit(engine(RetryPolicy(attempts=3))), script, fake)

    assert len(script.sent) == 2


def test_a_post_sent_through_call_is_treated_as_a_create(run: Any) -> None:
    """Client.call may carry a paid request (Veo's 4K upgrade): only GET/HEAD are resent."""
    from kiekit import Request

    fake, script = FakeTime(), Script([LOST, body(200)])
    eng = engine(RetryPolicy(attempts=3))

    with pytest.raises(OutcomeUnknownError) as info:
        run(
            eng.call(Request("POST", "/api/v1/veo/get-4k-video", body={"taskId": "t"})),
            script,
            fake,
        )
    assert info.value.model is None

    fake, script = FakeTime(), Script([LOST, body(200)])
    run(
        eng.call(Request("GET", "/api/v1/veo/get-1080p-video", query={"taskId": "t"})), script, fake
    )
    assert len(script.sent) == 2


@pytest.mark.parametrize("cls", ["Client", "AsyncClient"])
@pytest.mark.parametrize("option", [{"retry": 3}, {"rate_limits": 20}])
def test_a_wrong_reliability_option_is_a_configuration_error(
    cls: str, option: dict[str, Any]
) -> None:
    import kiekit
    from kiekit import ConfigurationError

    with pytest.raises(ConfigurationError, match=next(iter(option))):
        getattr(kiekit, cls)(KEY, **option)


def test_outcome_unknown_survives_pickling() -> None:
    from kiekit import Request

    error = OutcomeUnknownError(
        model=GROK, request=Request("POST", "/api/v1/jobs/createTask"), cause=TransportError("x")
    )

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(copy) is OutcomeUnknownError
    assert (copy.model, copy.request, str(copy)) == (error.model, error.request, str(error))
    assert isinstance(copy.cause, TransportError)


# -- through the clients ------------------------------------------------------------------------

QUICK = RetryPolicy(attempts=3, base=0.001, cap=0.002)


def test_clients_share_the_retry_policy(api: Any, kit: SimpleNamespace) -> None:
    script = Script([LOST, body(429), RUNNING])

    async def scenario() -> Any:
        async with api.client(transport=script.transport, retry=QUICK) as client:
            return await client.status(Task(TASK_ID, GROK))

    assert api.run(scenario).task_id == TASK_ID
    assert len(script.sent) == 3


def test_clients_never_resend_a_create_by_default(api: Any, kit: SimpleNamespace) -> None:
    script = Script([LOST, CREATED])

    async def scenario() -> Any:
        async with api.client(transport=script.transport, retry=QUICK) as client:
            return await client.submit(GROK, prompt="a fox")

    with pytest.raises(OutcomeUnknownError):
        api.run(scenario)
    assert len(script.sent) == 1


def test_clients_resend_creates_when_told_to(api: Any, kit: SimpleNamespace) -> None:
    script = Script([LOST, CREATED])
    policy = RetryPolicy(attempts=3, base=0.001, cap=0.002, retry_creates=True)

    async def scenario() -> Any:
        async with api.client(transport=script.transport, retry=policy) as client:
            return await client.submit(GROK, prompt="a fox")

    assert api.run(scenario).id == TASK_ID
    assert len(script.sent) == 2


# -- over real sockets: what the transports tell apart ------------------------------------------


@pytest.fixture
def resetting_server() -> Iterator[SimpleNamespace]:
    """Reads each request, then closes the connection without a word: the request arrived,
    its answer is lost (a create here would have made a task)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    seen = SimpleNamespace(requests=0, url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    seen.requests += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_dead_port_means_nothing_was_sent(api: Any, kit: SimpleNamespace) -> None:
    """Connection refused: the create provably made nothing, so it was tried again (and the
    error is the plain TransportError, not "outcome unknown")."""

    async def scenario() -> None:
        base_url = f"http://127.0.0.1:{kit.free_port()}"
        async with api.client(base_url=base_url, retry=QUICK) as client:
            await client.submit(GROK, prompt="a fox")

    with pytest.raises(TransportError) as info:
        api.run(scenario)

    assert info.value.maybe_sent is False
    assert not isinstance(info.value, OutcomeUnknownError)


def test_a_reset_after_the_request_arrived_is_outcome_unknown(
    api: Any, resetting_server: SimpleNamespace
) -> None:
    async def scenario() -> None:
        async with api.client(base_url=resetting_server.url, retry=QUICK) as client:
            await client.submit(GROK, prompt="a fox")

    with pytest.raises(OutcomeUnknownError) as info:
        api.run(scenario)

    assert resetting_server.requests == 1  # sent once, never again
    assert isinstance(info.value.cause, TransportError)
    assert info.value.cause.maybe_sent is True
