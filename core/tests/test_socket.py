"""The same stories over real sockets: urllib3 / aiohttp against kiekit_mock on 127.0.0.1.

Smaller than the in-memory suite: it proves the real transports carry what MockTransport
stands in for. Each test runs for Client and AsyncClient.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    PollPolicy,
    ProtocolError,
    Results,
    State,
    Task,
    TaskFailedError,
    TaskNotFoundError,
    TransportError,
    WaitTimeoutError,
)
from kiekit.errors import DATA_NULL

FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=10.0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8"


def test_market_task_end_to_end(
    api: Any, kit: SimpleNamespace, mock_server: Any, tmp_path: Path
) -> None:
    seen: list[State] = []

    async def scenario() -> tuple[Task, Results, list[Path]]:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as client:
            task = await client.submit(kit.GROK_T2I, prompt="a lighthouse", aspect_ratio="16:9")
            results = await client.wait(task, on_status=lambda s: seen.append(s.state))
            return task, results, await client.download(results, tmp_path)

    task, results, paths = api.run(scenario)

    assert task.model == kit.GROK_T2I
    assert results.task_id == task.id
    assert results.assets
    assert seen[-1] is State.SUCCEEDED
    assert len(seen) >= 2  # polls_to_complete=1: one pending answer first
    assert [p.parent for p in paths] == [tmp_path] * len(results.assets)
    assert all(p.name.startswith(f"{task.id}-") for p in paths)
    for path in paths:
        assert path.read_bytes().startswith((PNG_MAGIC, JPEG_MAGIC))
    assert not list(tmp_path.glob("*.part"))


def test_legacy_task_end_to_end(
    api: Any, kit: SimpleNamespace, mock_server: Any, tmp_path: Path
) -> None:
    async def scenario() -> tuple[Task, list[Path]]:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as client:
            task = await client.submit(kit.FLUX_PRO, prompt="a lighthouse", output_format="png")
            return task, await client.download(await client.wait(task), tmp_path)

    task, paths = api.run(scenario)

    assert paths
    assert paths[0].name.startswith(f"{task.id}-result-0")
    assert paths[0].read_bytes().startswith(PNG_MAGIC)


def test_the_key_goes_to_the_api_and_not_to_file_links(
    api: Any, kit: SimpleNamespace, mock_server: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as client:
            task = await client.submit(kit.GROK_T2I, prompt="a lighthouse")
            await client.download(await client.wait(task), tmp_path)

    api.run(scenario)

    records = mock_server.requests()
    api_calls = [r for r in records if r.path.startswith("/api/")]
    downloads = [r for r in records if r.path.startswith("/files/")]
    assert api_calls
    assert downloads
    assert all(r.authorization == "Bearer ***" for r in api_calls)
    assert all(r.authorization is None for r in downloads)


def test_a_failed_task_raises_task_failed(api: Any, kit: SimpleNamespace, mock_server: Any) -> None:
    async def scenario() -> None:
        async with api.client(base_url=mock_server.base_url, poll=FAST) as client:
            task = await client.submit(kit.GROK_T2I, prompt="a lighthouse")
            mock_server.set_outcome(task.id, "fail")
            await client.wait(task)

    with pytest.raises(TaskFailedError) as info:
        api.run(scenario)

    (task,) = mock_server.tasks()
    assert info.value.task_id == task.task_id


def test_a_wrong_key_is_an_authentication_error(
    api: Any, kit: SimpleNamespace, mock_server_factory: Any
) -> None:
    mock = mock_server_factory(api_keys=frozenset({"sk-the-right-one-fake"}))

    async def scenario() -> None:
        async with api.client(base_url=mock.base_url) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(AuthenticationError) as info:
        api.run(scenario)

    assert info.value.http_status == 200  # KIE's way: HTTP 200, code 401 in the body
    assert info.value.code == 401
    assert kit.CANARY not in str(info.value)
    assert kit.CANARY not in repr(info.value)


def test_an_unknown_route_is_a_real_http_404(
    api: Any, kit: SimpleNamespace, mock_server: Any
) -> None:
    async def scenario() -> None:
        async with api.client(base_url=mock_server.base_url + "/not-kie") as client:
            await client.status(Task("abc", kit.GROK_T2I))

    with pytest.raises(NotFoundError) as info:
        api.run(scenario)

    assert info.value.http_status == 404
    assert info.value.task_id == "abc"
    assert not isinstance(info.value, TaskNotFoundError)  # a wrong URL: not KIE's "no such task"


UNKNOWN = "deadbeef" * 4


@pytest.mark.parametrize(
    ("model", "config", "code", "message"),
    [  # each family's answer to a task id it does not know, as the mock gives KIE's
        ("grok-imagine/text-to-image", {}, 404, "Task not found"),  # §2.2, §7
        ("grok-imagine/text-to-image", {"market_unknown_null": True}, 200, DATA_NULL),  # §11
        ("suno/generate", {}, 200, DATA_NULL),  # §2.2: Suno's recorded answer
        ("veo3", {}, 422, "record is null"),  # §3.3
        ("mj_txt2img", {}, 422, "The record does not exist"),  # §3.7
        ("runway/generate", {}, 404, "Task not found"),
        ("gpt4o-image", {}, 404, "Task not found"),
        ("flux-kontext-pro", {}, 404, "Task not found"),
        ("luma/modify", {}, 404, "Task not found"),
    ],
)
def test_a_task_kie_does_not_know_is_one_error_in_every_family(
    api: Any,
    mock_server_factory: Any,
    model: str,
    config: dict[str, Any],
    code: int,
    message: str,
) -> None:
    """A 404, a 422 or data null, depending on the family: a user's `except NotFoundError`
    missed half of them (outside tester "migrant", L1). One class, with KIE's words kept."""
    mock = mock_server_factory(**config)
    unknown = Task(UNKNOWN, model)
    caught: list[BaseException] = []

    async def scenario() -> None:
        async with api.client(base_url=mock.base_url, poll=FAST) as client:
            for call in (client.status, client.wait):
                try:
                    await call(unknown)
                except TaskNotFoundError as exc:
                    caught.append(exc)

    api.run(scenario)

    assert len(caught) == 2  # status and wait alike
    for error in caught:
        assert isinstance(error, TaskNotFoundError)
        assert isinstance(error, NotFoundError)  # an `except NotFoundError` catches it
        assert (error.task_id, error.code, error.kie_message) == (UNKNOWN, code, message)
        assert str(error).startswith("KIE has no record of this task")


def test_a_base_url_with_a_path_is_said_so_when_kie_answers_404(
    api: Any, kit: SimpleNamespace, mock_server: Any
) -> None:
    """`KIE_BASE_URL=…/api/v1` (the path copied from the docs) made every call
    `KIE error 404: HTTP 404 Not Found`: the message now names the URL and the fix."""
    base_url = mock_server.base_url + "/api/v1"

    async def scenario() -> None:
        async with api.client(base_url=base_url) as client:
            await client.credits()

    with pytest.raises(NotFoundError) as info:
        api.run(scenario)

    said = str(info.value)
    assert f"GET {base_url}/api/v1/chat/credit: no such route" in said
    assert f"the base URL {base_url} has a path, /api/v1; give the host alone: " in said
    assert said.endswith(f"{mock_server.base_url})")


def test_an_answer_that_is_not_json_is_a_protocol_error(
    api: Any, kit: SimpleNamespace, file_server: Any
) -> None:
    """A captive portal or CDN answering in KIE's place (here: a PNG at HTTP 200)."""

    async def scenario() -> None:
        async with api.client(base_url=file_server.base_url) as client:
            await client.status(Task("abc", kit.GROK_T2I))

    with pytest.raises(ProtocolError) as info:
        api.run(scenario)

    assert info.value.task_id == "abc"


def test_a_dead_server_is_a_transport_error(api: Any, kit: SimpleNamespace) -> None:
    async def scenario() -> None:
        async with api.client(base_url=f"http://127.0.0.1:{kit.free_port()}") as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(TransportError) as info:
        api.run(scenario)

    assert info.value.retryable
    assert kit.CANARY not in str(info.value)


def test_waiting_on_a_dead_server_retries_until_the_deadline(
    api: Any, kit: SimpleNamespace
) -> None:
    policy = PollPolicy(initial=0.02, growth=0.01, maximum=0.05, timeout=0.3)

    async def scenario() -> None:
        base_url = f"http://127.0.0.1:{kit.free_port()}"
        async with api.client(base_url=base_url, poll=policy) as client:
            await client.wait(Task("abc", kit.GROK_T2I))

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError) as info:
        api.run(scenario)

    assert info.value.task_id == "abc"
    assert 0.3 <= time.monotonic() - started < 60  # at the deadline, not hung (any load)


def test_a_hung_server_is_a_transport_error_after_the_client_timeout(
    api: Any, kit: SimpleNamespace, file_server: Any
) -> None:
    async def scenario() -> None:
        async with api.client(base_url=file_server.base_url + "/hang", timeout=0.3) as client:
            await client.status(Task("abc", kit.GROK_T2I))

    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        api.run(scenario)

    assert info.value.task_id == "abc"
    assert time.monotonic() - started < 60  # the client's 0.3 s, not the server's 120 s hang


def test_the_key_does_not_follow_a_redirect_away_from_the_api(
    api: Any, kit: SimpleNamespace, file_server: Any
) -> None:
    """An API answer that redirects is an error, not a hop that carries the key elsewhere."""

    async def scenario() -> None:
        async with api.client(base_url=file_server.base_url + "/redirect") as client:
            await client.status(Task("abc", kit.GROK_T2I))

    with pytest.raises(ApiError) as info:
        api.run(scenario)

    assert info.value.http_status == 302
    assert len(file_server.seen) == 1
