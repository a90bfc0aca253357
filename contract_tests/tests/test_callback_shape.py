"""A family whose callbacks carry the task id where kiekit does not look (``data.job.id``)
fails the contract — kiekit's webhooks could not read them — until its provider says where
(``Provider.callback_task_id``): the lifecycle tests feed each callback the mock owed their
task to ``parse_callback``. The family, client and mock side, is a third party's, installed
as a distribution so that the mock loads its extension."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from kiekit import State
from kiekit.webhooks import CallbackError, parse_callback
from kiekit_contract import ProviderContract
from kiekit_mock import MockConfig, MockServer

FAMILY = """
from aiohttp import web
from attrs import frozen
from kiekit import Input, MediaKind, Model
from kiekit.families.assets import assets
from kiekit.families.success_flag import SuccessFlagProvider
from kiekit.fields import text
from kiekit_mock.extension import (
    FamilyExtension, TaskSpec, account_of, dumps, json_body, ok, optional_callback_url,
    origin_of, poll_task, required_str, runtime,
)

CREATE, STATUS = "/api/v1/acme-job/generate", "/api/v1/acme-job/record-info"


@frozen
class Prompt(Input):
    prompt: str = text(max_length=2000)


class JobProvider(SuccessFlagProvider):
    name = "acme-job"
    models = (Model("acme-job/v1", Prompt, MediaKind.IMAGE),)
    create_path, status_path = CREATE, STATUS

    def assets(self, task_id, response):
        return assets(response.get("resultUrls"), MediaKind.IMAGE, task_id=task_id)


class ReadsItsCallbacks(JobProvider):
    def callback_task_id(self, payload):
        job = (payload.get("data") or {}).get("job")
        return job.get("id") if isinstance(job, dict) else None


ROUTES = web.RouteTableDef()


def record(task):
    flag = {"success": 1, "fail": 3}.get(task.state, 0)
    done = {"resultUrls": task.result_urls()} if flag == 1 else None
    failed = flag == 3
    return {"taskId": task.task_id, "successFlag": flag, "response": done,
            "errorCode": 501 if failed else None, "errorMessage": "failed" if failed else None}


def callback_payload(transition):
    task = transition.task  # the id under data.job.id: no place kiekit looks by itself
    code = 200 if task.state == "success" else 501
    return {"code": code, "msg": "done", "data": {"job": {"id": task.task_id}}}


@ROUTES.post(CREATE)
async def generate(request):
    body = await json_body(request)
    prompt = required_str(body, "prompt", 2000)
    spec = TaskSpec(
        family="acme-job", model="acme-job/v1", request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"), param_json=dumps(body),
        prompt=prompt, cost=1.0, result_ext="png", result_count=1, aspect_ratio=None,
        origin=origin_of(request),
    )
    return ok({"taskId": runtime(request).store.create(account_of(request), spec).task_id})


@ROUTES.get(STATUS)
async def record_info(request):
    return ok(record(poll_task(request, "acme-job", callback_payload).task))


EXTENSION = FamilyExtension(name="acme-job", routes=ROUTES, callback_payload=callback_payload)
"""
RECORD = {"taskId": "t", "successFlag": 0, "response": None, "errorCode": None}
DONE = {"successFlag": 1, "response": {"resultUrls": ["https://e.example/a.png"]}}
DOCUMENTED = (
    (RECORD | {"errorMessage": None}, State.RUNNING),
    (RECORD | DONE, State.SUCCEEDED),
    (RECORD | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}, State.FAILED),
)


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """acme-job 1.0 on sys.path: the module and a dist-info naming its mock extension."""
    (tmp_path / "acme_job.py").write_text(FAMILY)
    info = tmp_path / "acme_job-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-job\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[kiekit_mock.families]\nacme-job = acme_job:EXTENSION\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("acme_job")
    sys.modules.pop("acme_job", None)


def test_a_callback_kiekit_cannot_read_fails_until_the_provider_says_where_its_id_is(
    family: ModuleType, tmp_path: Path
) -> None:
    class Unread(ProviderContract):
        provider = family.JobProvider()
        check_entry_points = False
        documented_statuses = DOCUMENTED

    class Read(Unread):
        provider = family.ReadsItsCallbacks()

    with MockServer(MockConfig(polls_to_complete=2)) as mock:
        with pytest.raises(AssertionError, match=r"JobProvider\.callback_task_id"):
            Unread().test_task_succeeds_and_files_download("Client", mock, tmp_path / "a")
        with pytest.raises(AssertionError, match="one kiekit cannot read"):
            Unread().test_failed_task_raises_task_failed_error("Client", mock)
        Read().test_task_succeeds_and_files_download("Client", mock, tmp_path / "b")
        Read().test_failed_task_raises_task_failed_error("AsyncClient", mock)
        [callback, *_] = mock.callbacks()
    task_id = callback.payload["data"]["job"]["id"]
    with pytest.raises(CallbackError, match="carries no task id"):
        parse_callback(callback.payload)  # the dict itself, as the mock recorded it
    found = parse_callback(callback.payload, providers=[family.ReadsItsCallbacks()])
    assert (found.task_id, found.announces_end) == (task_id, True)


def test_parse_callback_takes_bytes_text_or_a_dict_and_says_so() -> None:
    body = {"code": 200, "msg": "success", "data": {"taskId": "t1"}}
    assert parse_callback(body).task_id == "t1"
    assert parse_callback(b'{"code": 200, "data": {"taskId": "t1"}}').task_id == "t1"
    with pytest.raises(TypeError, match=r"bytes or str \(as received\), or a dict of its JSON"):
        parse_callback(["not", "a", "body"])  # type: ignore[arg-type]
