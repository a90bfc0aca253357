"""One retry loop (issue 14): API calls, status polls, uploads and downloads are tried again by
the same sub-flow (``kiekit._engine.retrying.retrying``) with the same rules — the server's
Retry-After before the policy's backoff, never a wait past the deadline, a failure the policy
does not cure raised at once — and every answer of KIE's two hosts is read by one reader."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kiekit
import pytest
from kiekit import Task, TransportError
from kiekit._engine import Engine, Flow
from kiekit._engine.account import Files
from kiekit.errors import RateLimitedError, ServerError
from kiekit.models import Asset, MediaKind, Results
from kiekit.polling import PollPolicy
from kiekit.registry import Registry
from kiekit.retry import RetryPolicy
from kiekit.settings import endpoints
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive, drive_async

KEY = "test-key-one-loop"
TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
GROK = "grok-imagine/text-to-image"
FILE = "https://tempfile.aiquickdraw.com/r/a.png"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64) + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole
RUNNING = HttpResponse(
    200,
    b'{"code":200,"msg":"success","data":{"taskId":"%s","state":"generating",'
    b'"param":"{}","resultJson":"","failCode":null,"failMsg":null}}' % TASK_ID.encode(),
)
UPLOADED = HttpResponse(
    200,
    b'{"success":true,"code":200,"msg":"ok","data":{"fileName":"a.png","filePath":"k/a.png",'
    b'"downloadUrl":"https://tempfile.redpandaai.co/k/a.png","fileSize":3}}',
)


@dataclass
class FakeTime:
    now: float = 5000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _engine(policy: RetryPolicy) -> Engine:
    return Engine(
        api_key=KEY,
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        retry=policy,
    )


# Each kind of call, as a flow, with the answer that ends it well
def _status(engine: Engine, _out: Path) -> Flow[Any]:
    return engine.status(Task(TASK_ID, GROK))


def _upload(engine: Engine, _out: Path) -> Flow[Any]:
    files = Files(engine, endpoints("https://api.kie.ai", None))
    return files.upload(b"abc", upload_path="kiekit", file_name="a.png")


def _download(engine: Engine, out: Path) -> Flow[Any]:
    results = Results(TASK_ID, (Asset(FILE, MediaKind.IMAGE, "image/png"),))
    return engine.download(results, out)


KINDS: dict[str, tuple[Callable[[Engine, Path], Flow[Any]], HttpResponse]] = {
    "status poll": (_status, RUNNING),
    "upload": (_upload, UPLOADED),
    "download": (_download, HttpResponse(200, PNG, "OK", {"content-type": "image/png"})),
}


def _run(kind: str, answers: list[Any], policy: RetryPolicy, tmp: Path, driver: str) -> Any:
    flow_of, _ = KINDS[kind]
    sent: list[HttpRequest] = []

    def handle(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        found = answers[min(len(sent), len(answers)) - 1]
        if isinstance(found, BaseException):
            raise found
        return found

    fake, transport = FakeTime(), MockTransport(handle)
    flow = flow_of(_engine(policy), tmp)
    if driver == "drive":
        drive(flow, transport, sleep=fake.sleep, clock=fake.clock)
    else:
        asyncio.run(drive_async(flow, transport, sleep=fake.async_sleep, clock=fake.clock))
    return fake.sleeps, len(sent)


@pytest.fixture(params=["drive", "drive_async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_comes_before_the_backoff_for_every_kind_of_call(
    kind: str, driver: str, tmp_path: Path
) -> None:
    limited = HttpResponse(429, b"", "Too Many Requests", {"retry-after": "7"})
    sleeps, sent = _run(kind, [limited, KINDS[kind][1]], RetryPolicy(), tmp_path, driver)
    assert (sleeps, sent) == ([7], 2)


@pytest.mark.parametrize("kind", KINDS)
def test_a_network_fault_is_retried_with_the_policy_s_backoff_for_every_kind(
    kind: str, driver: str, tmp_path: Path
) -> None:
    lost = TransportError("connection reset by peer")
    policy = RetryPolicy(base=0.5, cap=0.5, seed=1)
    sleeps, sent = _run(kind, [lost, KINDS[kind][1]], policy, tmp_path, driver)
    assert sent == 2
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_no_kind_of_call_waits_past_the_deadline(kind: str, driver: str, tmp_path: Path) -> None:
    limited = HttpResponse(503, b"", "Service Unavailable", {"retry-after": "120"})
    with pytest.raises((ServerError, RateLimitedError, kiekit.DownloadError)):
        _run(kind, [limited], RetryPolicy(deadline=60), tmp_path, driver)


def test_there_is_one_retry_loop_and_one_answer_reader() -> None:
    """The backoff is drawn in one place, and KIE's envelope read from an answer in one."""
    src = Path(kiekit.__file__).parent
    backoffs, readers = [], []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                calls = {
                    n.func.attr
                    for n in ast.walk(node)
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                }
                if "backoff" in calls:
                    backoffs.append(f"{path.name}:{node.name}")
                if "read_envelope" in calls:
                    readers.append(f"{path.name}:{node.name}")
    assert backoffs == ["retrying.py:retrying"]
    # Task, account and upload answers: one reader. A chat answer is not an envelope but the
    # model's own JSON (kie-api.md §5); only an error envelope in its place is looked for.
    assert readers == ["retrying.py:read_envelope", "_flows.py:_raise_envelope_error"]
