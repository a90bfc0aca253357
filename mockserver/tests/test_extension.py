"""A family from another package, found through the entry point group: a KIE-like API
(its own create and record-info paths, its own successFlag), written against the public
extension API only, installed as a real distribution (a ``.dist-info`` on ``sys.path``), and
served by an unchanged mock with everything a built-in family gets."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer, Rule
from kiekit_mock.extension import ENTRY_POINT_GROUP, installed_families
from kiekit_mock.families import luma as luma_module
from kiekit_mock.openapi import build_document
from kiekit_mock.rules import Outcome

if TYPE_CHECKING:
    from conftest import Kie

FAMILY_MODULE = '''
"""A KIE-like family, as a third party would add it."""
from aiohttp import web
from kiekit_mock.extension import (
    FamilyExtension, TaskSpec, account_of, dumps, invalid, json_body, kie_operation, ok,
    optional_callback_url, origin_of, poll_task, required_str, runtime, schema,
)

ROUTES = web.RouteTableDef()
FLAGS = {"waiting": 0, "queuing": 0, "generating": 0, "success": 1, "fail": 3}


def record(task):
    done = task.state == "success"
    return {
        "taskId": task.task_id,
        "successFlag": FLAGS[task.state],
        "resultInfoJson": {"resultUrls": [{"resultUrl": u} for u in task.result_urls()]}
        if done else None,
        "errorMessage": "it failed" if task.state == "fail" else None,
    }


def callback_payload(transition):
    return {"code": 200, "msg": "success", "data": record(transition.task)}


@ROUTES.post("/api/v1/acme-paint/generate")
async def generate(request):
    body = await json_body(request)
    prompt = required_str(body, "prompt", 2000)
    if body.get("taskType") not in ("mj_txt2img", "mj_img2img"):
        raise invalid("taskType is not within the range of allowed options")
    spec = TaskSpec(
        family="acme-paint", model="acme-paint/" + body["taskType"], request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"), param_json=dumps(body),
        prompt=prompt, cost=8.0, result_ext="png", result_count=4, aspect_ratio=None,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.get("/api/v1/acme-paint/record-info")
async def record_info(request):
    return ok(record(poll_task(request, "acme-paint", callback_payload).task))


def paths():
    body = schema.obj({"prompt": schema.required_text(2000),
                       "taskType": schema.enum(["mj_txt2img", "mj_img2img"])},
                      ["prompt", "taskType"])
    created = schema.strict({"taskId": schema.STRING})
    return {
        "/api/v1/acme-paint/generate": {
            "post": kie_operation("Paint generate", created, tag="paint", body=body)},
        "/api/v1/acme-paint/record-info": {"get": kie_operation(
            "Paint record", {"type": "object"}, tag="paint",
            query={"taskId": schema.required_text()})},
    }


EXTENSION = FamilyExtension(
    name="acme-paint", routes=ROUTES, callback_payload=callback_payload, openapi_paths=paths,
    status_paths={"/api/v1/acme-paint/generate": "/api/v1/acme-paint/record-info"},
    moderation=(400, "Paint refused the prompt"),
)
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """acme-kie-mock 1.0 on sys.path: the family module, and its dist-info declaring it and a
    second, broken extension."""
    (tmp_path / "acme_kie_mock.py").write_text(textwrap.dedent(FAMILY_MODULE))
    info = tmp_path / "acme_kie_mock-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-kie-mock\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "acme-paint = acme_kie_mock:EXTENSION\n"
        "broken = acme_kie_mock_missing:EXTENSION\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("acme_kie_mock", None)


def test_an_installed_family_is_found_and_a_broken_one_named(
    installed: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kiekit_mock"):
        names = [extension.name for extension in installed_families()]
    assert "acme-paint" in names
    assert "luma" in names  # kiekit-mock's own family, through the same door
    [error] = [r.getMessage() for r in caplog.records if "broken" in r.getMessage()]
    assert "acme-kie-mock" in error
    assert "left out" in error


def test_the_health_route_lists_an_installed_family(installed: Path, kie_at: Any) -> None:
    """A CI job sees from the mock's health that its extension loaded."""
    with MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        health = kie.fetch(mock.base_url + "/_mock/health")
        assert "acme-paint" in health.json()["families"]


def _install(folder: Path, dist: str, modules: dict[str, str]) -> None:
    """``dist`` 1.0 on sys.path (already prepended), one entry point per module."""
    lines = []
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(text))
        lines.append(f"{module.replace('_', '-')} = {module}:EXTENSION\n")
    info = folder / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n" + "".join(lines))


@pytest.fixture
def clashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-clash 1.0: the paint family renamed "luma" (a built-in's name; its entry point
    sorts before kiekit-mock's), and again with its create route on the market's createTask."""
    as_luma = FAMILY_MODULE.replace('name="acme-paint"', 'name="luma"')
    on_jobs = FAMILY_MODULE.replace('name="acme-paint"', 'name="acme-jobs"').replace(
        '@ROUTES.post("/api/v1/acme-paint/generate")', '@ROUTES.post("/api/v1/jobs/createTask")'
    )
    assert as_luma != FAMILY_MODULE
    assert "/api/v1/jobs/createTask" in on_jobs
    monkeypatch.syspath_prepend(str(tmp_path))
    _install(tmp_path, "acme-clash", {"a_luma": as_luma, "acme_jobs": on_jobs})
    yield
    for module in ("a_luma", "acme_jobs"):
        sys.modules.pop(module, None)


def test_a_third_party_family_taking_a_built_in_name_or_route_is_left_out_by_name(
    clashing: None, caplog: pytest.LogCaptureFixture, kie_at: Any
) -> None:
    with caplog.at_level(logging.ERROR, logger="kiekit_mock"):
        loaded = installed_families()
    names = [extension.name for extension in loaded]
    assert sorted(names) == ["luma", "midjourney"]
    [luma] = [extension for extension in loaded if extension.name == "luma"]
    assert luma.routes is luma_module.ROUTES  # the built-in, not the intruder
    errors = [r.getMessage() for r in caplog.records]
    [named] = [e for e in errors if "'a-luma'" in e]
    assert "(acme-clash)" in named
    assert "family 'luma' is already the mock's" in named
    [route] = [e for e in errors if "'acme-jobs'" in e]
    assert "(acme-clash)" in route
    assert "route POST /api/v1/jobs/createTask is already the mock's" in route
    with MockServer() as mock:
        kie: Kie = kie_at(mock.base_url)
        body = {"prompt": "hi", "videoUrl": "https://example.com/a.mp4"}
        assert kie.post("/api/v1/modify/generate", body).json()["code"] == 200  # Luma serves
        assert kie.post("/api/v1/acme-paint/generate", body).status == 404


def test_the_mock_serves_it_like_a_built_in_family(installed: Path, kie_at: Any) -> None:
    with MockServer(MockConfig(polls_to_complete=1)) as mock:
        kie: Kie = kie_at(mock.base_url)
        body = {"prompt": "a red fox", "taskType": "mj_txt2img",
                "callBackUrl": "https://your-domain.com/cb"}  # fmt: skip
        task_id = kie.ok(kie.post("/api/v1/acme-paint/generate", body))["taskId"]
        first = kie.ok(kie.get(f"/api/v1/acme-paint/record-info?taskId={task_id}"))
        assert first["successFlag"] == 0
        done = kie.ok(kie.get(f"/api/v1/acme-paint/record-info?taskId={task_id}"))
        assert done["successFlag"] == 1
        urls = [item["resultUrl"] for item in done["resultInfoJson"]["resultUrls"]]
        assert len(urls) == 4
        assert all(kie.fetch(url).body.startswith(b"\x89PNG") for url in urls)  # real files
        # KIE-shaped input checks
        bad = kie.post(
            "/api/v1/acme-paint/generate", {"prompt": "x", "taskType": "mj_video"}
        ).json()
        assert (bad["code"], bad["msg"]) == (
            422,
            "taskType is not within the range of allowed options",
        )
        # the callback was owed and recorded (never sent outside loopback)
        [callback] = mock.callbacks()
        assert callback.payload["data"]["successFlag"] == 1
        # the journal, the task store and the control API know it
        assert [t.family for t in mock.tasks()] == ["acme-paint"]
        assert any(r.path == "/api/v1/acme-paint/generate" for r in mock.requests())
        # rules by family name, moderation in its own words
        mock.add_rule(Rule(family="acme-paint", outcome=Outcome("moderation")))
        flagged = kie.ok(kie.post("/api/v1/acme-paint/generate", body | {"prompt": "another fox"}))
        again = kie.ok(kie.get(f"/api/v1/acme-paint/record-info?taskId={flagged['taskId']}"))
        assert mock.task(flagged["taskId"]).outcome.kind == "moderation"
        mock.complete(flagged["taskId"])
        final = kie.ok(kie.get(f"/api/v1/acme-paint/record-info?taskId={flagged['taskId']}"))
        assert (again["successFlag"], final["successFlag"]) == (0, 3)


def test_its_paths_are_in_the_openapi_document_with_their_links(installed: Path) -> None:
    document = build_document(MockConfig())
    create = document["paths"]["/api/v1/acme-paint/generate"]["post"]
    assert create["operationId"] == "post_api_v1_acme_paint_generate"
    assert create["responses"]["200"]["links"]["status"]["operationId"] == (
        "get_api_v1_acme_paint_record_info"
    )
    assert "/api/v1/modify/generate" in document["paths"]  # Luma's, from its extension
    assert json.dumps(document)  # a JSON document still


def test_the_old_name_of_error_answer_still_works_with_a_warning() -> None:
    """``KieError`` was the extension API's name for ``ErrorAnswer`` (kiekit's KieError is the
    client's exception): an extension written against it keeps loading, and is told to move."""
    from kiekit_mock import extension

    with pytest.warns(DeprecationWarning, match="raise ErrorAnswer instead"):
        old = extension.KieError
    assert old is extension.ErrorAnswer
    with pytest.raises(AttributeError, match="no attribute 'KieErrors'"):
        _ = extension.KieErrors  # type: ignore[attr-defined]  # as type checkers say


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"name": " "}, "name must be a non-empty string"),
        ({"routes": []}, "routes must be an aiohttp web.RouteTableDef"),
        ({"retention_days": 0}, "retention_days must be more than 0"),
    ],
)
def test_a_malformed_family_is_refused_naming_what_is_wrong(
    fields: dict[str, Any], says: str
) -> None:
    from aiohttp import web
    from kiekit_mock.extension import FamilyExtension

    good: dict[str, Any] = {
        "name": "acme-paint",
        "routes": web.RouteTableDef(),
        "callback_payload": lambda transition: {},
    }
    with pytest.raises((TypeError, ValueError), match=says):
        FamilyExtension(**(good | fields))
