"""What an SRE wiring kiekit into a service's observability depends on (docs/observability.md;
outside tester "observe", findings 3–6 and 9):

- every kiekit log record about a task carries its names as attributes (``kiekit_task_id``,
  ``kiekit_model``, ``kiekit_key`` …), and every request line of a create or a wait names its
  task, with or without an idempotency key;
- request lines go to ``kiekit.http``, downloads' too (without a signed link's query);
- a poll's retry is said at INFO with its cause, as every other retry;
- a status outage under many waits is one warning, and one when it ends;
- ``observer=`` gets typed events: requests (a body-code 429 as such), retries, states, files.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from kiekit import PollPolicy, Registry, Task
from kiekit._engine import Engine
from kiekit.observe import (
    Downloaded,
    Event,
    RequestEnded,
    RequestSent,
    Retrying,
    StateChanged,
    TaskCreated,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive_async
from kiekit_mock import FaultRule

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
KEY = "sk-canary-observe-0123456789"
DOCS = Path(__file__).parents[2] / "docs" / "observability.md"


def _field(record: logging.LogRecord, name: str) -> Any:
    """An attribute ``extra=`` gave the record (a KeyError when the record lacks it)."""
    return vars(record)[name]


def test_without_an_idempotency_key_every_line_of_a_task_is_tied_to_it_by_its_attributes(
    api: Any, mock_server: Any, tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    """Finding 4: 1000 of 2422 lines of a 200-task run named no task. Now the create's lines
    carry the journal row's key and the model, the wait's and the download's the task id,
    the model and the same key — as text (the key) and as record attributes."""

    async def scenario() -> str:
        async with api.client(api_key=KEY, base_url=mock_server.base_url, poll=FAST) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            await kie.download(await kie.wait(task), tmp_path)
            return str(task.id)

    task_id = api.run(scenario)
    mine = [r for r in records if r.name in ("kiekit", "kiekit.http")]
    (created,) = [r for r in mine if r.getMessage().startswith("created task ")]
    key = _field(created, "kiekit_key")
    assert key
    assert _field(created, "kiekit_task_id") == task_id
    assert _field(created, "kiekit_model") == GROK
    http = [r for r in mine if r.name == "kiekit.http"]
    assert len(http) >= 6  # create, poll(s), download: sent and answered each
    for record in mine:
        assert _field(record, "kiekit_key") == key, record.getMessage()
        assert _field(record, "kiekit_model") == GROK, record.getMessage()
        assert record.getMessage().endswith(f"[key {key}]"), record.getMessage()
    creates = [r for r in http if "createTask" in r.getMessage()]
    assert len(creates) == 2
    assert all(_field(r, "kiekit_task_id") is None for r in creates)
    later = [r for r in http if "createTask" not in r.getMessage()]
    assert later
    assert all(_field(r, "kiekit_task_id") == task_id for r in later)
    answered = [r for r in later if "answered in" in r.getMessage()]
    assert all(f"(task {task_id})" in r.getMessage() for r in answered)
    assert all(isinstance(_field(r, "kiekit_elapsed_ms"), float) for r in answered)
    assert not any(KEY in r.getMessage() for r in mine)


def test_without_a_journal_the_lines_of_a_wait_still_name_its_task_and_model(
    api: Any, mock_server: Any, records: list[logging.LogRecord]
) -> None:
    async def scenario() -> str:
        async with api.client(base_url=mock_server.base_url, poll=FAST, journal=None) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            await kie.wait(task)
            return str(task.id)

    task_id = api.run(scenario)
    polls = [r for r in records if "recordInfo" in r.getMessage()]
    assert polls
    assert all(
        _field(r, "kiekit_task_id") == task_id and _field(r, "kiekit_model") == GROK for r in polls
    )
    assert all(_field(r, "kiekit_key") is None for r in polls)


def test_request_lines_have_a_logger_of_their_own_and_downloads_are_among_them(
    api: Any, mock_server: Any, tmp_path: Path, records: list[logging.LogRecord]
) -> None:
    """Finding 9: request lines can be tuned apart from lifecycle lines (``kiekit.http``), and
    -vv tells a result file's request as it tells every other, without its signed query."""

    async def scenario() -> int:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as kie:
            results = await kie.wait(await kie.submit(GROK, prompt="a fox"))
            return len(await kie.download(results, tmp_path))

    count = api.run(scenario)
    http = [r.getMessage() for r in records if r.name == "kiekit.http"]
    lifecycle = [r.getMessage() for r in records if r.name == "kiekit"]
    assert any(line.startswith("created task ") for line in lifecycle)
    assert not any(line.startswith(("POST ", "GET ")) for line in lifecycle)
    files = [line for line in http if line.startswith(f"GET {mock_server.base_url}/")]
    assert count >= 1
    assert len(files) == 2 * count, http  # each: sent, then answered
    assert all(
        re.search(r": HTTP 200, answered in \d+ ms \(task \w+\)", line) for line in files[1::2]
    )
    assert not any("?" in line for line in files)


def test_a_polls_retry_is_said_at_info_with_its_cause(
    api: Any, mock_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 5: a 429 answered to a status poll (KIE's body code, over HTTP 200) left no
    line at -v. It is said as every other retry is, with the task's names."""
    mock_server.faults.add(FaultRule("kie", code=429, path="/api/v1/jobs/recordInfo", times=1))

    async def scenario() -> str:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            await kie.wait(task)
            return str(task.id)

    with caplog.at_level(logging.INFO, logger="kiekit"):
        task_id = api.run(scenario)
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying ")]
    assert len(retries) == 1, [r.getMessage() for r in caplog.records]
    (retry,) = retries
    assert retry.levelno == logging.INFO
    assert retry.getMessage().startswith("retrying GET /api/v1/jobs/recordInfo in ")
    assert "(attempt 2) after: KIE error 429" in retry.getMessage()
    assert (
        _field(retry, "kiekit_task_id"),
        _field(retry, "kiekit_kie_code"),
        _field(retry, "kiekit_http_status"),
    ) == (
        task_id,
        429,
        200,
    )
    assert _field(retry, "kiekit_attempt") == 2


def test_the_observer_is_told_each_request_retry_state_and_file(
    api: Any, mock_server: Any, tmp_path: Path
) -> None:
    """Finding 3: a count of KIE's 429s (HTTP 200, code 429 in the body: kie-api.md §1, §7)
    without parsing bodies, request latencies by path, task states and files, each event
    naming its task, model and journal key."""
    mock_server.faults.add(FaultRule("kie", code=429, path="/api/v1/jobs/recordInfo", times=1))
    events: list[Event] = []

    async def scenario() -> tuple[str, list[Path]]:
        async with api.client(
            base_url=mock_server.base_url, poll=FAST, observer=events.append
        ) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            return str(task.id), list(await kie.download(await kie.wait(task), tmp_path))

    task_id, paths = api.run(scenario)
    ended = [e for e in events if isinstance(e, RequestEnded)]
    refused = [e for e in ended if e.error is not None]
    assert [(e.path, e.http_status, e.kie_code) for e in refused] == [
        ("/api/v1/jobs/recordInfo", 200, 429)
    ]
    (retry,) = [e for e in events if isinstance(e, Retrying)]
    assert (retry.what, retry.kie_code, retry.attempt) == ("GET /api/v1/jobs/recordInfo", 429, 2)
    assert retry.error is refused[0].error
    sent = [e for e in events if isinstance(e, RequestSent)]
    assert len(sent) == len(ended) >= 4  # a create, two polls or more, a download
    assert all(e.seconds >= 0 for e in ended)
    (made,) = [e for e in events if isinstance(e, TaskCreated)]
    assert (made.task_id, made.model) == (task_id, GROK)
    states = [(e.previous, e.state) for e in events if isinstance(e, StateChanged)]
    assert states[0][0] is None
    assert states[-1][1] == "succeeded"
    assert all(before != after for before, after in states)
    landed = [(e.task_id, e.path, e.size) for e in events if isinstance(e, Downloaded)]
    assert landed == [(task_id, path, path.stat().st_size) for path in paths]
    key = made.key
    assert key is not None
    assert all(e.key == key and e.model == GROK for e in events), events
    assert all(e.task_id == task_id for e in events if e is not sent[0] and e is not ended[0])
    assert sent[0].path == ended[0].path == "/api/v1/jobs/createTask"  # no task id yet


def test_an_observer_that_raises_is_logged_and_changes_nothing(
    api: Any, mock_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("metrics backend down")

    async def scenario() -> list[Path]:
        async with api.client(base_url=mock_server.base_url, poll=FAST, observer=broken) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            return list(await kie.download(await kie.wait(task), tmp_path))

    with caplog.at_level(logging.WARNING, logger="kiekit"):
        paths = api.run(scenario)
    assert paths
    assert all(path.is_file() for path in paths)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1, warned  # once, not at every event
    assert "raised on RequestSent: RuntimeError: metrics backend down" in warned[0]


def test_an_observer_must_be_callable(api: Any) -> None:
    from kiekit import ConfigurationError

    with pytest.raises(ConfigurationError, match="observer must be a callable"):
        api.client(base_url="http://127.0.0.1:9", observer="stdout")


# -- a status outage under many waits: said once (finding 6) ---------------------------------


def test_a_status_outage_under_many_waits_is_one_warning_and_one_when_it_ends(
    kit: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 6: a 4-second outage under 200 waits gave 400 warnings. The waits of one client
    share one outage: one warning when it begins, one (with how many waits it held up) when
    polls answer again. Five waits, driven together on fake time: each polls once, then
    every poll fails until 15 have failed, then all answer."""
    state = SimpleNamespace(polls=0, failed=0)

    def kie(request: HttpRequest) -> HttpResponse:
        task_id = request.url.rsplit("=", 1)[1]
        state.polls += 1
        if state.polls <= 5:
            return kit.market("generating", task_id=task_id)
        if state.failed < 15:
            state.failed += 1
            return HttpResponse(503, b"", "Service Unavailable")
        return kit.market("success", task_id=task_id, urls=["https://cdn.test/a.png"])

    clock = SimpleNamespace(now=1000.0)

    async def sleep(seconds: float) -> None:
        clock.now += seconds / 5  # five waits sleep in turn: each sees its pause go by
        await asyncio.sleep(0)

    engine = Engine(
        api_key=KEY,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(initial=1, growth=0, maximum=1, timeout=600),
        user_agent="test",
    )
    tasks = [Task(id=f"{n:032x}", model=GROK) for n in range(5)]

    async def waits() -> list[Any]:
        transport = MockTransport(kie)
        return await asyncio.gather(
            *(
                drive_async(engine.wait(task), transport, sleep=sleep, clock=lambda: clock.now)
                for task in tasks
            )
        )

    with caplog.at_level(logging.INFO, logger="kiekit"):
        results = asyncio.run(waits())
    assert [r.task_id for r in results] == [t.id for t in tasks]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned
    assert warned[0].startswith("status polls keep failing (task ")
    assert "deadline: HTTP 503 Service Unavailable (task " in warned[0]
    assert re.fullmatch(
        r"status polls answer again, after \d+\.\d s of failures that held up 5 waits",
        warned[1],
    )
    # -v tells the retries till the outage is said: not one line per failed poll
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert 1 <= len(retries) <= 5, retries
    assert not engine.outage.under_way


def test_a_wait_that_ends_inside_an_outage_leaves_it(
    kit: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    """A wait that times out while polls fail is out of the outage: the next failure of the
    client says a new outage, not nothing."""
    engine = Engine(
        api_key=KEY,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(initial=1, growth=0, maximum=1, timeout=5),
        user_agent="test",
    )
    down = MockTransport(lambda request: HttpResponse(503, b"", "Service Unavailable"))
    clock = SimpleNamespace(now=0.0)

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    async def wait_once() -> None:
        from kiekit import WaitTimeoutError

        with pytest.raises(WaitTimeoutError):
            await drive_async(
                engine.wait(Task(id="a" * 32, model=GROK)),
                down,
                sleep=sleep,
                clock=lambda: clock.now,
            )

    with caplog.at_level(logging.WARNING, logger="kiekit"):
        asyncio.run(wait_once())
        assert not engine.outage.under_way
        asyncio.run(wait_once())
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line.split(" (")[0] for line in warned] == ["status polls keep failing"] * 2


# -- the docs' recipes, run against stand-ins (kiekit depends on neither) ----------------------


def _recipe(name: str) -> str:
    """The python block of docs/observability.md that follows the heading ``name``."""
    text = DOCS.read_text(encoding="utf-8")
    after = text.split(f"### {name}\n", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


class _Counter:
    """prometheus_client's Counter and Histogram, as far as the recipe uses them."""

    made: ClassVar[dict[str, _Counter]] = {}

    def __init__(self, name: str, doc: str, labels: list[str]) -> None:
        self.name, self.labels_of = name, labels
        self.values: dict[tuple[Any, ...], Any] = {}
        _Counter.made[name] = self

    def labels(self, **labels: Any) -> _Counter:
        assert sorted(labels) == sorted(self.labels_of)
        self._at = tuple(sorted(labels.items()))
        return self

    def inc(self, amount: float = 1) -> None:
        self.values[self._at] = self.values.get(self._at, 0) + amount

    def observe(self, value: float) -> None:
        self.values.setdefault(self._at, []).append(value)


class _Span:
    def __init__(self, name: str, start_time: int | None, attributes: dict[str, Any]) -> None:
        self.name, self.start_time, self.attributes = name, start_time, dict(attributes)
        self.ended: int | None = None
        self.status: Any = None

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_status(self, status: Any) -> None:
        self.status = status

    def end(self, end_time: int | None = None) -> None:
        self.ended = end_time


class _Tracer:
    spans: ClassVar[list[_Span]] = []

    def start_span(
        self, name: str, start_time: int | None = None, attributes: dict[str, Any] | None = None
    ) -> _Span:
        span = _Span(name, start_time, attributes or {})
        self.spans.append(span)
        return span


def test_the_prometheus_recipe_counts_requests_retries_and_kies_429s(
    api: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    fake = types.ModuleType("prometheus_client")
    fake.Counter = fake.Histogram = _Counter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "prometheus_client", fake)
    _Counter.made = {}
    space: dict[str, Any] = {}
    source = compile(_recipe("Prometheus counters"), str(DOCS), "exec")
    exec(source, space)  # noqa: S102 (the docs' text, run as a reader pastes it)
    mock_server.faults.add(FaultRule("kie", code=429, path="/api/v1/jobs/recordInfo", times=1))

    async def scenario() -> None:
        async with api.client(
            base_url=mock_server.base_url, poll=FAST, observer=space["observer"]
        ) as kie:
            await kie.wait(await kie.submit(GROK, prompt="a fox"))

    api.run(scenario)
    retries = _Counter.made["kiekit_retries_total"].values
    assert retries == {(("kie_code", "429"), ("what", "GET /api/v1/jobs/recordInfo")): 1}
    requests = _Counter.made["kiekit_requests_total"].values
    assert requests[(("outcome", "429"), ("path", "/api/v1/jobs/recordInfo"))] == 1
    assert requests[(("outcome", "ok"), ("path", "/api/v1/jobs/createTask"))] == 1
    seconds = _Counter.made["kiekit_request_seconds"].values
    assert len(seconds[(("path", "/api/v1/jobs/recordInfo"),)]) >= 2


def test_the_opentelemetry_recipe_makes_one_span_per_request(
    api: Any, mock_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys
    import types

    trace = types.ModuleType("opentelemetry.trace")
    _Tracer.spans = []
    trace.get_tracer = lambda name: _Tracer()  # type: ignore[attr-defined]
    trace.Status = lambda code, description=None: (code, description)  # type: ignore[attr-defined]
    trace.StatusCode = types.SimpleNamespace(ERROR="ERROR")  # type: ignore[attr-defined]
    otel = types.ModuleType("opentelemetry")
    otel.trace = trace  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry", otel)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", trace)
    space: dict[str, Any] = {}
    source = compile(_recipe("OpenTelemetry spans"), str(DOCS), "exec")
    exec(source, space)  # noqa: S102 (the docs' text, run as a reader pastes it)
    mock_server.faults.add(FaultRule("kie", code=429, path="/api/v1/jobs/recordInfo", times=1))

    async def scenario() -> str:
        async with api.client(
            base_url=mock_server.base_url, poll=FAST, observer=space["observer"]
        ) as kie:
            task = await kie.submit(GROK, prompt="a fox")
            await kie.download(await kie.wait(task), tmp_path)
            return str(task.id)

    task_id = api.run(scenario)
    spans = _Tracer.spans
    # a result file's URL is not a span's name (one name per file: high cardinality,
    # outside tester "otel", finding 12), as the Prometheus recipe's label is not
    files = [s for s in spans if s.name == "GET file"]
    assert files
    assert all(task_id in s.attributes["kiekit.path"] for s in files)
    assert not any("://" in s.name for s in spans)
    assert spans
    assert all(s.ended is not None and s.start_time <= s.ended for s in spans)  # type: ignore[operator]
    (create,) = [s for s in spans if s.name == "POST /api/v1/jobs/createTask"]
    assert create.attributes["kiekit.model"] == GROK
    polls = [s for s in spans if s.name == "GET /api/v1/jobs/recordInfo"]
    assert all(s.attributes["kiekit.task_id"] == task_id for s in polls)
    (refused,) = [s for s in polls if s.status is not None]
    assert refused.attributes["kie.code"] == 429
    assert refused.status[0] == "ERROR"


def test_urllib3s_own_debug_lines_show_a_signed_links_query_unless_the_recipe_filters_them(
    file_server: Any, tmp_path: Path
) -> None:
    """urllib3 writes each request line whole at DEBUG, a result link's signature too (a
    security review's leftover): kiekit leaves the process's urllib3 logger alone, and
    docs/observability.md says so, with a filter to paste, which this runs."""
    from kiekit import Client, MediaKind
    from kiekit.models import Asset, Results

    link = file_server.base_url + "/file.png?X-Amz-Signature=sig-canary-5&token=t-canary-5"
    results = Results("5f488be792eafad4b066e21e5bc472c7", (Asset(link, MediaKind.IMAGE),))
    recipe = compile(_recipe("urllib3's own DEBUG lines show signed links"), str(DOCS), "exec")
    got: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record.getMessage())

    logger = logging.getLogger("urllib3.connectionpool")
    handler, level, filters = Keep(logging.DEBUG), logger.level, list(logger.filters)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with Client(KEY, journal=None) as client:
            client.download(results, tmp_path / "plain")
            assert any("sig-canary-5" in line for line in got)  # what the docs warn of
            got.clear()
            exec(recipe, {})  # noqa: S102 (the docs' text, run as a reader pastes it)
            client.download(results, tmp_path / "filtered")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.filters[:] = filters
    assert any('"GET /file.png?… HTTP/1.1" 200' in line for line in got), got
    assert not [line for line in got if "canary" in line]
