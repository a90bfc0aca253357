"""KIE's global conventions (kie-api.md §1, §7): Bearer auth, HTTP 200 errors, real 404 routes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

UNAUTHORIZED = {"code": 401, "msg": "You do not have access permissions", "data": None}
T2I = "grok-imagine/text-to-image"


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_is_body_401_at_http_200(kie: Kie, key: str | None) -> None:
    answer = kie.as_key(key).get("/api/v1/chat/credit")
    assert answer.status == 200
    assert answer.json() == UNAUTHORIZED


def test_not_a_bearer_header_is_401(kie: Kie) -> None:
    url = kie.base_url + "/api/v1/chat/credit"
    answer = kie.fetch(url, headers={"Authorization": "Basic abc"})
    assert answer.json() == UNAUTHORIZED


# the bytes as a client sends them (urllib sends a str header as Latin-1): http.client's
# Latin-1 'é', aiohttp's UTF-8 zero-width space, and bytes that are no UTF-8 at all
NON_ASCII_KEYS = ["t\xe9st", "test-key\u200b".encode().decode("latin-1"), "t\xff\xfest"]


@pytest.mark.parametrize("key", NON_ASCII_KEYS, ids=["latin-1", "utf-8-zwsp", "not-utf-8"])
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/chat/credit"), ("POST", "/api/v1/jobs/createTask")]
)
def test_a_key_with_non_ascii_bytes_is_body_401_not_http_500(
    mock: MockServer, kie: Kie, key: str, method: str, path: str
) -> None:
    """KIE's keys are hex: any other byte is a key KIE refuses (401 at HTTP 200, §7), never
    the mock's own crash, which a client would read as "outcome unknown" for a create."""
    create = b'{"model": "grok-imagine/text-to-image", "input": {"prompt": "x"}}'
    answer = kie.fetch(
        kie.base_url + path,
        method=method,
        data=create if method == "POST" else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert answer.json() == UNAUTHORIZED
    assert [r.path for r in mock.requests()] == [path]  # and the journal keeps it
    assert mock.tasks() == []


def test_configured_keys_admit_only_those(make_mock: MakeMock) -> None:
    mock, kie = make_mock(api_keys=frozenset({"good"}))
    create = {"model": T2I, "input": {"prompt": "x"}}
    assert kie.as_key("bad").post("/api/v1/jobs/createTask", create).json() == UNAUTHORIZED
    assert kie.as_key("good").post("/api/v1/jobs/createTask", create).json()["code"] == 200
    assert [t.model for t in mock.tasks()] == [T2I]


def test_any_key_is_its_own_account(kie: Kie) -> None:
    task_id = kie.as_key("alice").create(T2I, prompt="a cat")
    assert kie.as_key("alice").record(task_id)["taskId"] == task_id
    # another account's task is "not found" for bob
    answer = kie.as_key("bob").get(f"/api/v1/jobs/recordInfo?taskId={task_id}")
    assert answer.status == 200
    assert answer.json() == {"code": 404, "msg": "Task not found", "data": None}


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/jobs/createTasks", "/v1/jobs/recordInfo", "/"]
)
@pytest.mark.parametrize("key", ["test-key", None])
def test_unknown_route_is_a_real_http_404(kie: Kie, path: str, key: str | None) -> None:
    assert kie.as_key(key).get(path).status == 404


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
@pytest.mark.parametrize("path", ["/api/v1/jobs/createTask", "/api/v1/flux/kontext/generate"])
def test_malformed_body_is_body_400(kie: Kie, path: str, raw: bytes) -> None:
    answer = kie.post(path, raw)
    assert answer.status == 200
    assert answer.json()["code"] == 400
    assert answer.json()["data"] is None


# Not JSON for a strict parser (echoed into a record, NaN would break every other client's
# JSON.parse), and nesting deeper than Python's parser goes: both malformed, neither a crash.
NOT_STRICT_JSON = [
    b'{"model": "x", "input": {"prompt": "x", "n": NaN}}',
    b'{"model": "x", "input": {"prompt": "x", "n": -Infinity}}',
    b'{"model": "x", "input": {"d": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
]


@pytest.mark.parametrize("raw", NOT_STRICT_JSON, ids=["nan", "infinity", "deep"])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs/createTask", "/api/v1/veo/generate", "/claude/v1/messages", "/_mock/rules"],
)
def test_json_a_strict_parser_refuses_is_refused(kie: Kie, path: str, raw: bytes) -> None:
    answer = kie.post(path, raw)
    if path.startswith("/_mock/"):  # the control API's own refusal, naming the field
        assert (answer.status, answer.json()["field"]) == (400, "body")
    else:
        assert answer.status == 200
        assert answer.json() == {
            "code": 400,
            "msg": "Request body must be a JSON object",
            "data": None,
        }


# An escaped lone surrogate is valid JSON yet no text: what a client sends for a prompt read
# from a latin-1 file on a UTF-8 system ("caf\xe9" decoded with surrogateescape).
@pytest.mark.parametrize(
    ("path", "body", "record"),
    [
        ("/api/v1/flux/kontext/generate", {"prompt": "caf\udce9 at dawn"}, "flux_record"),
        ("/api/v1/jobs/createTask", {"model": T2I, "input": {"prompt": "x\udcff"}}, "record"),
    ],
)
def test_a_lone_surrogate_is_kept_as_a_replacement_character_not_an_http_500(
    mock: MockServer, kie: Kie, path: str, body: dict[str, Any], record: str
) -> None:
    data = kie.ok(kie.post(path, body))  # was HTTP 500: the task's record could not encode it
    task = getattr(kie, record)(data["taskId"])
    assert "\ufffd" in json.dumps(task, ensure_ascii=False)
    (create,) = mock.journal.creates()
    assert "\ufffd" in json.dumps(create.body, ensure_ascii=False)


def test_a_chat_message_with_a_lone_surrogate_is_answered(kie: Kie) -> None:
    body = {"messages": [{"role": "user", "content": "hi \ud800"}]}
    answer = kie.post("/gemini-2.5-flash/v1/chat/completions", body)
    assert answer.status == 200  # was HTTP 500: the echo could not encode it
    assert answer.json()["choices"][0]["message"]["content"].endswith("hi \ufffd")


@pytest.mark.parametrize(
    "path", ["/api/v1/jobs/recordInfo", "/api/v1/flux/kontext/record-info?taskId="]
)
def test_missing_task_id_is_422(kie: Kie, path: str) -> None:
    assert kie.get(path).json() == {"code": 422, "msg": "taskId cannot be empty", "data": None}


@pytest.mark.parametrize("path", ["/api/v1/jobs/recordInfo", "/api/v1/flux/kontext/record-info"])
def test_unknown_task_is_body_404(kie: Kie, path: str) -> None:
    answer = kie.get(f"{path}?taskId={'0' * 32}")
    assert answer.status == 200
    assert answer.json() == {"code": 404, "msg": "Task not found", "data": None}


def test_a_task_is_found_only_by_its_own_family(kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="x")
    answer = kie.get(f"/api/v1/flux/kontext/record-info?taskId={task_id}")
    assert answer.json()["code"] == 404


def test_journal_records_requests_without_the_key(mock: MockServer, kie: Kie) -> None:
    secret = "sk-very-secret-123"
    kie = kie.as_key(secret)
    task_id = kie.create(T2I, prompt="journal")
    kie.record(task_id)
    kie.get("/api/v1/missing")
    create, poll, missing = mock.requests()
    assert (create.method, create.path, create.task_id) == (
        "POST",
        "/api/v1/jobs/createTask",
        task_id,
    )
    assert create.body == {"model": T2I, "input": {"prompt": "journal"}}
    assert create.code == 200
    assert (poll.query, poll.task_id) == ({"taskId": task_id}, task_id)
    assert (missing.status, missing.code) == (404, None)
    assert all(r.authorization == "Bearer ***" for r in mock.requests())
    assert secret not in repr(mock.requests())
    assert secret not in repr(mock.tasks())
    assert mock.tasks()[0].account_id.startswith("acct_")


@pytest.mark.parametrize("name", ["api_key", "key", "apikey", "API_KEY", "api%5Fkey"])
def test_a_key_in_an_api_routes_query_is_journaled_masked(
    mock: MockServer, kie: Kie, name: str
) -> None:
    """A client that puts its key in the query (KIE takes it as a Bearer header alone): the
    journal, and the inspector and /_mock/journal that serve it, keep ``***`` in its place,
    as the access log does; the rest of the query stays as sent."""
    secret = "sk-query-canary-0123"
    kie.get(f"/api/v1/chat/credit?{name}={secret}&taskId=t1")
    record = mock.requests()[-1]
    assert secret not in repr(record)
    assert set(record.query.values()) == {"***", "t1"}
    served = kie.fetch(mock.base_url + "/_mock/journal").body.decode()
    assert secret not in served
    assert '"***"' in served
