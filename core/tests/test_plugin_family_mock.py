"""A plugin that brings a whole KIE API family — its kiekit provider and its mock extension in
one installed distribution — works with `kie run --mock` as installed, with no flags: the
provider through the ``kiekit.providers`` entry points, the mock side through
``kiekit_mock.families`` (issue 16)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiekit.registry import default_registry

PLUGIN = '''
"""acme-mj: a KIE-like family, client and mock, as a third party ships it."""
from aiohttp import web
from attrs import frozen
from kiekit import Input, MediaKind, Model, Provider, hookimpl
from kiekit.families.assets import assets
from kiekit.families.success_flag import SuccessFlagProvider
from kiekit.fields import text
from kiekit_mock.extension import (
    FamilyExtension, TaskSpec, account_of, dumps, json_body, ok, optional_callback_url,
    origin_of, poll_task, required_str, runtime,
)

MODEL = "acme-paint/v1"
CREATE, STATUS = "/api/v1/acme-paint/generate", "/api/v1/acme-paint/record-info"


# -- the client side: a provider ------------------------------------------------------------


@frozen
class Imagine(Input):
    prompt: str = text(max_length=2000)


class MjProvider(SuccessFlagProvider):
    name = "acme-paint"
    models = (Model(MODEL, Imagine, MediaKind.IMAGE),)
    create_path, status_path = CREATE, STATUS

    def assets(self, task_id, response):
        return assets(response.get("resultUrls"), MediaKind.IMAGE, task_id=task_id)


@hookimpl
def kiekit_register_providers(register):
    register(MjProvider())


# -- the mock side: a family ---------------------------------------------------------------

ROUTES = web.RouteTableDef()


def record(task):
    flag = {"success": 1, "fail": 3}.get(task.state, 0)
    done = {"resultUrls": task.result_urls()} if flag == 1 else None
    return {"taskId": task.task_id, "successFlag": flag, "response": done,
            "errorCode": None, "errorMessage": None}


def callback_payload(transition):
    return {"code": 200, "msg": "success", "data": record(transition.task)}


@ROUTES.post(CREATE)
async def generate(request):
    body = await json_body(request)
    prompt = required_str(body, "prompt", 2000)
    spec = TaskSpec(
        family="acme-paint", model=MODEL, request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"), param_json=dumps(body),
        prompt=prompt, cost=8.0, result_ext="png", result_count=4, aspect_ratio=None,
        origin=origin_of(request),
    )
    return ok({"taskId": runtime(request).store.create(account_of(request), spec).task_id})


@ROUTES.get(STATUS)
async def record_info(request):
    return ok(record(poll_task(request, "acme-paint", callback_payload).task))


EXTENSION = FamilyExtension(name="acme-paint", routes=ROUTES, callback_payload=callback_payload)
'''


@pytest.fixture
def acme_mj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-mj 1.0 installed: its module and a dist-info naming it in both entry point groups."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_mj.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "acme_mj-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-mj\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[kiekit.providers]\nacme-paint/v1 = acme_mj\n\n"
        "[kiekit_mock.families]\nacme-paint = acme_mj:EXTENSION\n"
    )
    monkeypatch.syspath_prepend(str(site))
    default_registry.cache_clear()  # the process-wide registry is built once: see the plugin
    yield
    default_registry.cache_clear()
    sys.modules.pop("acme_mj", None)


def test_kie_run_mock_serves_a_plugins_own_family_with_no_flags(
    acme_mj: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.cli import main

    out = tmp_path / "out"
    argv = ["run", "acme-paint/v1", "--prompt", "a red fox", "--mock", "--mock-seconds", "0"]
    assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
    files = [Path(line) for line in capsys.readouterr().out.split()]
    assert len(files) == 4
    assert all(f.parent == out and f.read_bytes().startswith(b"\x89PNG") for f in files)
