"""GET /_mock/changes (changes.py): a token that moves with the mock's state, per topic, and a
long-poll that answers as soon as it moves — what the inspector page watches."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from kiekit_mock import create_app, runtime_of
from kiekit_mock.changes import TOPICS, Changes, topics_of

if TYPE_CHECKING:
    from conftest import Answer, Kie

T2I = "grok-imagine/text-to-image"


def changes(kie: Kie, **query: Any) -> Answer:
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    return kie.fetch(f"{kie.base_url}/_mock/changes?{suffix}")


def moved(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {topic for topic in TOPICS if before["topics"][topic] != after["topics"][topic]}


def test_a_client_request_moves_every_topic_but_the_clock(kie: Kie) -> None:
    before = changes(kie).json()
    assert set(before["topics"]) == set(TOPICS)
    kie.create(T2I, prompt="p")
    after = changes(kie).json()
    assert after["token"] != before["token"]
    assert moved(before, after) == set(TOPICS) - {"clock", "scenarios"}


def test_a_control_change_moves_its_own_topic_and_a_control_read_moves_none(kie: Kie) -> None:
    before = changes(kie).json()
    for path in ("/_mock/tasks", "/_mock/journal", "/_mock/rules", "/_mock/clock"):
        assert kie.fetch(kie.base_url + path).status == 200
    assert changes(kie).json() == before
    rule = json.dumps({"prompt_contains": "x", "outcome": "fail"}).encode()
    kie.fetch(kie.base_url + "/_mock/rules", method="POST", data=rule)
    after_rule = changes(kie).json()
    assert moved(before, after_rule) == {"rules"}
    kie.fetch(kie.base_url + "/_mock/clock/advance", method="POST", data=b'{"seconds": 5}')
    assert moved(after_rule, changes(kie).json()) == {"clock", "limits"}


def test_reset_moves_everything(kie: Kie) -> None:
    before = changes(kie).json()
    kie.fetch(kie.base_url + "/_mock/reset", method="POST", data=b"")
    assert moved(before, changes(kie).json()) == set(TOPICS)


def test_topics_of_requests() -> None:
    assert topics_of("GET", "/_mock/journal") == frozenset()
    assert topics_of("GET", "/openapi.json") == frozenset()
    assert topics_of("DELETE", "/_mock/journal") == {"journal"}
    assert topics_of("POST", "/_mock/tasks/abc/complete") == {"tasks", "callbacks", "accounts"}
    assert topics_of("POST", "/_mock/scenarios") == set(TOPICS)
    assert "clock" not in topics_of("GET", "/api/v1/jobs/recordInfo")


def test_a_token_that_is_not_the_current_one_is_answered_at_once(kie: Kie) -> None:
    # a restarted mock's watcher, or a made-up token: no waiting (the fetch gives up at 10 s)
    now = changes(kie).json()
    assert changes(kie, since="made-up", wait=30).json() == now


def test_a_quiet_long_poll_answers_the_same_token_after_its_wait(kie: Kie) -> None:
    now = changes(kie).json()
    assert changes(kie, since=now["token"], wait=0.05).json() == now


def test_a_long_poll_answers_when_a_client_request_arrives(kie: Kie) -> None:
    token = changes(kie).json()["token"]
    answers: list[dict[str, Any]] = []
    waiter = threading.Thread(
        target=lambda: answers.append(changes(kie, since=token, wait=30).json())
    )
    waiter.start()
    kie.create(T2I, prompt="p")  # before or while the poll waits: either way it sees this
    waiter.join(20)
    assert not waiter.is_alive()
    assert answers[0]["token"] != token
    assert answers[0]["topics"]["journal"] != token


def test_wait_is_checked(kie: Kie) -> None:
    for wait in ("-1", "31", "soon", "nan"):
        answer = changes(kie, since="x", wait=wait)
        assert answer.status == 400
        assert answer.json()["field"] == "wait"
    assert changes(kie, sine="x").json()["field"] == "sine"


def test_waiters_wake_on_a_change_from_any_thread() -> None:
    async def scenario() -> None:
        watched = Changes()
        token = watched.token
        waiting = asyncio.ensure_future(watched.wait(token, 30))
        await asyncio.sleep(0)  # one turn of the loop: the waiter is registered
        assert not waiting.done()
        assert watched.waiting == 1
        toucher = threading.Thread(target=watched.touch, args=({"faults"},))
        toucher.start()
        view = await asyncio.wait_for(waiting, 10)
        toucher.join()
        assert view["topics"]["faults"] == view["token"] != token
        assert view["topics"]["rules"] == token
        assert watched.waiting == 0

    asyncio.run(scenario())


def test_stopping_the_server_answers_held_long_polls() -> None:
    # Without the shutdown hook, aiohttp would wait out (or cancel) the 30 s long-poll.
    async def scenario() -> None:
        app = create_app()
        watched = runtime_of(app).changes
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/_mock/changes"
        async with aiohttp.ClientSession() as session:
            poll = asyncio.ensure_future(
                session.get(url, params={"since": watched.token, "wait": "30"})
            )
            await _until(lambda: watched.waiting == 1)
            await runner.cleanup()
            response = await asyncio.wait_for(poll, 10)
            assert response.status == 200
            assert (await response.json())["token"] == watched.token

    asyncio.run(scenario())


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for a condition another task makes true (a bounded wait, not a guess)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 (the condition is another task's; no event)
            await asyncio.sleep(0.005)
