"""Fuzzing KIE's answers: whatever comes back, the clients raise only kiekit's typed errors.

Arbitrary bytes, arbitrary JSON, and envelopes with arbitrary codes, messages and data answer
creates, status polls (market and successFlag families) and download-url, with any HTTP status
and any Retry-After header, through Client and AsyncClient (MockTransport). An answer may be
read (a task, a status, a link) or raise a KieError subclass; nothing else may escape — no
KeyError, TypeError, UnicodeDecodeError or RecursionError from deep inside a parser.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiekit import AsyncClient, Client, KieError, PollPolicy, RetryPolicy, Task
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

KEY = "sk-fuzz-canary-51b7"
GROK = "grok-imagine/text-to-image"
GPT4O = "gpt4o-image"
# Tiny everything: the fuzzer needs no waiting, only every path taken.
RETRY = RetryPolicy(attempts=2, base=0.0, cap=0.0, deadline=0.01)
POLL = PollPolicy(initial=0.001, growth=0.001, maximum=0.001, timeout=0.005)
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["success", "fail", "waiting", "GENERATING", "SUCCESS", "1", "200", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "taskId",
                    "state",
                    "resultJson",
                    "successFlag",
                    "response",
                    "resultUrls",
                    "status",
                    "progress",
                    "failCode",
                    "failMsg",
                    "errorCode",
                    "errorMessage",
                    "param",
                    "data",
                    "downloadUrl",
                    "url",
                    "x",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=15,
)
codes = st.sampled_from([200, 200, 200, 400, 401, 402, 404, 422, 429, 455, 500, 501, 550]) | (
    st.integers(-1000, 1000) | st.text(max_size=4) | st.none() | st.floats()
)
envelopes = st.fixed_dictionaries(
    {"code": codes, "msg": json_values, "data": json_values},
    optional={"message": json_values, "success": st.booleans()},
).map(lambda value: json.dumps(value).encode())
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    envelopes,
    st.just(b"[" * 5000),  # deep nesting: a parser's recursion limit
)
statuses = st.sampled_from([200, 200, 200, 200, 302, 403, 404, 429, 500, 502, 503]) | st.integers(
    100, 599
)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "date", "content-type", "content-length"]),
    st.text(max_size=30) | st.sampled_from(["0", "1", "Wed, 21 Oct 2015 07:28:00 GMT", "-1"]),
    max_size=3,
)
answers = st.builds(HttpResponse, statuses, bodies, st.text(max_size=10), headers) | st.builds(
    HttpResponse, st.just(200), envelopes, st.just("OK"), st.just({})
)


def run_both(name: str, answer_list: list[HttpResponse], action: str) -> Any:
    sent: list[HttpRequest] = []

    def handle(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return answer_list[min(len(sent), len(answer_list)) - 1]

    transport = MockTransport(handle)
    options: dict[str, Any] = {
        "transport": transport,
        "retry": RETRY,
        "poll": POLL,
        "rate_limits": None,
        "journal": None,
    }

    if name == "Client":
        with Client(KEY, **options) as client:
            return _act(client, action)

    async def go() -> Any:
        async with AsyncClient(KEY, **options) as client:
            result = _act(client, action)
            return await result

    return asyncio.run(go())


def _act(client: Any, action: str) -> Any:
    if action == "create":
        return client.submit(GROK, prompt="a fox")
    if action == "create-4o":
        return client.submit(GPT4O, prompt="a fox", size="1:1")
    if action == "status":
        return client.status(Task("t1", GROK))
    if action == "status-4o":
        return client.status(Task("t1", GPT4O))
    if action == "wait":
        return client.wait(Task("t1", GROK))
    return client.download_url("https://tempfile.aiquickdraw.com/r/a.png", task_id="t1")


ACTIONS = ["create", "create-4o", "status", "status-4o", "wait", "download-url"]


@pytest.mark.parametrize("name", ["Client", "AsyncClient"])
@FUZZ
@given(action=st.sampled_from(ACTIONS), answer_list=st.lists(answers, min_size=1, max_size=3))
def test_any_answer_reads_or_raises_a_kie_error(
    name: str, action: str, answer_list: list[HttpResponse]
) -> None:
    error: KieError | None = None
    try:
        run_both(name, answer_list, action)
    except KieError as exc:  # anything else fails the test, with its traceback
        error = exc

    assert error is None or KEY not in str(error) + repr(vars(error))


@pytest.mark.parametrize("name", ["Client", "AsyncClient"])
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"code":200,"data":' * 3000, b"\xff\xfe\x00", b'{"code":1e999}', b"NaN"],
    ids=["deep-list", "deep-object", "bad-utf8", "huge-code", "nan"],
)
@pytest.mark.parametrize("action", ACTIONS)
def test_pathological_bodies_are_protocol_errors(name: str, body: bytes, action: str) -> None:
    from kiekit import OutcomeUnknownError, ProtocolError

    with pytest.raises(KieError) as info:
        run_both(name, [HttpResponse(200, body, "OK")], action)

    error = info.value
    if action.startswith("create"):  # it may have made a task: never a plain junk error
        assert isinstance(error, OutcomeUnknownError)
        error = error.cause
    assert isinstance(error, ProtocolError)
