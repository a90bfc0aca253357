"""Fixtures for the mock's own tests. All traffic goes to 127.0.0.1, never through a proxy."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from kiekit_mock import MockConfig, MockServer, egress
from kiekit_mock.extension import ENTRY_POINT_GROUP

# A ProxyHandler with no proxies: HTTP(S)_PROXY in the environment must not reroute test traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: Any = None
) -> Answer:
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return Answer(
                response.status,
                response.headers.get("Content-Type", ""),
                response.read(),
                {name.lower(): value for name, value in response.headers.items()},
            )
    except urllib.error.HTTPError as exc:
        with exc:
            headers = {name.lower(): value for name, value in exc.headers.items()}
            return Answer(exc.code, exc.headers.get("Content-Type", ""), exc.read(), headers)


@dataclass(frozen=True)
class Kie:
    """A raw KIE caller bound to one mock and one API key."""

    base_url: str
    key: str | None = "test-key"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.key is not None:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def post(self, path: str, body: Any) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return fetch(self.base_url + path, method="POST", data=raw, headers=self._headers())

    def get(self, path: str) -> Answer:
        return fetch(self.base_url + path, headers=self._headers())

    def fetch(self, url: str, **kwargs: Any) -> Answer:
        """Any request to an absolute loopback URL (result files, odd headers)."""
        return fetch(url, **kwargs)

    def ok(self, answer: Answer) -> Any:
        assert answer.status == 200
        payload = answer.json()
        assert payload["code"] == 200, payload
        return payload["data"]

    def create(self, model: str, **input_: Any) -> str:
        data = self.ok(self.post("/api/v1/jobs/createTask", {"model": model, "input": input_}))
        return str(data["taskId"])

    def record(self, task_id: str, path: str = "/api/v1/jobs/recordInfo") -> dict[str, Any]:
        """The task's status record (the market's, or the family's at ``path``)."""
        return dict(self.ok(self.get(f"{path}?taskId={task_id}")))

    def flux(self, **body: Any) -> str:
        return str(self.ok(self.post("/api/v1/flux/kontext/generate", body))["taskId"])

    def flux_record(self, task_id: str) -> dict[str, Any]:
        return dict(self.ok(self.get(f"/api/v1/flux/kontext/record-info?taskId={task_id}")))

    def as_key(self, key: str | None) -> Kie:
        return Kie(self.base_url, key)


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as server:
        yield server


@pytest.fixture
def kie(mock: MockServer) -> Kie:
    return Kie(mock.base_url)


MakeMock = Callable[..., tuple[MockServer, Kie]]


@pytest.fixture
def make_mock() -> Iterator[MakeMock]:
    """make_mock(**MockConfig fields) -> (running MockServer, Kie caller); stopped at teardown."""
    with contextlib.ExitStack() as stack:

        def make(**config: Any) -> tuple[MockServer, Kie]:
            server = stack.enter_context(MockServer(MockConfig(**config)))
            return server, Kie(server.base_url)

        yield make


@pytest.fixture
def kie_at() -> Callable[..., Kie]:
    """kie_at(base_url, key="test-key") -> Kie: a caller for a server the test runs itself."""
    return lambda base_url, key="test-key": Kie(base_url, key)


@dataclass(frozen=True)
class MockCli:
    """The mock's command line, running: its process and the address it printed first."""

    process: subprocess.Popen[str]
    base_url: str


@pytest.fixture
def start_mock_cli() -> Iterator[Callable[..., MockCli]]:
    """start_mock_cli(*flags) -> ``python -m kiekit_mock --port 0 *flags`` (stdout and stderr
    piped, no proxy), once it has printed its address; killed at teardown if still running."""
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    started: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> MockCli:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, the test's own flags
            [sys.executable, "-m", "kiekit_mock", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        return MockCli(process, match.group(0))

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


class StandInResolver(AbstractResolver):
    """Answers names from a table (as a poisoned hosts file or a rebinding DNS would)."""

    asked: list[str]

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def resolve_as(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], Any]:
    """resolve_as({name: [addresses]}): the mock's lookups answer from this table."""

    def install(table: dict[str, list[str]]) -> StandInResolver:
        resolver = StandInResolver(table)
        monkeypatch.setattr(egress, "base_resolver", lambda: resolver)
        return resolver

    return install


RecordedTask = Callable[[str, str, str, bytes], dict[str, Any]]
_RECORDED_MODEL = "grok-imagine/text-to-image"


@pytest.fixture
def recorded_task() -> RecordedTask:
    """A scenario of one recorded market task (grok-imagine/text-to-image): generating, then a
    success whose result is ``file_url``, served with ``content_type`` and ``body``."""

    def recorded(task_id: str, file_url: str, content_type: str, body: bytes) -> dict[str, Any]:
        def record(state: str, result: str | None) -> dict[str, Any]:
            data = {
                "taskId": task_id,
                "model": _RECORDED_MODEL,
                "state": state,
                "resultJson": result,
            }
            return {"code": 200, "msg": "success", "data": data}

        return {
            "format": "kiekit-mock-scenario/1",
            "tasks": [
                {
                    "taskId": task_id,
                    "createPath": "/api/v1/jobs/createTask",
                    "model": _RECORDED_MODEL,
                    "createAnswer": {"code": 200, "msg": "success", "data": {"taskId": task_id}},
                    "statusPath": "/api/v1/jobs/recordInfo",
                    "answers": [
                        record("generating", None),
                        record("success", json.dumps({"resultUrls": [file_url]})),
                    ],
                }
            ],
            "files": [
                {
                    "name": "0" + file_url[file_url.rindex(".") :],
                    "url": file_url,
                    "contentType": content_type,
                    "base64": base64.b64encode(body).decode(),
                }
            ],
        }

    return recorded


# A KIE-like family of a third party's own words (invented: "mesh" 3D models), written against
# the public extension API only. NAME stands for its family name, in its paths too, so that
# each test installs one of its own (extensions are loaded once per set of entry points).
MESH_FAMILY = '''
"""A 3D-model family, as a third party adds it: status words of its own, snake_case callbacks."""
from aiohttp import web
from kiekit_mock.extension import (
    FamilyExtension, TaskSpec, account_of, dumps, json_body, ok, optional_callback_url,
    origin_of, poll_task, required_str, runtime, status_words,
)

FAMILY = "NAME"
CREATE, STATUS = "/api/v1/NAME/generate", "/api/v1/NAME/record-info"
ROUTES = web.RouteTableDef()
WORDS = {"waiting": "QUEUED", "queuing": "QUEUED", "generating": "MODELING",
         "success": "COMPLETED", "fail": "FAILED"}


def record(task):
    status = WORDS[task.state]
    done = status == "COMPLETED"
    return {"taskId": task.task_id, "status": status,
            "result": {"modelUrls": task.result_urls()} if done else None,
            "failMsg": "mesh generation failed" if status == "FAILED" else None}


def callback_payload(transition):
    data = record(transition.task)
    body = {"task_id": data["taskId"], "status": data["status"],
            "model_urls": (data["result"] or {}).get("modelUrls", [])}
    return {"code": 200 if data["status"] == "COMPLETED" else 501, "msg": "done", "data": body}


@ROUTES.post(CREATE)
async def generate(request):
    body = await json_body(request)
    prompt = required_str(body, "prompt", 2000)
    spec = TaskSpec(
        family=FAMILY, model=body.get("model") or "NAME/v1", request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"), param_json=dumps(body),
        prompt=prompt, cost=12.0, result_ext="glb", result_count=2, aspect_ratio=None,
        origin=origin_of(request),
    )
    task = runtime(request).store.create(account_of(request), spec)
    return ok({"taskId": task.task_id})


@ROUTES.get(STATUS)
async def record_info(request):
    return ok(record(poll_task(request, FAMILY, callback_payload).task))


READ_STATE = status_words("status", {
    "QUEUED": "queuing", "MODELING": "generating", "TEXTURING": "generating",
    "COMPLETED": "success", "FAILED": "fail", "SENSITIVE_CONTENT": "fail",
})
EXTENSION = FamilyExtension(
    name=FAMILY, routes=ROUTES, callback_payload=callback_payload,
    status_paths={CREATE: STATUS}, read_state=READ_STATE,
)
'''

InstallFamily = Callable[..., None]


@pytest.fixture
def install_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallFamily]:
    """install_family(name, dist="acme-mesh", edit=lambda source: source): the mesh family
    (MESH_FAMILY) named ``name``, as module ``acme_<name>`` and entry point ``name`` of the
    distribution ``dist`` 1.0 on sys.path (a ``.dist-info``: what pip install leaves); ``edit``
    changes its source first. Several calls, one distribution each."""
    monkeypatch.syspath_prepend(str(tmp_path))
    modules: list[str] = []

    def install(name: str, dist: str = "acme-mesh", edit: Callable[[str], str] = str) -> None:
        module = "acme_" + name.replace("-", "_")
        (tmp_path / f"{module}.py").write_text(edit(MESH_FAMILY.replace("NAME", name)))
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        points = info / "entry_points.txt"
        old = points.read_text() if points.exists() else f"[{ENTRY_POINT_GROUP}]\n"
        points.write_text(old + f"{name} = {module}:EXTENSION\n")
        modules.append(module)

    yield install
    for module in modules:
        sys.modules.pop(module, None)
