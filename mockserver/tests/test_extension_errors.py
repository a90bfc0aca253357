"""A mock extension's bug during a request (its route or its callback_payload raising) is
answered and recorded as KIE and the mock's own bugs are: KIE's envelope with body code 500,
one log line naming the extension and its distribution (no traceback above debug), the task
its create made kept in the journal as that create, and its callback recorded as not
delivered, saying why, instead of silently dropped."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer

if TYPE_CHECKING:
    from conftest import InstallFamily, Kie

OWNER = "mock family extension 'mesh-boom' (acme-mesh-boom)"


def _bugs(source: str) -> str:
    """The mesh family, with a create that raises once its task is made and a callback
    payload that raises, each for a prompt asking for it."""
    made = "    task = runtime(request).store.create(account_of(request), spec)\n"
    raised = made + '    if prompt == "crash-after-create":\n        raise KeyError("oops")\n'
    payload = "def callback_payload(transition):\n"
    broken = payload + (
        '    if transition.task.prompt == "crash-callback":\n'
        '        raise ValueError("callback_payload bug")\n'
    )
    assert made in source
    assert payload in source
    return source.replace(made, raised).replace(payload, broken)


@pytest.fixture
def boom(install_family: InstallFamily) -> None:
    install_family("mesh-boom", dist="acme-mesh-boom", edit=_bugs)


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_create_that_raises_answers_kies_500_and_journals_its_task(
    boom: None, kie_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="kiekit_mock"), MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        answer = kie.post("/api/v1/mesh-boom/generate", {"prompt": "crash-after-create"})
        assert answer.status == 200  # KIE's errors come at HTTP 200 (kie-api.md §7)
        assert answer.json()["code"] == 500
        [task] = mock.tasks()
        assert task.credits_charged == 12.0  # made and paid for before the bug
        [record] = mock.journal.query(path="/api/v1/mesh-boom/generate")
        assert (record.kind, record.task_id, record.code) == ("create", task.task_id, 500)
        assert record.fault == "extension-error:mesh-boom"  # what answered it
        mock.journal.assert_created_once(task.task_id)
    [logged] = _errors(caplog)
    line = logged.getMessage()
    assert OWNER in line
    assert "POST /api/v1/mesh-boom/generate raised KeyError: 'oops'" in line
    assert logged.exc_info is None  # the traceback only at debug level
    assert "\n" not in line


def test_a_callback_payload_that_raises_is_recorded_as_not_delivered(
    boom: None, kie_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"prompt": "crash-callback", "callBackUrl": "http://127.0.0.1:9/cb"}
    with (
        caplog.at_level(logging.ERROR, logger="kiekit_mock"),
        MockServer(MockConfig(polls_to_complete=1)) as mock,
    ):
        kie: Kie = kie_at(mock.base_url)
        task_id = kie.ok(kie.post("/api/v1/mesh-boom/generate", body))["taskId"]
        status = "/api/v1/mesh-boom/record-info"
        seen = [kie.record(task_id, status)["status"] for _ in range(2)]
        assert seen == ["QUEUED", "COMPLETED"]  # the poll that ended it is answered
        [callback] = mock.callbacks()
        assert (callback.task_id, callback.delivered) == (task_id, False)
        assert callback.reason == (
            "not sent: its callback_payload raised ValueError: callback_payload bug"
        )
    [logged] = _errors(caplog)
    assert OWNER in logged.getMessage()
    assert task_id in logged.getMessage()
