"""Reliability end to end: the clients against kiekit_mock's faults, limits and expiring links.

The mock emulates KIE on 127.0.0.1 and records every request it answered, so these tests see
what a real account would: how many creates reached KIE, how many tasks were made (and paid
for), and whether any request drew a 429.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    Asset,
    DownloadError,
    MediaKind,
    OutcomeUnknownError,
    PollPolicy,
    Rate,
    RateLimits,
    Results,
    RetryPolicy,
    Task,
)

faults = pytest.importorskip("kiekit_mock.faults")

GROK = "grok-imagine/text-to-image"
CREATE_PATH = "/api/v1/jobs/createTask"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=10.0)
QUICK = RetryPolicy(attempts=3, base=0.01, cap=0.02)


def creates(mock: Any) -> list[Any]:
    return [r for r in mock.requests() if r.method == "POST" and r.path == CREATE_PATH]


def test_a_create_whose_answer_is_lost_after_kie_made_the_task_is_not_sent_again(
    api: Any, mock_server: Any
) -> None:
    mock_server.faults.add(
        faults.FaultRule(kind="reset", method="POST", path=CREATE_PATH, when="after", times=1)
    )

    async def scenario() -> None:
        async with api.client(base_url=mock_server.base_url, retry=QUICK, journal=None) as kie:
            await kie.submit(GROK, prompt="a lighthouse")

    with pytest.raises(OutcomeUnknownError) as info:
        api.run(scenario)

    assert len(creates(mock_server)) == 1  # one create reached KIE ...
    assert len(mock_server.tasks()) == 1  # ... and made (and charged) one task: not two
    assert info.value.model == GROK
    assert "dashboard" in str(info.value)


def test_a_create_kie_refused_with_429_is_sent_again_and_makes_one_task(
    api: Any, mock_server: Any
) -> None:
    mock_server.faults.add(
        faults.FaultRule(
            kind="kie", code=429, method="POST", path=CREATE_PATH, times=1, retry_after=0.2
        )
    )

    # A create refused with 429 waits out the create window before it goes again (10 s at
    # KIE's limits); a window of 0.2 s keeps the test short and the wait measurable.
    limits = RateLimits(creates=Rate(20, 0.2))

    async def scenario() -> Task:
        async with api.client(
            base_url=mock_server.base_url, retry=QUICK, journal=None, rate_limits=limits
        ) as kie:
            return await kie.submit(GROK, prompt="a lighthouse")

    task = api.run(scenario)

    refused, made = creates(mock_server)
    assert (refused.code, made.code) == (429, 200)
    assert [t.task_id for t in mock_server.tasks()] == [task.id]
    # the Retry-After header crossed the socket: the backoff alone is at most 0.02 s
    assert made.at - refused.at >= 0.2


def test_status_polls_ride_out_proxy_5xx(api: Any, mock_server: Any, tmp_path: Path) -> None:
    mock_server.faults.add(
        faults.FaultRule(kind="http", status=503, method="GET", path="/api/v1/jobs/*", times=2)
    )

    async def scenario() -> list[Path]:
        async with api.client(
            base_url=mock_server.base_url, retry=QUICK, poll=FAST, journal=None
        ) as kie:
            task = await kie.submit(GROK, prompt="a lighthouse")
            status = await kie.status(task)  # two 503s, then the answer
            assert status.task_id == task.id
            return await kie.download(await kie.wait(task), tmp_path)

    assert api.run(scenario)
    assert [r.status for r in mock_server.requests() if r.method == "GET"][:3] == [503, 503, 200]


def test_creates_under_the_documented_limits_never_draw_a_429(
    api: Any, mock_server_factory: Any
) -> None:
    """The mock enforces KIE's limits on its clock, 20 times faster than the wall: the client
    keeps the same limits, scaled alike, and a burst of creates is paced, never refused. The mock
    counts a create when it arrives, the client when it sends it: the margin (0.4 s of a 0.5 s
    window) covers a request held that long on its way by a loaded machine."""
    scale = 20.0
    mock = mock_server_factory(time_scale=scale, documented_limits=True)
    scaled = RateLimits(creates=Rate(20, 10.0 / scale), status=Rate(10, 1.0 / scale), margin=0.4)

    async def scenario() -> None:
        async with api.client(
            base_url=mock.base_url, rate_limits=scaled, retry=RetryPolicy.never(), journal=None
        ) as kie:
            for _ in range(45):
                await kie.submit(GROK, prompt="a lighthouse")

    started = time.monotonic()
    api.run(scenario)

    made = creates(mock)
    assert len(made) == 45
    assert {r.code for r in made} == {200}
    assert time.monotonic() - started >= 2 * 10.0 / scale  # paced: 45 creates span 3 windows


def test_an_expired_link_is_renewed_through_the_mocks_download_url(
    api: Any, kit: SimpleNamespace, mock_server: Any, tmp_path: Path
) -> None:
    """A download-url link lives 20 minutes (§4): one kept past that answers 403, and the
    download asks KIE for a fresh one instead of failing."""

    async def get_link() -> tuple[Task, str]:
        async with api.client(base_url=mock_server.base_url, poll=FAST, journal=None) as kie:
            task = await kie.submit(GROK, prompt="a lighthouse")
            results = await kie.wait(task)
            link = await kie.download_url(results.assets[0].url, task_id=task.id)
            return task, link

    task, link = api.run(get_link)
    mock_server.clock.advance(21 * 60)
    stale = Results(task.id, (Asset(link, MediaKind.IMAGE),))

    async def fetch() -> list[Path]:
        async with api.client(base_url=mock_server.base_url, journal=None) as kie:
            return await kie.download(stale, tmp_path)

    (path,) = api.run(fetch)

    assert path.read_bytes()[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")
    answered = [r.status for r in mock_server.requests() if r.path.startswith("/files/")]
    assert answered[-2:] == [403, 200]


def test_a_link_past_retention_is_a_download_error_naming_task_and_url(
    api: Any, mock_server: Any, tmp_path: Path
) -> None:
    async def make() -> Results:
        async with api.client(base_url=mock_server.base_url, poll=FAST, journal=None) as kie:
            return await kie.wait(await kie.submit(GROK, prompt="a lighthouse"))

    results = api.run(make)
    mock_server.clock.advance(15 * 24 * 3600)  # media are kept 14 days (§8)

    async def fetch() -> None:
        async with api.client(base_url=mock_server.base_url, journal=None) as kie:
            await kie.download(results, tmp_path)

    with pytest.raises(DownloadError) as info:
        api.run(fetch)

    assert info.value.task_id == results.task_id
    assert info.value.url == results.assets[0].url
    assert "url is wrong" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# -- Retry-After on a create refused with 429 (outside tester "fixtures", finding 4) ------------


def _create_with_fake_sleeps(mock: Any, retry_after: float | None) -> tuple[list[float], str]:
    """One create through a real socket to the mock, whose first answer is body code 429
    (with a Retry-After header when given); the waits are recorded, not slept."""
    from kiekit import RateLimiter, Registry
    from kiekit._engine import Engine
    from kiekit.transport import Urllib3Transport, drive

    mock.faults.add(
        faults.FaultRule(
            "kie", code=429, method="POST", path=CREATE_PATH, times=1, retry_after=retry_after
        )
    )
    engine = Engine(
        api_key="test-key",
        base_url=mock.base_url,
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        limiter=RateLimiter(RateLimits(margin=0.0)),  # KIE's documented limits
        retry=RetryPolicy(attempts=3, deadline=60.0),
    )
    now, sleeps = [0.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    request = engine.create_request(GROK, engine.prepare(GROK, {"prompt": "a fox"}, {}))
    transport = Urllib3Transport()
    try:
        task = drive(engine.submit(GROK, request), transport, sleep=sleep, clock=lambda: now[0])
    finally:
        transport.close()
    return sleeps, task.id


@pytest.mark.parametrize("retry_after", [1.0, 0.0, 3.0])
def test_a_create_refused_with_429_waits_what_its_retry_after_header_asks(
    mock_server: Any, retry_after: float
) -> None:
    """It waited KIE's whole 10 s window whatever the header said (found by an outside tester:
    each 429 test of an application cost 10 s a try); a status poll already honoured it."""
    sleeps, task_id = _create_with_fake_sleeps(mock_server, retry_after)
    assert sleeps == [retry_after]
    assert [t.task_id for t in mock_server.tasks()] == [task_id]


def test_a_create_refused_with_429_without_retry_after_waits_kies_create_window(
    mock_server: Any,
) -> None:
    sleeps, task_id = _create_with_fake_sleeps(mock_server, None)
    assert sleeps == [10.0]  # kie-api.md §8: 20 creates per 10 s
    assert [t.task_id for t in mock_server.tasks()] == [task_id]


def test_a_retry_after_past_the_retry_deadline_raises_the_429_at_once(mock_server: Any) -> None:
    """The bound on what a header may ask: the retry policy's deadline (60 s by default). A
    proxy asking an hour is not waited for: the refusal (nothing made) is raised."""
    from kiekit import RateLimitedError

    with pytest.raises(RateLimitedError):
        _create_with_fake_sleeps(mock_server, 3600.0)
    assert mock_server.tasks() == []
