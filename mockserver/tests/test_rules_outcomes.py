"""Outcome and lifecycle rules for new tasks, from Python (MockServer) and over HTTP (/_mock/)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import FAIL_MARKER, Lifecycle, MockServer, Outcome, Rule, account_id
from kiekit_mock.controlwire import ControlError

if TYPE_CHECKING:
    from conftest import Answer, Kie

T2I = "grok-imagine/text-to-image"
I2I = "grok-imagine/image-to-image"
IMAGE = "https://example.com/a.png"


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def ends(kie: Kie, task_id: str) -> str:
    return str(kie.record(task_id)["state"])


def test_model_glob_and_exact_id(mock: MockServer, kie: Kie) -> None:
    mock.add_rule(Rule(outcome=Outcome("fail"), model="grok-imagine/*-to-image", times=1))
    mock.add_rule(Rule(outcome=Outcome("moderation"), model=I2I))
    first = kie.create(T2I, prompt="a")
    second = kie.create(T2I, prompt="b")  # the glob rule was one-shot
    third = kie.create(I2I, prompt="c", image_urls=[IMAGE])
    assert [ends(kie, t) for t in (first, second, third)] == ["fail", "success", "fail"]
    assert kie.record(third)["failCode"] == "422"  # the market's moderation shape
    views = mock.rules()
    assert [(v.applied, v.remaining) for v in views[:2]] == [(1, 0), (1, None)]


def test_prompt_substring_and_regex_over_http(kie: Kie) -> None:
    answer = ctl(kie, "POST", "/_mock/rules", {"prompt_contains": "nsfw", "outcome": "moderation"})
    assert answer.status == 201
    rule = {"prompt_regex": r"^slow\b", "lifecycle": {"polls": 2}}
    assert ctl(kie, "POST", "/_mock/rules", rule).status == 201
    flagged = kie.flux(prompt="an nsfw picture")
    slow = kie.flux(prompt="slow fox")
    quick = kie.flux(prompt="not slow")
    assert kie.flux_record(flagged)["errorCode"] == 400  # Flux: prompt flagged (§3.2)
    assert [kie.flux_record(slow)["successFlag"] for _ in range(3)] == [0, 0, 1]
    assert kie.flux_record(quick)["successFlag"] == 1


def test_family_and_account_matchers(mock: MockServer, kie: Kie) -> None:
    mock.add_rule(Rule(outcome=Outcome("fail", code=501), family="flux-kontext"))
    body = {"api_key": "unlucky", "outcome": {"kind": "fail", "code": 500, "msg": "boom"}}
    added = ctl(kie, "POST", "/_mock/rules", body).json()["rule"]
    assert added["account_id"] == account_id("unlucky")
    assert "unlucky" not in json.dumps(ctl(kie, "GET", "/_mock/rules").json())
    flux = kie.flux(prompt="p")
    mine = kie.create(T2I, prompt="p")
    theirs = kie.as_key("unlucky").create(T2I, prompt="p")
    assert kie.flux_record(flux)["errorCode"] == 501
    assert ends(kie, mine) == "success"
    record = kie.as_key("unlucky").record(theirs)
    assert (record["failCode"], record["failMsg"]) == ("500", "boom")


def test_first_matching_rule_wins_per_aspect(mock: MockServer, kie: Kie) -> None:
    mock.add_rule(Rule(outcome=Outcome("moderation"), prompt_contains="x"))
    mock.add_rule(Rule(outcome=Outcome("fail"), lifecycle=Lifecycle(polls=1)))
    task_id = kie.create(T2I, prompt="x")
    task = mock.task(task_id)
    assert task.outcome.kind == "moderation"  # from the first rule
    assert task.lifecycle == Lifecycle(polls=1)  # the second still gives what the first lacks
    assert [ends(kie, task_id) for _ in range(2)] == ["waiting", "fail"]


def test_probability_with_a_seed_is_reproducible(make_mock: Any) -> None:
    def run() -> list[str]:
        mock, kie = make_mock()
        mock.add_rule(Rule(outcome=Outcome("fail"), probability=0.5, seed=1234))
        return [ends(kie, kie.create(T2I, prompt=str(i))) for i in range(16)]

    first, second = run(), run()
    assert first == second
    assert {"fail", "success"} == set(first)  # 16 draws at 0.5: both happen


def test_a_probability_rule_over_http_is_reproducible_too(make_mock: Any) -> None:
    def run() -> list[int]:
        _, kie = make_mock()
        rule = {"outcome": "fail", "probability": 0.3, "seed": 7, "family": "flux-kontext"}
        assert ctl(kie, "POST", "/_mock/rules", rule).status == 201
        return [kie.flux_record(kie.flux(prompt="p"))["successFlag"] for _ in range(12)]

    assert run() == run()


def test_the_fail_marker_is_a_builtin_rule(mock: MockServer, kie: Kie) -> None:
    builtin = mock.rules()[-1]
    assert builtin.builtin
    assert builtin.rule.prompt_contains == FAIL_MARKER
    mock.add_rule(Rule(outcome=Outcome("success"), prompt_contains="keep"))
    saved = kie.create(T2I, prompt=f"keep {FAIL_MARKER}")  # a user rule comes first
    failed = kie.create(T2I, prompt=f"x {FAIL_MARKER}")
    assert [ends(kie, saved), ends(kie, failed)] == ["success", "fail"]
    listed = ctl(kie, "DELETE", "/_mock/rules").json()["rules"]
    assert [r["builtin"] for r in listed] == [True]  # clearing keeps the marker
    assert ends(kie, kie.create(T2I, prompt=f"keep {FAIL_MARKER}")) == "fail"


def test_rules_listed_and_removed_over_http(kie: Kie) -> None:
    rule = {"model": "kling-*", "outcome": {"kind": "fail"}, "times": 2}
    added = ctl(kie, "POST", "/_mock/rules", rule).json()["rule"]
    assert added | {"id": 0} == {
        "id": 0,
        "applied": 0,
        "remaining": 2,
        "builtin": False,
        "outcome": {"kind": "fail", "code": None, "msg": None},
        "lifecycle": None,
        "model": "kling-*",
        "family": None,
        "prompt_contains": None,
        "prompt_regex": None,
        "account_id": None,
        "probability": None,
        "seed": None,
        "times": 2,
    }
    assert ctl(kie, "DELETE", f"/_mock/rules/{added['id']}").status == 200
    assert ctl(kie, "DELETE", f"/_mock/rules/{added['id']}").status == 404
    assert [r["builtin"] for r in ctl(kie, "GET", "/_mock/rules").json()["rules"]] == [True]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"model": "x"}, "outcome"),  # neither outcome nor lifecycle
        ({"outcome": "explode"}, "outcome.kind"),
        ({"outcome": "fail", "probability": 1.5}, "probability"),
        ({"outcome": "fail", "times": 0}, "times"),
        ({"outcome": "fail", "prompt_regex": "("}, "prompt_regex"),
        ({"outcome": "fail", "lifecycle": {"seconds": "soon"}}, "lifecycle.seconds"),
        ({"outcome": "fail", "modle": "x"}, "rule.modle"),
        ({"outcome": "fail", "api_key": "k", "account_id": "acct_1"}, "api_key"),
        # a misspelt family would never match: refused as the tasks filter refuses it
        ({"outcome": "fail", "family": "flux_kontext"}, "family"),
        ({"outcome": {"kind": "fail", "code": 200}}, "outcome.code"),
        ({"lifecycle": {"mode": "manual", "polls": 2}}, "lifecycle.polls"),
        ({"lifecycle": {"manual": True, "seconds": 5}}, "lifecycle.seconds"),
    ],
)
def test_a_bad_rule_is_400_naming_the_field(kie: Kie, rule: Any, field: str) -> None:
    answer = ctl(kie, "POST", "/_mock/rules", rule)
    assert (answer.status, answer.json()["field"]) == (400, field)


def test_a_bad_rule_from_python_names_the_field() -> None:
    with pytest.raises(ControlError, match="probability") as caught:
        Rule(outcome=Outcome("fail"), probability=-0.1)
    assert caught.value.field == "probability"
    with pytest.raises(ControlError, match="code"):
        Outcome("success", code=500)
    for code in (200, 0, 600):  # as a "kie" fault's code: a KIE error code
        with pytest.raises(ControlError, match=r"KIE error code \(400-599\)"):
            Outcome("fail", code=code)


def test_configured_rules_come_first_and_come_back_on_reset(make_mock: Any) -> None:
    slow = Rule(lifecycle=Lifecycle(polls=1), family="flux-kontext")
    mock, kie = make_mock(rules=(slow,))
    assert mock.rules()[0].rule == slow
    assert kie.flux_record(kie.flux(prompt="p"))["successFlag"] == 0
    ctl(kie, "DELETE", "/_mock/rules")
    assert kie.flux_record(kie.flux(prompt="p"))["successFlag"] == 1
    ctl(kie, "POST", "/_mock/reset")
    assert [view.rule for view in mock.rules()] == [slow, mock.rules()[-1].rule]
    assert kie.flux_record(kie.flux(prompt="p"))["successFlag"] == 0


def test_a_rule_for_an_extension_family_is_accepted(kie: Kie) -> None:
    answer = ctl(kie, "POST", "/_mock/rules", {"outcome": "fail", "family": "luma"})
    assert (answer.status, answer.json()["rule"]["family"]) == (201, "luma")
    refused = ctl(kie, "POST", "/_mock/rules", {"outcome": "fail", "family": "zzz"})
    assert "luma" in refused.json()["error"]  # the message lists the families it knows


def test_a_rule_made_in_python_for_an_unknown_family_is_refused(make_mock: Any) -> None:
    mock, _ = make_mock()
    with pytest.raises(ControlError, match="flux-kontext") as caught:  # the choices are listed
        mock.add_rule(Rule(outcome=Outcome("fail"), family="flux_kontext"))
    assert caught.value.field == "family"
    assert [view.rule.family for view in mock.rules()] == [None]  # only the built-in rule
    with pytest.raises(ControlError, match="family"):
        make_mock(rules=(Rule(outcome=Outcome("fail"), family="lumaa"),))
