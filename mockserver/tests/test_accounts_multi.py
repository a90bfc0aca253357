"""Several accounts (one per API key, each with its own credits, rate limit and tasks), from
MockConfig, from Python (MockServer) and over HTTP (/_mock/accounts); and /_mock/reset."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import AccountSettings, MockConfig, MockServer, Outcome, Rule, account_id

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

T2I = "grok-imagine/text-to-image"
CREDIT = "/api/v1/chat/credit"
TWO = {"sk-alice": AccountSettings(credits=50), "sk-bob": AccountSettings(credits=5)}


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def credits(kie: Kie) -> float:
    return float(kie.ok(kie.get(CREDIT)))


def test_configured_accounts_have_their_own_credits_and_tasks(make_mock: MakeMock) -> None:
    mock, kie = make_mock(accounts=TWO)
    alice, bob = kie.as_key("sk-alice"), kie.as_key("sk-bob")
    assert (credits(alice), credits(bob)) == (50.0, 5.0)
    assert kie.get(CREDIT).json()["code"] == 401  # accounts close the mock to other keys
    market = alice.create(T2I, prompt="p")
    flux = alice.flux(prompt="p")
    assert credits(alice) < 50.0
    assert credits(bob) == 5.0
    # a key never sees another account's task: each family's "not found"
    assert bob.get(f"/api/v1/jobs/recordInfo?taskId={market}").json()["code"] == 404
    assert bob.get(f"/api/v1/flux/kontext/record-info?taskId={flux}").json()["code"] == 404
    assert alice.record(market)["state"] == "success"
    assert {t.account_id for t in mock.tasks()} == {account_id("sk-alice")}
    assert "sk-alice" not in repr(mock.config)  # the config shows account ids, not keys


def test_download_url_refuses_another_accounts_file_as_one_that_is_not_there(
    make_mock: MakeMock,
) -> None:
    _, kie = make_mock(accounts=TWO)
    alice, bob = kie.as_key("sk-alice"), kie.as_key("sk-bob")
    task = alice.create(T2I, prompt="p")
    url = json.loads(alice.record(task)["resultJson"])["resultUrls"][0]
    link = "/api/v1/common/download-url"
    assert alice.post(link, {"url": url}).json()["code"] == 200
    missing = url.rsplit("/", 1)[0] + "/99.jpg"
    wrong = {"code": 422, "msg": "url is wrong", "data": None}  # KIE's answer (§4, HAR)
    assert alice.post(link, {"url": missing}).json() == wrong
    assert bob.post(link, {"url": url}).json() == wrong


def test_api_keys_and_accounts_together(make_mock: MakeMock) -> None:
    _, kie = make_mock(api_keys=frozenset({"sk-plain"}), accounts=TWO, starting_credits=9)
    assert credits(kie.as_key("sk-plain")) == 9.0
    assert credits(kie.as_key("sk-bob")) == 5.0
    assert kie.as_key("sk-eve").get(CREDIT).json()["code"] == 401


def test_an_account_rate_limit_is_its_own(make_mock: MakeMock) -> None:
    limited = {"sk-slow": AccountSettings(max_creates_per_10s=2), "sk-fast": AccountSettings()}
    mock, kie = make_mock(accounts=limited)
    slow, fast = kie.as_key("sk-slow"), kie.as_key("sk-fast")
    body = {"model": T2I, "input": {"prompt": "p"}}
    codes = [slow.post("/api/v1/jobs/createTask", body).json()["code"] for _ in range(3)]
    assert codes == [200, 200, 429]  # kie-api.md §8: rejected, not queued
    assert [fast.post("/api/v1/jobs/createTask", body).json()["code"] for _ in range(3)] == [
        200
    ] * 3
    mock.clock.advance(10)
    assert slow.post("/api/v1/jobs/createTask", body).json()["code"] == 200
    listed = {a.account_id: a.max_creates_per_10s for a in mock.accounts()}
    assert listed[account_id("sk-slow")] == 2


def test_accounts_added_and_changed_over_http(make_mock: MakeMock) -> None:
    _, kie = make_mock(accounts=TWO)
    newcomer = kie.as_key("sk-new")
    assert newcomer.get(CREDIT).json()["code"] == 401
    made = ctl(kie, "POST", "/_mock/accounts", {"api_key": "sk-new", "credits": 7})
    assert made.status == 201
    account = made.json()["account"]
    assert account == {
        "account_id": account_id("sk-new"),
        "credits": 7,
        "max_creates_per_10s": None,
        "tasks": 0,
    }
    assert "sk-new" not in made.body.decode()
    assert credits(newcomer) == 7.0
    path = f"/_mock/accounts/{account['account_id']}"
    changed = ctl(kie, "PATCH", path, {"credits": 0.5, "max_creates_per_10s": 1})
    assert changed.status == 200
    assert credits(newcomer) == 0.5
    answer = newcomer.post("/api/v1/jobs/createTask", {"model": T2I, "input": {"prompt": "p"}})
    assert answer.json()["code"] == 402  # kie-api.md §7: credits insufficient
    assert ctl(kie, "GET", path).json()["account"]["max_creates_per_10s"] == 1
    listed = ctl(kie, "GET", "/_mock/accounts").json()["accounts"]
    assert {a["account_id"] for a in listed} == {
        account_id(k) for k in ("sk-alice", "sk-bob", "sk-new")
    }
    assert ctl(kie, "POST", "/_mock/accounts", {"api_key": "sk-new"}).status == 200  # exists


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/_mock/accounts", {"credits": 1}, 400, "api_key"),
        ("POST", "/_mock/accounts", {"api_key": "k", "credits": -1}, 400, "credits"),
        ("POST", "/_mock/accounts", {"api_key": "k", "max_creates_per_10s": 0}, 400,
         "max_creates_per_10s"),
        ("POST", "/_mock/accounts", {"api_key": "k", "key": "k"}, 400, "key"),
        ("PATCH", "/_mock/accounts/acct_nobody", {"credits": 1}, 404, "account_id"),
        ("GET", "/_mock/accounts/acct_nobody", None, 404, "account_id"),
    ],
)  # fmt: skip
def test_bad_account_requests_name_the_field(
    kie: Kie, method: str, path: str, body: Any, status: int, field: str
) -> None:
    answer = ctl(kie, method, path, body)
    assert (answer.status, answer.json()["field"]) == (status, field)


def test_accounts_from_python(make_mock: MakeMock) -> None:
    mock, kie = make_mock(accounts=TWO)
    made = mock.put_account("sk-py", AccountSettings(credits=3))
    assert made.account_id == account_id("sk-py")
    assert credits(kie.as_key("sk-py")) == 3.0
    mock.put_account("sk-bob", AccountSettings(credits=500))
    assert credits(kie.as_key("sk-bob")) == 500.0
    bob = mock.account("sk-bob")
    assert bob is not None
    assert bob.credits == 500.0
    assert mock.account("sk-unknown") is None


def test_open_mock_still_takes_any_key_and_added_accounts(mock: MockServer, kie: Kie) -> None:
    assert credits(kie.as_key("anything")) == 1000.0
    assert ctl(kie, "POST", "/_mock/accounts", {"api_key": "rich", "credits": 1e6}).status == 201
    assert credits(kie.as_key("rich")) == 1e6
    assert credits(kie.as_key("still-anything")) == 1000.0


def test_reset_forgets_tasks_rules_journal_and_account_changes(make_mock: MakeMock) -> None:
    mock, kie = make_mock(accounts=TWO)
    alice = kie.as_key("sk-alice")
    ctl(kie, "POST", "/_mock/accounts", {"api_key": "sk-new", "credits": 1})
    mock.add_rule(Rule(outcome=Outcome("fail")))
    task_id = alice.create(T2I, prompt="p")
    assert alice.record(task_id)["state"] == "fail"
    answer = ctl(kie, "POST", "/_mock/reset")
    assert (answer.status, answer.json()) == (200, {"reset": True})
    assert mock.tasks() == []
    assert mock.journal.records() == []
    assert [view.builtin for view in mock.rules()] == [True]
    assert credits(alice) == 50.0
    assert kie.as_key("sk-new").get(CREDIT).json()["code"] == 401
    assert alice.record(alice.create(T2I, prompt="p"))["state"] == "success"
    assert alice.get(f"/api/v1/jobs/recordInfo?taskId={task_id}").json()["code"] == 404
    mock.reset()  # the same from Python
    assert mock.tasks() == []


def test_account_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="credits"):
        AccountSettings(credits=-1)
    with pytest.raises(ValueError, match="max_creates_per_10s"):
        AccountSettings(max_creates_per_10s=0)
    with pytest.raises(TypeError, match="AccountSettings"):
        MockConfig(accounts={"sk": 5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="API key"):
        MockConfig(accounts={" sk": AccountSettings()})


def test_balances_carry_no_float_noise(mock: MockServer, kie: Kie) -> None:
    # §4: a real balance reads like 5916.25; 1000 less three 0.4 style boosts (§3.6) is 998.8,
    # never 998.8000000000001, in every place a balance shows
    for _ in range(3):
        boosted = kie.ok(kie.post("/api/v1/style/generate", {"content": "lofi"}))
    assert boosted["creditsRemaining"] == 998.8
    assert credits(kie) == 998.8
    body = {"model": T2I, "callBackUrl": "https://your-domain.com/cb", "input": {"prompt": "p"}}
    kie.record(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])  # 4 credits
    (callback,) = mock.callbacks()
    assert callback.payload["data"]["remainedCredits"] == 994.8
    chat = {"messages": [{"role": "user", "content": "hello there"}]}
    answer = kie.post("/gemini-2.5-flash/v1/chat/completions", chat).json()
    assert credits(kie) == round(994.8 - answer["credits_consumed"], 6)
    assert credits(kie) == float(f"{credits(kie):.6f}")  # whole to the sixth place, no noise
