"""Client and AsyncClient over MockTransport: configuration, requests, KIE's envelope, secrets.

Every test runs once per client (the ``api`` fixture).
"""

from __future__ import annotations

import json
import re
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FeatureDisabledError,
    FileWriteError,
    GenerationFailedError,
    InputFetchError,
    InsufficientCreditsError,
    KeyQuotaExceededError,
    KieError,
    MaintenanceError,
    NotFoundError,
    OutcomeUnknownError,
    PollPolicy,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Task,
    TaskNotFoundError,
    UnknownModelError,
    UnprocessableError,
    ValidationError,
)
from kiekit.transport import HttpResponse

FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=5.0)
BODY_CODES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, InsufficientCreditsError),
    (404, NotFoundError),
    (422, UnprocessableError),
    (429, RateLimitedError),
    (433, KeyQuotaExceededError),
    (451, InputFetchError),
    (455, MaintenanceError),
    (500, ServerError),
    (501, GenerationFailedError),
    (505, FeatureDisabledError),
    (550, QueueFullError),
]


def leaked(secret: str, error: BaseException) -> bool:
    """Whether ``secret`` shows in anything a user may print or log about ``error``."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [repr(value) for value in vars(error).values()]
    return any(secret in text for text in texts)


# -- construction ----------------------------------------------------------------------------------


def test_no_key_anywhere_is_a_configuration_error(api: Any) -> None:
    with pytest.raises(ConfigurationError, match="KIE_API_KEY"):
        api.cls()


@pytest.mark.parametrize("key", ["", "   ", "\n"])
def test_a_blank_key_is_a_configuration_error(api: Any, key: str) -> None:
    with pytest.raises(ConfigurationError):
        api.cls(key)


def test_the_key_comes_from_kie_api_key(
    api: Any, kit: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", "sk-from-env-fake")
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> None:
        async with api.client(api_key=None, transport=kie.transport) as client:
            await client.status(Task(kit.TASK_ID, kit.GROK_T2I))

    api.run(scenario)

    assert kie.requests[0].headers["Authorization"] == "Bearer sk-from-env-fake"


def test_an_explicit_key_wins_over_the_environment(
    api: Any, kit: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", "sk-from-env-fake")
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.status(Task(kit.TASK_ID, kit.GROK_T2I))

    api.run(scenario)

    assert kie.requests[0].headers["Authorization"] == f"Bearer {kit.CANARY}"


@pytest.mark.parametrize(
    "base_url",
    ["", "api.kie.ai", "ftp://api.kie.ai", "//api.kie.ai", "http://", "https://", "https:///v1"],
)
def test_a_bad_base_url_is_a_configuration_error(
    api: Any, kit: SimpleNamespace, base_url: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        api.cls(kit.CANARY, base_url=base_url)

    assert not leaked(kit.CANARY, info.value)


def test_base_url_may_carry_a_path_prefix(api: Any, kit: SimpleNamespace) -> None:
    """A proxy in front of KIE: the API paths are appended to the prefix."""
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> None:
        async with api.client(base_url="https://proxy.local/kie/", transport=kie.transport) as c:
            await c.status(Task("t1", kit.GROK_T2I))

    api.run(scenario)

    assert kie.requests[0].url == "https://proxy.local/kie/api/v1/jobs/recordInfo?taskId=t1"


def test_the_task_id_is_url_encoded_in_the_status_call(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("waiting", task_id="a&b=c d")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.status(Task("a&b=c d", kit.GROK_T2I))

    api.run(scenario)

    assert kie.requests[0].url.endswith("/api/v1/jobs/recordInfo?taskId=a%26b%3Dc+d")


def test_clients_are_context_managers_that_close_their_transport(
    api: Any, kit: SimpleNamespace
) -> None:
    closed: list[bool] = []
    kie = kit.FakeKie()
    kie.transport.close = lambda: closed.append(True)

    async def scenario() -> None:
        async with api.client(transport=kie.transport):
            pass

    api.run(scenario)

    assert closed == [True]


# -- the key stays secret --------------------------------------------------------------------------


def test_the_key_is_not_in_the_client_repr(api: Any, kit: SimpleNamespace) -> None:
    client = api.cls(kit.CANARY, transport=kit.FakeKie().transport)

    assert kit.CANARY not in repr(client)
    assert kit.CANARY not in str(client)
    assert "api.kie.ai" in repr(client)


def test_the_key_is_sent_to_kie_but_not_in_the_request_repr(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie()

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    api.run(scenario)

    request = kie.requests[0]
    assert request.headers["Authorization"] == f"Bearer {kit.CANARY}"
    assert kit.CANARY not in repr(request)
    assert kit.CANARY not in str(request)
    assert kit.CANARY not in (request.body or b"").decode()
    assert kit.CANARY not in request.url


FAILURES = {
    "body-401": lambda kit: kit.FakeKie(create=kit.reply(code=401, msg="no access")),
    "http-503": lambda kit: kit.FakeKie(create=HttpResponse(503, b"down", "Service Unavailable")),
    "not-json": lambda kit: kit.FakeKie(create=HttpResponse(200, b"<html>", "OK")),
    "no-task-id": lambda kit: kit.FakeKie(create=kit.reply({"recordId": "x"})),
}


@pytest.mark.parametrize("failure", ["body-401", "http-503", "not-json", "no-task-id"])
def test_the_key_is_in_no_error_from_a_call(api: Any, kit: SimpleNamespace, failure: str) -> None:
    kie = FAILURES[failure](kit)

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    with pytest.raises(KieError) as info:
        api.run(scenario)

    assert not leaked(kit.CANARY, info.value)


@pytest.mark.parametrize(
    ("model", "fields", "error"),
    [
        ("grok-imagine/text-to-image", {"prompt": ""}, ValidationError),
        ("no-such-model", {"prompt": "p"}, UnknownModelError),
    ],
)
def test_the_key_is_in_no_input_error(
    api: Any, kit: SimpleNamespace, model: str, fields: dict[str, Any], error: type[KieError]
) -> None:
    from kiekit import Registry

    async def scenario() -> None:
        registry = Registry(blocked=["kiekit-market"])  # else it serves any model id
        async with api.client(transport=kit.FakeKie().transport, registry=registry) as client:
            await client.submit(model, **fields)

    with pytest.raises(error) as info:
        api.run(scenario)

    assert not leaked(kit.CANARY, info.value)


# -- submitting ------------------------------------------------------------------------------------


def test_submit_market_model_sends_kies_create_call(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie()

    async def scenario() -> Task:
        async with api.client(transport=kie.transport) as client:
            return await client.submit(
                kit.GROK_T2I, prompt="a fox", aspect_ratio="16:9", callback_url="https://me/cb"
            )

    task = api.run(scenario)

    assert task == Task(id=kit.TASK_ID, model=kit.GROK_T2I)
    (request,) = kie.requests
    assert (request.method, request.url) == ("POST", "https://api.kie.ai/api/v1/jobs/createTask")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body or b"") == {
        "model": kit.GROK_T2I,
        "callBackUrl": "https://me/cb",
        "input": {"prompt": "a fox", "aspect_ratio": "16:9"},
    }


@pytest.mark.parametrize("url", ["notaurl", "ftp://me/cb", "https://", "/relative/cb"])
def test_a_callback_url_that_is_not_http_is_refused_before_sending(
    api: Any, kit: SimpleNamespace, url: str
) -> None:
    kie = kit.FakeKie()

    async def scenario() -> Task:
        async with api.client(transport=kie.transport) as client:
            return await client.submit(kit.GROK_T2I, prompt="a fox", callback_url=url)

    with pytest.raises(ValidationError) as info:
        api.run(scenario)
    assert info.value.field == "callback_url"
    assert repr(url) in str(info.value)
    assert kie.requests == []


def test_submit_legacy_model_sends_a_camel_case_body(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie()

    async def scenario() -> Task:
        async with api.client(transport=kie.transport) as client:
            return await client.submit(
                kit.FLUX_MAX,
                prompt="a fox",
                input_image="https://x/in.png",
                safety_tolerance=1,
                enable_translation=False,
            )

    api.run(scenario)

    (request,) = kie.requests
    assert request.url == "https://api.kie.ai/api/v1/flux/kontext/generate"
    assert json.loads(request.body or b"") == {
        "model": kit.FLUX_MAX,
        "prompt": "a fox",
        "inputImage": "https://x/in.png",
        "safetyTolerance": 1,
        "enableTranslation": False,
    }


def test_submit_takes_an_input_object_a_mapping_or_keywords(api: Any, kit: SimpleNamespace) -> None:
    from kiekit_grok_imagine import TextToImage

    kie = kit.FakeKie()

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, TextToImage(prompt="p", aspect_ratio="1:1"))
            await client.submit(kit.GROK_T2I, {"prompt": "p", "aspect_ratio": "1:1"})
            await client.submit(kit.GROK_T2I, {"prompt": "p"}, aspect_ratio="1:1")
            await client.submit(kit.GROK_T2I, prompt="p", aspect_ratio="1:1")

    api.run(scenario)

    bodies = [json.loads(r.body or b"") for r in kie.requests]
    assert len(bodies) == 4
    assert all(body == bodies[0] for body in bodies)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"prompt": ""}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "p", "aspect_ratio": "4:5"}, "aspect_ratio"),
        ({"prompt": "p", "nsfw_checker": "yes"}, "nsfw_checker"),
        ({"prompt": "p" * 5001}, "prompt"),
        ({"prompt": "p", "aspectRatio": "1:1"}, "aspectRatio"),
        ({"prompt": "caf\udce9"}, "prompt"),  # not UTF-8: a latin-1 byte read as UTF-8
    ],
)
def test_invalid_input_names_the_field_and_sends_nothing(
    api: Any, kit: SimpleNamespace, fields: dict[str, Any], named: str
) -> None:
    kie = kit.FakeKie()

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, **fields)

    with pytest.raises(ValidationError) as info:
        api.run(scenario)

    assert info.value.field == named
    assert kie.requests == []


def test_an_input_object_of_another_model_is_rejected(api: Any, kit: SimpleNamespace) -> None:
    from kiekit_flux_kontext import FluxKontext

    kie = kit.FakeKie()

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, FluxKontext(prompt="p"))

    with pytest.raises(ValidationError):
        api.run(scenario)
    assert kie.requests == []


def test_an_unknown_model_sends_nothing(api: Any, kit: SimpleNamespace) -> None:
    from kiekit import Registry

    kie = kit.FakeKie()

    async def scenario() -> None:
        registry = Registry(blocked=["kiekit-market"])  # else it serves any model id
        async with api.client(transport=kie.transport, registry=registry) as client:
            await client.submit("midjourney/v7", prompt="p")

    with pytest.raises(UnknownModelError) as info:
        api.run(scenario)

    assert kit.GROK_T2I in str(info.value)
    assert kie.requests == []


# -- KIE's envelope --------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "error"), BODY_CODES)
def test_http_200_with_an_error_body_code_raises_the_typed_error(
    api: Any, kit: SimpleNamespace, code: int, error: type[ApiError]
) -> None:
    kie = kit.FakeKie(create=kit.reply(code=code, msg=f"KIE refused ({code})"))

    async def scenario() -> None:
        # One try: the error is the same after retries, and a 429's retry waits out KIE's 10 s
        # create window first (that wait is test_retry_mock's)
        async with api.client(transport=kie.transport, retry=RetryPolicy.never()) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    with pytest.raises(error) as info:
        api.run(scenario)

    assert info.value.code == code
    assert info.value.kie_message == f"KIE refused ({code})"
    assert info.value.http_status == 200


@pytest.mark.parametrize(("code", "error"), BODY_CODES)
def test_error_body_codes_on_status_carry_the_task_id(
    api: Any, kit: SimpleNamespace, code: int, error: type[ApiError]
) -> None:
    kie = kit.FakeKie([kit.reply(code=code, msg="no")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.status(Task(kit.TASK_ID, kit.GROK_T2I))

    # a status query's 404 or 422 refuses its one field, the task id: KIE has no such task
    with pytest.raises(TaskNotFoundError if code in (404, 422) else error) as info:
        api.run(scenario)

    assert info.value.task_id == kit.TASK_ID
    assert kit.TASK_ID in str(info.value)
    assert (info.value.code, info.value.kie_message) == (code, "no")


def test_a_body_saying_message_instead_of_msg_still_reads(api: Any, kit: SimpleNamespace) -> None:
    body = json.dumps({"code": 404, "message": "Task not found", "data": None}).encode()
    kie = kit.FakeKie([HttpResponse(200, body, "OK")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.status(Task(kit.TASK_ID, kit.GROK_T2I))

    with pytest.raises(NotFoundError) as info:
        api.run(scenario)

    assert info.value.kie_message == "Task not found"


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b"", b"\xff\xfe", b"[1, 2]", b'"ok"', b'{"msg": "x"}']
)
def test_a_body_that_is_not_kies_envelope_is_a_protocol_error(
    api: Any, kit: SimpleNamespace, body: bytes
) -> None:
    kie = kit.FakeKie(create=HttpResponse(200, body, "OK"))

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    with pytest.raises(OutcomeUnknownError) as info:  # something answered: a task may exist
        api.run(scenario)
    assert isinstance(info.value.cause, ProtocolError)
    assert len(kie.requests) == 1  # never sent twice


@pytest.mark.parametrize(
    ("status", "error"), [(404, NotFoundError), (503, ServerError), (500, ServerError)]
)
def test_real_http_errors_map_to_typed_errors(
    api: Any, kit: SimpleNamespace, status: int, error: type[ApiError]
) -> None:
    kie = kit.FakeKie([HttpResponse(status, b"<html>nope</html>", "Whatever")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.status(Task(kit.TASK_ID, kit.GROK_T2I))

    with pytest.raises(error) as info:
        api.run(scenario)

    assert info.value.http_status == status
    assert info.value.task_id == kit.TASK_ID


@pytest.mark.parametrize("data", [None, {}, {"taskId": ""}, {"taskId": 5}, "5f48", []])
def test_a_create_answer_without_a_task_id_is_a_protocol_error(
    api: Any, kit: SimpleNamespace, data: Any
) -> None:
    kie = kit.FakeKie(create=kit.reply(data))

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    with pytest.raises(OutcomeUnknownError) as info:  # code 200: KIE made a task, id unreadable
        api.run(scenario)
    assert isinstance(info.value.cause, ProtocolError)


def test_transport_errors_reach_the_caller_of_submit(api: Any, kit: SimpleNamespace) -> None:
    """A create is not retried by the client: it could pay twice."""
    from kiekit import TransportError

    kie = kit.FakeKie(create=TransportError("connection reset"))

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.submit(kit.GROK_T2I, prompt="a fox")

    with pytest.raises(OutcomeUnknownError) as info:
        api.run(scenario)
    assert isinstance(info.value.cause, TransportError)
    assert len(kie.requests) == 1


# -- the whole story -------------------------------------------------------------------------------


def test_generate_submits_waits_and_downloads(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    urls = [f"{kit.CDN}/a.jpg", f"{kit.CDN}/b.jpg"]
    kie = kit.FakeKie(
        [kit.market("waiting"), kit.market("success", urls=urls)],
        files={urls[0]: b"first", urls[1]: b"second"},
    )

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            return await client.generate(kit.GROK_T2I, prompt="a fox", out_dir=tmp_path / "out")

    paths = api.run(scenario)

    assert [p.name for p in paths] == [f"{kit.TASK_ID}-0.jpg", f"{kit.TASK_ID}-1.jpg"]
    assert [p.read_bytes() for p in paths] == [b"first", b"second"]


@pytest.mark.parametrize("out", ["a-file", "a-file/sub"])
def test_generate_refuses_an_out_dir_it_cannot_write_before_anything_is_sent(
    api: Any, kit: SimpleNamespace, tmp_path: Path, out: str
) -> None:
    """A folder mistake is found here, as kie run's --out is, not after a paid-for task."""
    (tmp_path / "a-file").write_text("x")
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.jpg"])])

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            return await client.generate(kit.GROK_T2I, prompt="a fox", out_dir=tmp_path / out)

    with pytest.raises(FileWriteError, match="a-file is a file, not a folder") as caught:
        api.run(scenario)

    assert caught.value.path == str(tmp_path / out)
    assert caught.value.task_id is None
    assert kie.requests == []  # no create, nothing paid


def test_the_clients_agree(apis: list[Any], kit: SimpleNamespace, tmp_path: Path) -> None:
    """Same answers in, same values out (llm's tests/test_async_parity.py)."""
    urls = [f"{kit.CDN}/a.png"]
    outcomes = []
    for api in apis:
        kie = kit.FakeKie(
            [kit.market("generating", progress=30), kit.market("success", urls=urls)],
            files={urls[0]: kit.PNG},
        )
        out_dir = tmp_path / api.name

        async def scenario(kie: Any = kie, api: Any = api, out_dir: Path = out_dir) -> Any:
            async with api.client(transport=kie.transport, poll=FAST) as client:
                task = await client.submit(kit.GROK_T2I, prompt="a fox")
                status = await client.status(task)
                results = await client.wait(task)
                paths = await client.download(results, out_dir)
                return task, status, results, [(p.name, p.read_bytes()) for p in paths]

        outcomes.append((api.run(scenario), [(r.method, r.url, r.body) for r in kie.requests]))

    assert outcomes[0] == outcomes[1]


def test_call_sends_a_provider_described_request_and_returns_data(api: Any) -> None:
    from kiekit import Request
    from kiekit.transport import HttpRequest, MockTransport

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, b'{"code": 200, "msg": "success", "data": "https://fresh/link"}')

    transport = MockTransport(handler)
    request = Request("POST", "/api/v1/common/download-url", body={"url": "https://old/link"})

    async def scenario() -> Any:
        async with api.client(transport=transport) as client:
            return await client.call(request, task_id="t1")

    assert api.run(scenario) == "https://fresh/link"
    (sent,) = transport.requests
    assert sent.url.endswith("/api/v1/common/download-url")
    assert json.loads(sent.body or b"") == {"url": "https://old/link"}


def test_call_raises_the_typed_error_with_the_task_id(api: Any) -> None:
    from kiekit import Request
    from kiekit.transport import HttpRequest, MockTransport

    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, b'{"code": 422, "msg": "url is wrong", "data": null}')

    transport = MockTransport(handler)

    async def scenario() -> Any:
        async with api.client(transport=transport) as client:
            return await client.call(Request("POST", "/x", body={}), task_id="t1")

    with pytest.raises(UnprocessableError) as caught:
        api.run(scenario)
    assert caught.value.task_id == "t1"
    assert caught.value.kie_message == "url is wrong"


def test_each_request_is_logged_at_debug_with_its_task_and_how_it_ended(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """README: `-vv` adds each request kiekit sends and how it ended. The lines users see, the
    same for the uploads and the chat calls (kiekit._engine.request_log writes them all)."""
    from kiekit import Request
    from kiekit.transport import HttpRequest, MockTransport

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/refused"):
            return HttpResponse(200, b'{"code": 422, "msg": "url is wrong", "data": null}')
        return HttpResponse(200, b'{"code": 200, "msg": "success", "data": "https://fresh/link"}')

    async def scenario() -> Any:
        async with api.client(transport=MockTransport(handler)) as client:
            await client.call(Request("POST", "/api/v1/common/download-url", body={}), task_id="t1")
            await client.call(Request("POST", "/refused", body={}), task_id="t1")

    with caplog.at_level("DEBUG", logger="kiekit"), pytest.raises(UnprocessableError) as refused:
        api.run(scenario)
    said = [r.getMessage() for r in caplog.records if r.name == "kiekit.http"]
    assert said[0] == "POST /api/v1/common/download-url (task t1)"
    pattern = r"POST /api/v1/common/download-url: HTTP 200, answered in \d+ ms \(task t1\)"
    assert re.fullmatch(pattern, said[1])
    assert said[2:] == ["POST /refused (task t1)", f"POST /refused failed: {refused.value}"]


def test_an_error_answer_keeps_kie_data(api: Any) -> None:
    # Veo 4K answers 422 "generated successfully" with the URLs in data (kie-api.md §3.3).
    from kiekit import Request
    from kiekit.transport import MockTransport

    body = b'{"code": 422, "msg": "done", "data": {"resultUrls": ["https://cdn/a.mp4"]}}'
    transport = MockTransport(lambda request: HttpResponse(200, body))

    async def scenario() -> Any:
        async with api.client(transport=transport) as client:
            return await client.call(Request("POST", "/api/v1/veo/get-4k-video", body={}))

    with pytest.raises(UnprocessableError) as caught:
        api.run(scenario)
    assert caught.value.data == {"resultUrls": ["https://cdn/a.mp4"]}
