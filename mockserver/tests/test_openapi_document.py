"""The mock's OpenAPI 3.1 document: complete (every registered route), served, written by the
CLI, and true (real answers of every family validate against it)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema_rs import Draft202012Validator  # schemathesis's validator (dev group)
from kiekit_mock import Lifecycle, MockConfig, MockServer, Runtime, create_app, media
from kiekit_mock.__main__ import main
from kiekit_mock.families.market_models import catalogue
from kiekit_mock.openapi import build_document, build_upload_document
from kiekit_mock.uploads import UploadStore
from kiekit_mock.uploads_http import build_upload_app

if TYPE_CHECKING:
    from conftest import Answer, Kie

HELLO_CHAT = [{"role": "user", "content": "hi"}]
JSON_200 = ("responses", "200", "content", "application/json", "schema")


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def test_every_registered_route_is_documented_and_nothing_else() -> None:
    # A route added to the app without its entry in kiekit_mock/openapi/ fails here.
    registered = {
        (route.method, route.resource.canonical)
        for route in create_app().router.routes()
        if route.method != "HEAD" and route.resource is not None  # HEAD: aiohttp's GET twin
    }
    documented = _operations(build_document())
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented operations the mock does not serve"


def test_the_upload_host_has_its_own_complete_document() -> None:
    app = build_upload_app(Runtime.new(MockConfig()), UploadStore())
    registered = {
        ("POST" if route.method == "*" else route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert registered == _operations(build_upload_document())


def test_every_api_operation_uses_bearer_and_the_envelope() -> None:
    document = build_document()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if operation["tags"] == ["chat"]:  # KIE asks for the key outside /api/ too (§5)
                assert operation["security"] == [{"bearer": []}], path
                continue
            if not path.startswith("/api/"):
                # public, and saying so (linters such as redocly's ask for an explicit [])
                assert operation["security"] == [], path
                continue
            assert operation["security"] == [{"bearer": []}], path
            schema = _dig(operation, JSON_200)
            assert next(alt.get("properties", {}).get("code") for alt in schema["oneOf"]) == {
                "const": 200
            }, path
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_required_member_of_an_answer_is_described() -> None:
    """A required name with no `properties` entry gives code generators an empty type (an
    outside tester's `redocly lint` found the chat answers so)."""
    undescribed: list[str] = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "required" in node:
                described = node.get("properties", {})
                undescribed.extend(
                    f"{where}: {name}" for name in node["required"] if name not in described
                )
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}/{index}")

    visit(build_document(), "#")
    visit(build_upload_document(), "upload#")
    assert undescribed == []


def test_document_is_served_without_auth_and_follows_the_config(kie_at: Any) -> None:
    config = MockConfig(api_keys=frozenset({"only-key"}), extra_market_models={"acme/x": "image"})
    with MockServer(config) as mock:
        answer = kie_at(mock.base_url, key=None).get("/openapi.json")
        assert answer.status == 200
        document = answer.json()
        assert document["servers"] == [{"url": mock.base_url}]
        body = document["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]
        models = [
            _resolved(document, v)["properties"]["model"]
            for v in body["content"]["application/json"]["schema"]["anyOf"]
        ]
        assert {"const": "acme/x"} in models
        assert {"const": "grok-imagine/text-to-image"} in models


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return found


def _create_body(document: dict[str, Any]) -> Draft202012Validator:
    pointer = "#/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json"
    return Draft202012Validator({**document, "$ref": pointer + "/schema"})


NANO: dict[str, Any] = {
    "model": "nano-banana-pro",
    "input": {"prompt": "a cat", "resolution": "2K"},
}
SEEDREAM: dict[str, Any] = {
    "model": "seedream/5-lite-text-to-image",
    "input": {"prompt": "a cat", "aspect_ratio": "1:1", "quality": "high"},
}


def test_create_task_describes_every_catalogue_model_from_its_fields() -> None:
    document = build_document()
    body = _create_body(document)
    models = {
        _resolved(document, v)["properties"]["model"].get("const")
        for v in document["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]["anyOf"]
    }
    assert {entry["id"] for entry in catalogue.read()["models"]} <= models
    assert body.is_valid(NANO)
    assert body.is_valid(SEEDREAM)
    assert not body.is_valid(NANO | {"input": {"prompt": "a cat", "resolution": "8K"}})
    assert not body.is_valid(SEEDREAM | {"input": SEEDREAM["input"] | {"quality": "ultra"}})
    assert not body.is_valid(NANO | {"input": {"resolution": "2K"}})  # prompt is required


def test_any_other_model_id_has_a_body_unless_models_are_strict() -> None:
    other = {"model": "someone/new-model-v9", "input": {"prompt": "x"}}
    assert _create_body(build_document()).is_valid(other)
    # a known id is held to its own body, not to the open one
    assert not _create_body(build_document()).is_valid(NANO | {"input": {"prompt": 3}})
    assert not _create_body(build_document(MockConfig(strict_models=True))).is_valid(other)


def test_cli_writes_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kie-mock.openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == build_document()
    assert main(["openapi"]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"] == "3.1.0"
    assert main(["openapi", "--upload-host", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == build_upload_document()


# --- the answers of every family validate against the document --------------------------------


def _dig(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = value[key]
    return value


class Conformance:
    """Validates answers against the document's 200 schema of their operation."""

    def __init__(self, kie: Kie) -> None:
        self.kie = kie
        self.document = build_document()
        self.seen: set[tuple[str, str]] = set()

    def _check(self, method: str, path: str, answer: Answer) -> Any:
        assert answer.status == 200, (method, path, answer.body)
        pointer = "/".join(
            ("#", "paths", path.replace("/", "~1"), method.lower(), *JSON_200)
        ).replace("application/json", "application~1json")
        validator = Draft202012Validator({**self.document, "$ref": pointer})
        payload = answer.json()
        errors = [e.message for e in validator.iter_errors(payload)]
        assert errors == [], (method, path, payload)
        self.seen.add((method, path))
        return payload

    def post(self, path: str, body: Any) -> Any:
        return self._check("POST", path, self.kie.post(path, body))

    def get(self, path: str, query: str = "") -> Any:
        return self._check("GET", path, self.kie.get(path + query))

    def poll_all(self, path: str, task_id: str, polls: int = 3) -> list[Any]:
        return [self.get(path, f"?taskId={task_id}") for _ in range(polls)]


@pytest.fixture
def conformance(make_mock: Any) -> Conformance:
    _, kie = make_mock(polls_to_complete=2)
    return Conformance(kie)


def _created(payload: Any) -> str:
    assert payload["code"] == 200, payload
    return str(payload["data"]["taskId"])


def test_market_answers_match_the_document(conformance: Conformance) -> None:
    c = conformance
    create, status = "/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo"
    grok = _created(
        c.post(create, {"model": "grok-imagine/text-to-image", "input": {"prompt": "a fox"}})
    )
    states = [p["data"]["state"] for p in c.poll_all(status, grok)]
    assert states[-1] == "success"
    sora = _created(c.post(create, {"model": "sora-2-text-to-video", "input": {"prompt": "waves"}}))
    assert c.poll_all(status, sora)[-1]["data"]["progress"] == 100
    failing: dict[str, Any] = {"model": "kling-3.0/video", "input": {"prompt": "x [mock:fail]"}}
    failing["input"] |= {"multi_shots": False, "mode": "std", "sound": True}
    assert c.poll_all(status, _created(c.post(create, failing)))[-1]["data"]["state"] == "fail"
    guessed = _created(c.post(create, {"model": "acme/new-model", "input": {}}))  # not refused
    assert c.poll_all(status, guessed)[-1]["data"]["state"] == "success"
    assert c.post(create, {"model": "", "input": {}})["code"] == 422
    assert c.get(status, "?taskId=missing")["code"] == 404
    assert isinstance(c.get("/api/v1/chat/credit")["data"], float)
    unauthorized = c.kie.as_key(None).get(status + "?taskId=x")
    assert c._check("GET", status, unauthorized)["code"] == 401


def test_legacy_family_answers_match_the_document(conformance: Conformance) -> None:
    c = conformance
    flux = _created(c.post("/api/v1/flux/kontext/generate", {"prompt": "a lake"}))
    assert c.poll_all("/api/v1/flux/kontext/record-info", flux)[-1]["data"]["successFlag"] == 1
    gpt = _created(c.post("/api/v1/gpt4o-image/generate", {"prompt": "a cat", "size": "1:1"}))
    record = c.poll_all("/api/v1/gpt4o-image/record-info", gpt)[-1]["data"]
    link = c.post(
        "/api/v1/gpt4o-image/download-url",
        {"taskId": gpt, "url": record["response"]["resultUrls"][0]},
    )
    assert link["code"] == 200
    luma = _created(
        c.post("/api/v1/modify/generate", {"prompt": "snow", "videoUrl": "https://e.com/v.mp4"})
    )
    assert c.poll_all("/api/v1/modify/record-info", luma)[-1]["data"]["successFlag"] == 1
    runway = _created(
        c.post("/api/v1/runway/generate", {"prompt": "a road", "aspectRatio": "16:9"})
    )
    assert c.poll_all("/api/v1/runway/record-detail", runway)[-1]["data"]["state"] == "success"
    extended = _created(c.post("/api/v1/runway/extend", {"prompt": "on", "taskId": runway}))
    assert (
        c.poll_all("/api/v1/runway/record-detail", extended)[-1]["data"]["parentTaskId"] == runway
    )
    aleph = _created(
        c.post("/api/v1/aleph/generate", {"prompt": "rain", "videoUrl": "https://e.com/v.mp4"})
    )
    assert c.poll_all("/api/v1/aleph/record-info", aleph)[-1]["data"]["successFlag"] == 1


def test_veo_answers_match_the_document(conformance: Conformance) -> None:
    c = conformance
    video = _created(c.post("/api/v1/veo/generate", {"prompt": "a boat", "aspect_ratio": "9:16"}))
    assert c.poll_all("/api/v1/veo/record-info", video)[-1]["data"]["successFlag"] == 1
    extended = _created(c.post("/api/v1/veo/extend", {"taskId": video, "prompt": "more"}))
    assert c.poll_all("/api/v1/veo/record-info", extended)[-1]["data"]["successFlag"] == 1
    hd = [c.get("/api/v1/veo/get-1080p-video", f"?taskId={video}") for _ in range(4)]
    assert hd[0]["code"] == 400
    assert hd[-1]["code"] == 200
    uhd = [c.post("/api/v1/veo/get-4k-video", {"taskId": extended}) for _ in range(4)]
    assert uhd[0]["code"] == 200
    assert uhd[-1]["code"] == 422
    assert uhd[-1]["data"]["resultUrls"]
    assert c.poll_all("/api/v1/veo/record-info", uhd[0]["data"]["taskId"], 1)[0]["code"] == 200


def test_upload_host_answers_match_its_document(mock: MockServer, kie_at: Any) -> None:
    document = build_upload_document()
    host = kie_at(mock.upload_base_url)

    def check(path: str, answer: Answer) -> Any:
        pointer = f"#/paths/{path.replace('/', '~1')}/post/{'/'.join(JSON_200)}"
        pointer = pointer.replace("application/json", "application~1json")
        validator = Draft202012Validator({**document, "$ref": pointer})
        assert answer.status == 200
        payload = answer.json()
        assert [e.message for e in validator.iter_errors(payload)] == [], payload
        return payload

    png = "data:image/png;base64," + base64.b64encode(media.png_bytes(2, 2, (9, 9, 9))).decode()
    stored = check(
        "/api/file-base64-upload",
        host.post("/api/file-base64-upload", {"base64Data": png, "uploadPath": "tests"}),
    )
    assert stored["success"] is True
    assert host.fetch(stored["data"]["downloadUrl"]).status == 200
    missing = check("/api/file-url-upload", host.post("/api/file-url-upload", {"uploadPath": "x"}))
    assert missing["success"] is False
    # found by schemathesis: a multipart body without its boundary was an HTTP 500
    broken = host.fetch(
        mock.upload_base_url + "/api/file-stream-upload",
        method="POST",
        data=b"--x\r\n",
        headers={"Authorization": "Bearer k", "Content-Type": "multipart/form-data"},
    )
    assert check("/api/file-stream-upload", broken)["code"] == 400


def test_kie_operations_say_their_convention_and_the_mocks_own_do_not() -> None:
    """`x-kie-envelope` marks every operation answering KIE's way (HTTP 200, outcome in the body
    code): what our schemathesis checks read instead of the HTTP status."""
    for path, operations in build_document()["paths"].items():
        for operation in operations.values():
            marked = "x-kie-envelope" in operation
            assert marked == bool(operation["security"]), path  # asks for the key
            if marked:
                assert operation["x-kie-envelope"]["httpStatus"] == 200


def _control_body(path: str, method: str = "put") -> Draft202012Validator:
    operation = build_document()["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator(schema, validate_formats=True)  # prompt_regex: "regex"


@pytest.mark.parametrize(
    "body",
    [
        "manual",
        "immediate",
        "sometimes",
        {},
        {"polls": 3},
        {"polls": 3.0},
        {"polls": None, "seconds": None},
        {"seconds": 2.5, "polls": 2},
        {"mode": "manual"},
        {"mode": "manual", "manual": False},
        {"manual": True, "polls": 4},
        {"mode": "immediate", "polls": 0, "seconds": 0},
        {"mode": "immediate", "polls": 2},
        {"mode": "polls", "polls": 2, "seconds": 0},
        {"mode": "polls"},
        {"mode": "seconds", "seconds": 1},
        {"mode": "polls+seconds", "polls": 1, "seconds": 1},
        {"mode": "polls+seconds", "polls": 1},
        {"polls": -1},
        {"polls": True},
        {"sometimes": 1},
    ],
)
def test_the_lifecycle_schema_accepts_exactly_what_the_mock_does(
    mock: MockServer, kie: Kie, body: Any
) -> None:
    task_id = kie.create("grok-imagine/text-to-image", prompt="x")
    mock.set_lifecycle(task_id, Lifecycle(manual=True))  # not ended: its lifecycle may change
    raw = json.dumps(body).encode()
    answer = kie.fetch(
        f"{kie.base_url}/_mock/tasks/{task_id}/lifecycle",
        method="PUT",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    valid = _control_body("/_mock/tasks/{task_id}/lifecycle").is_valid(body)
    assert (answer.status == 200) == valid, (answer.status, answer.body)


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "fail"},
        {"lifecycle": {"polls": 2}, "prompt_contains": "x"},
        {"prompt_contains": "x"},
        {"outcome": None, "lifecycle": None},
        {"outcome": "fail", "prompt_regex": "(unclosed"},
        {"outcome": "fail", "prompt_regex": "^a+$"},
        {"outcome": "fail", "api_key": "k", "account_id": "acct_1"},
        {"outcome": "fail", "api_key": "k", "account_id": None},
        {"outcome": "fail", "times": 0},
        {"outcome": "fail", "times": 2.0, "probability": 1},
        {"outcome": "fail", "model": ""},
        {"outcome": "fail", "colour": "red"},
    ],
)
def test_the_rule_schema_accepts_exactly_what_the_mock_does(kie: Kie, body: Any) -> None:
    answer = kie.fetch(
        f"{kie.base_url}/_mock/rules",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    valid = _control_body("/_mock/rules", "post").is_valid(body)
    assert (answer.status == 201) == valid, (answer.status, answer.body)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ("fail", True),
        ({}, True),  # kind left out: a success
        ({"kind": "fail", "code": 501, "msg": "boom"}, True),
        ({"kind": "moderation", "code": "422", "msg": None}, True),
        ({"kind": "success", "msg": "boom"}, False),  # only a failure has a message
        ({"code": 500}, False),  # nor a code (kind left out: a success)
        ({"kind": "fail", "msg": "\f"}, False),  # a blank message
        ({"kind": "fail", "msg": ""}, False),
    ],
)
def test_an_outcome_body_the_document_takes_is_one_the_mock_takes(
    kie: Kie, body: Any, valid: bool
) -> None:
    """PUT /_mock/tasks/{id}/outcome: the document and the mock agree (schemathesis' coverage
    phase checks both ways)."""
    document = build_document()
    operation = document["paths"]["/_mock/tasks/{task_id}/outcome"]["put"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**document, **schema})  # its $refs resolve in the document
    assert validator.is_valid(body) is valid
    task_id = kie.create("grok-imagine/text-to-image", prompt="x")
    answer = kie.fetch(
        f"{kie.base_url}/_mock/tasks/{task_id}/outcome",
        method="PUT",
        data=json.dumps(body).encode(),
    )
    assert (answer.status == 200) is valid, answer.json()


KLING = {"prompt": "a", "sound": False, "duration": "5", "mode": "std", "multi_shots": False}
SHOT = {"prompt": "a wave", "duration": 3}
MULTI = {"multi_shots": True, "sound": True, "multi_prompt": [SHOT]}


@pytest.mark.parametrize(
    ("model", "inputs", "valid"),
    [
        ("kling-3.0/video", KLING | {"multi_prompt": []}, True),  # single-shot clients send []
        ("kling-3.0/video", KLING | {"multi_prompt": [SHOT]}, False),  # shots need multi_shots
        ("kling-3.0/video", KLING | MULTI, True),
        ("kling-3.0/video", KLING | {"multi_prompt": "garbage"}, False),
        ("kling-3.0/video", KLING | {"multi_prompt": [{"prompt": "no duration"}]}, False),
        ("kling-3.0/video", KLING | {"duration": "15"}, True),
        ("kling-3.0/video", KLING | {"duration": " 07 "}, True),
        ("kling-3.0/video", KLING | {"duration": "99"}, False),  # a string, but out of range
        ("kling-3.0/video", KLING | {"duration": "2"}, False),
        ("kling-3.0/video", KLING | {"duration": "--5"}, False),
        ("elevenlabs/text-to-speech-turbo-2-5", {"text": "hi", "stability": 0.5}, True),
        ("elevenlabs/text-to-speech-turbo-2-5", {"text": "hi", "stability": "0.5"}, False),
        ("bytedance/seedream-v4-text-to-image", {"prompt": "hi", "max_images": "6"}, True),
        ("bytedance/seedream-v4-text-to-image", {"prompt": "hi", "max_images": "99"}, False),
    ],
)
def test_a_create_body_the_document_takes_is_one_the_mock_takes(
    kie: Kie, model: str, inputs: dict[str, Any], valid: bool
) -> None:
    """createTask: a client validating against /openapi.json (ajv, zod from the document) gets
    the mock's answer (found by an outside tester driving the mock from Node)."""
    body = {"model": model, "input": inputs}
    document = build_document()
    operation = document["paths"]["/api/v1/jobs/createTask"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert Draft202012Validator({**document, **schema}).is_valid(body) is valid
    answer = kie.post("/api/v1/jobs/createTask", body).json()
    assert (answer["code"] == 200) is valid, answer


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
COMPLETION_TOOL = {"type": "function", "function": {"name": "weather", "parameters": SCHEMA}}
RESPONSES_TOOL = {"type": "function", "name": "weather", "parameters": SCHEMA}
MESSAGES_TOOL = {"name": "weather", "input_schema": SCHEMA}
CHAT_ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "/{model}/v1/chat/completions": ("/gpt-5-2/v1/chat/completions", {"messages": HELLO_CHAT}),
    "/claude/v1/messages": (
        "/claude/v1/messages",
        {"model": "claude-sonnet-4-6", "messages": HELLO_CHAT},
    ),
    "/codex/v1/responses": ("/codex/v1/responses", {"model": "gpt-5-5", "input": "hi"}),
}


@pytest.mark.parametrize(
    ("route", "tool", "valid"),
    [
        ("/{model}/v1/chat/completions", COMPLETION_TOOL, True),
        ("/{model}/v1/chat/completions", RESPONSES_TOOL, False),  # no `function`
        ("/{model}/v1/chat/completions", MESSAGES_TOOL, False),
        ("/{model}/v1/chat/completions", {"type": "function", "function": {"name": " "}}, False),
        ("/claude/v1/messages", MESSAGES_TOOL, True),
        ("/claude/v1/messages", MESSAGES_TOOL | {"type": "custom"}, True),
        ("/claude/v1/messages", {"type": "web_search_20250305", "name": "web_search"}, True),
        ("/claude/v1/messages", RESPONSES_TOOL, False),  # `function` is no Anthropic type
        ("/claude/v1/messages", COMPLETION_TOOL, False),
        ("/claude/v1/messages", {"name": "weather"}, False),  # no input_schema
        ("/codex/v1/responses", RESPONSES_TOOL, True),
        ("/codex/v1/responses", {"type": "web_search"}, True),  # the API's own tool
        ("/codex/v1/responses", COMPLETION_TOOL, False),  # no top-level name
        ("/codex/v1/responses", MESSAGES_TOOL, False),  # no type
    ],
)
def test_a_chat_tool_the_document_takes_is_one_the_mock_takes(
    kie: Kie, route: str, tool: dict[str, Any], valid: bool
) -> None:
    """Each chat API's own tool shape, and another API's refused (422 naming the field) by
    the document and the mock alike: an outside tester's tools in OpenAI's shape, sent to a
    Responses model, were taken and never called."""
    path, body = CHAT_ROUTES[route]
    body = body | {"tools": [tool]}
    document = build_document()
    schema = document["paths"][route]["post"]["requestBody"]["content"]["application/json"]
    assert Draft202012Validator({**document, **schema["schema"]}).is_valid(body) is valid
    answer = kie.post(path, body).json()
    assert ("code" not in answer) is valid, answer
    if not valid:
        assert (answer["code"], answer["msg"].startswith("tools[0]")) == (422, True), answer


@pytest.mark.parametrize(
    ("route", "temperature", "valid"),
    [
        ("/claude/v1/messages", 1, True),
        ("/claude/v1/messages", 1.5, False),  # Anthropic's temperature is 0-1
        ("/{model}/v1/chat/completions", 1.5, True),  # OpenAI's 0-2
        ("/codex/v1/responses", 2, True),
        ("/codex/v1/responses", 2.5, False),
    ],
)
def test_a_chat_temperature_the_document_takes_is_one_the_mock_takes(
    kie: Kie, route: str, temperature: float, valid: bool
) -> None:
    path, body = CHAT_ROUTES[route]
    body = body | {"temperature": temperature}
    document = build_document()
    schema = document["paths"][route]["post"]["requestBody"]["content"]["application/json"]
    assert Draft202012Validator({**document, **schema["schema"]}).is_valid(body) is valid
    answer = kie.post(path, body).json()
    assert ("code" not in answer) is valid, answer


def test_the_openapi_command_and_help_reach_an_ascii_stdout() -> None:
    import os
    import subprocess
    import sys

    # an ASCII standard output, as under LC_ALL=C PYTHONUTF8=0: JSON's escapes, still JSON
    environ = {**os.environ, "PYTHONIOENCODING": "ascii"}
    said = {}
    for command in ("openapi", "--help"):
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "kiekit_mock", command],
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        said[command] = done.stdout
    assert "\\u00a7" in said["openapi"]  # the document's § (kie-api.md sections), escaped
    assert json.loads(said["openapi"])["openapi"].startswith("3.1")
    assert "\\xa7" in said["--help"]
