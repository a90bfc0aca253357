"""A task KIE could not create (successFlag 2 / status CREATE_TASK_FAILED: 4o §3.1, Flux §3.2,
Veo §3.3, Luma §3.5, Midjourney §3.7, Suno §3.6) ends the wait with the typed TaskFailedError,
carrying KIE's code, its message and the task id, through both clients against the mock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kiekit import AsyncClient, Client, PollPolicy, State, TaskFailedError, TaskStatus
from kiekit_mock import MockServer, Outcome

FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
CALLBACK = "https://hooks.example.com/kie"  # not loopback: recorded, never called
MSG = "Create task failed upstream"
FAMILIES: list[tuple[str, dict[str, Any]]] = [
    ("gpt4o-image", {"prompt": "a lighthouse", "size": "1:1"}),
    ("flux-kontext-pro", {"prompt": "a lighthouse"}),
    ("veo3_fast", {"prompt": "a lighthouse"}),
    ("luma/modify", {"prompt": "a lighthouse", "video_url": "https://example.com/in.mp4"}),
    ("mj_txt2img", {"prompt": "a lighthouse", "speed": "fast"}),
    ("suno/generate", {"prompt": "a song about a lighthouse"}),
]


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
@pytest.mark.parametrize(("model", "params"), FAMILIES)
def test_a_task_kie_could_not_create_raises_task_failed_error_with_its_code(
    mock_server_factory: Any, client: str, model: str, params: dict[str, Any]
) -> None:
    mock: MockServer = mock_server_factory(polls_to_complete=1)
    seen: list[TaskStatus] = []

    def doom(task_id: str) -> None:
        mock.set_outcome(task_id, Outcome("create_failed", code=500, msg=MSG))

    def run_sync() -> None:
        with Client("test-key", base_url=mock.base_url, poll=FAST) as kie:
            task = kie.submit(model, params, callback_url=CALLBACK)
            doom(task.id)
            kie.wait(task, on_status=seen.append)

    async def run_async() -> None:
        async with AsyncClient("test-key", base_url=mock.base_url, poll=FAST) as kie:
            task = await kie.submit(model, params, callback_url=CALLBACK)
            doom(task.id)
            await kie.wait(task, on_status=seen.append)

    with pytest.raises(TaskFailedError) as caught:
        run_sync() if client == "Client" else asyncio.run(run_async())
    error = caught.value
    [made] = mock.tasks()
    assert (error.task_id, error.fail_code, error.fail_message) == (made.task_id, "500", MSG)
    assert seen[-1].state is State.FAILED
