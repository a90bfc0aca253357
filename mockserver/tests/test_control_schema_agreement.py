"""Control-route inputs that the OpenAPI document calls valid are served, not refused (found by
schemathesis' positive_data_acceptance), and those it calls invalid are refused."""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer, account_id

if TYPE_CHECKING:
    from conftest import Answer, Kie

T2I = "grok-imagine/text-to-image"


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def test_api_key_and_account_id_filters_both_hold(kie: Kie) -> None:
    kie.create(T2I, prompt="x")
    mine, other = account_id("test-key"), account_id("someone-else")
    same = ctl(kie, "GET", f"/_mock/tasks?api_key=test-key&account_id={mine}")
    assert (same.status, same.json()["total"]) == (200, 1)
    apart = ctl(kie, "GET", f"/_mock/tasks?api_key=test-key&account_id={other}")
    assert (apart.status, apart.json()["total"]) == (200, 0)  # two filters: nothing fits both
    journal = ctl(kie, "GET", f"/_mock/journal?api_key=test-key&account_id={other}")
    assert (journal.status, journal.json()["count"]) == (200, 0)


def test_a_number_written_with_a_point_zero_is_an_integer(kie: Kie) -> None:
    """JSON Schema's "integer" includes 3.0; so do the control routes."""
    answer = ctl(kie, "POST", "/_mock/accounts", {"api_key": "k2", "max_creates_per_10s": 3.0})
    assert answer.status == 201
    assert answer.json()["account"]["max_creates_per_10s"] == 3
    refused = ctl(kie, "POST", "/_mock/accounts", {"api_key": "k2", "max_creates_per_10s": 2.5})
    assert (refused.status, refused.json()["field"]) == (400, "max_creates_per_10s")


def test_a_callbacks_listing_with_an_unknown_wait_word_is_refused(kie: Kie) -> None:
    answer = ctl(kie, "GET", "/_mock/callbacks?wait=sometimes")
    assert (answer.status, answer.json()["field"]) == (400, "wait")
    assert ctl(kie, "GET", "/_mock/callbacks?wait=0").status == 200


def test_a_har_entry_without_its_required_members_is_refused(kie: Kie) -> None:
    entry = {"request": {"method": "GET", "url": 7}, "response": {"status": 200}}
    answer = ctl(kie, "POST", "/_mock/scenarios", {"log": {"entries": [entry]}})
    assert answer.status == 400
    assert "log.entries[0].request.url must be a string" in answer.json()["error"]


def test_a_scenario_is_read_as_one_whatever_other_members_it_has(kie: Kie) -> None:
    scenario = {"format": "kiekit-mock-scenario/1", "tasks": [], "files": [], "log": []}
    answer = ctl(kie, "POST", "/_mock/scenarios", scenario)
    assert (answer.status, answer.json()) == (200, {"tasks": [], "files": 0, "skipped": []})
    left_out = {"format": "kiekit-mock-scenario/1", "tasks": None, "files": None}  # null: absent
    task: dict[str, Any] = {"taskId": "t", "createPath": "/c", "createAnswer": {}, "answers": None}
    answer = ctl(kie, "POST", "/_mock/scenarios", {**left_out, "tasks": [task]})
    assert answer.status == 200, answer.json()
    answer = ctl(kie, "POST", "/_mock/scenarios", left_out)
    assert (answer.status, answer.json()) == (200, {"tasks": [], "files": 0, "skipped": []})
    wrong = ctl(kie, "POST", "/_mock/scenarios", {**left_out, "files": {}})  # not a list
    assert (wrong.status, wrong.json()["field"]) == (400, "body")
    har = {"log": {"entries": []}, "format": "anything"}  # HAR allows other members
    assert ctl(kie, "POST", "/_mock/scenarios", har).status == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("attacker.example:{port}", 403),  # a rebound name: the page's own host
        ("127.0.0.1.attacker.example", 403),
        ("10.0.0.5:{port}", 403),
        ("127.0.0.1:{port}", 200),
        ("127.9.9.9", 200),
        ("localhost:{port}", 200),
        ("[::1]:{port}", 200),
    ],
)
def test_the_control_api_answers_only_requests_addressed_to_loopback(
    mock: MockServer, host: str, status: int
) -> None:
    """DNS rebinding: a web page whose name is re-pointed at 127.0.0.1 reaches the mock's port,
    but its requests carry its own name in Host."""
    for path in ("/_mock/tasks", "/_mock/ui"):
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        try:
            connection.putrequest("GET", path, skip_host=True)
            connection.putheader("Host", host.format(port=mock.port))
            connection.endheaders()
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        assert answer.status == status, (path, body)
        if status == 403:
            assert json.loads(body)["field"] == "Host"


def test_kies_own_routes_do_not_look_at_the_host(mock: MockServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    try:
        connection.putrequest("GET", "/openapi.json", skip_host=True)
        connection.putheader("Host", "kie.example")
        connection.endheaders()
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def _post(mock: MockServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


FAULT = b'{"kind": "kie", "code": 500}'


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        # what a page's fetch(…, {mode: "no-cors"}) sends: a simple request, no preflight
        ({"Origin": "https://evil.example", "Content-Type": "text/plain"}, "Origin"),
        ({"Origin": "http://localhost:6493"}, "Origin"),  # another port is another origin
        ({"Origin": "null"}, "Origin"),  # a sandboxed frame or a file:// page
        ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
        ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site"),
    ],
)
def test_a_web_page_of_another_origin_cannot_change_the_mock(
    mock: MockServer, headers: dict[str, str], field: str
) -> None:
    """CSRF: a cross-origin POST reaches 127.0.0.1 with a loopback Host; its Origin or
    Sec-Fetch-Site says where it comes from."""
    for path in ("/_mock/faults", "/_mock/reset"):
        status, body = _post(mock, path, FAULT, headers)
        assert (status, body["field"]) == (403, field), path
        assert "another origin" in body["error"]
    assert mock.faults.rules() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, requests, any test code: no Origin
        {"Content-Type": "application/x-www-form-urlencoded"},  # curl -d, as the README shows
        {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},  # the inspector
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
)
def test_test_code_and_the_inspector_may_change_the_mock(
    mock: MockServer, headers: dict[str, str]
) -> None:
    sent = {name: value.format(port=mock.port) for name, value in headers.items()}
    status, _ = _post(mock, "/_mock/faults", FAULT, sent)
    assert status == 201
    # reading is not refused to anyone the Host check lets in
    connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    try:
        connection.request("GET", "/_mock/faults", headers={"Origin": "https://evil.example"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()
