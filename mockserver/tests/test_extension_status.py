"""What a mock family extension's status route sees, and where it reads the task id.

A third party's family that maps the four words plugin-authors.md names (waiting, generating,
success, fail) serves every default lifecycle: the mock's middle stage reads "waiting", as the
market's records show it (kie-api.md §2.2 [OBS]), and "queuing" only when a test asks
(``market_queuing``). A family with its own create answer (``{"id": …}``) and status query
(``?id=``, or ``/record-info/{id}``) is served through ``poll_task(..., param=...)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer

if TYPE_CHECKING:
    from conftest import InstallFamily, Kie

# one family name per test: the mock loads an entry point once per process
FAMILY, FOUR = "mesh-words", "mesh-four"
STATUS = "/api/v1/{}/record-info"
# the four documented words only, and the mock's state as it was read
FOUR_WORDS = (
    '"queuing": "QUEUED", ',
    "",
    'return {"taskId": task.task_id, "status": status,',
    'return {"taskId": task.task_id, "status": status, "seen": task.state,',
)


def _edit(*pairs: str) -> Callable[[str], str]:
    def edit(source: str) -> str:
        for old, new in zip(pairs[::2], pairs[1::2], strict=True):
            assert old in source, old
            source = source.replace(old, new)
        return source

    return edit


def _walk(kie: Kie, family: str, key: str) -> list[Any]:
    """What four polls of a new task of ``family`` read at ``key``."""
    task_id = kie.ok(kie.post(f"/api/v1/{family}/generate", {"prompt": "a cube"}))["taskId"]
    return [kie.record(task_id, STATUS.format(family))[key] for _ in range(4)]


@pytest.mark.parametrize(
    ("config", "seen"),
    [
        (MockConfig(polls_to_complete=3), ["waiting", "waiting", "generating", "success"]),
        (
            MockConfig(polls_to_complete=3, market_queuing=True),
            ["waiting", "queuing", "generating", "success"],
        ),
    ],
    ids=["default", "market_queuing"],
)
def test_a_status_route_sees_queuing_only_when_a_test_asks(
    install_family: InstallFamily, kie_at: Any, config: MockConfig, seen: list[str]
) -> None:
    install_family(FAMILY, edit=_edit(*FOUR_WORDS[2:]))
    with MockServer(config) as mock:
        assert _walk(kie_at(mock.base_url), FAMILY, "seen") == seen


def test_a_family_mapping_the_four_documented_words_serves_a_default_lifecycle(
    install_family: InstallFamily, kie_at: Any
) -> None:
    """No KeyError on the middle stage: each poll is answered, none by the 500 of a bug."""
    install_family(FOUR, edit=_edit(*FOUR_WORDS))
    with MockServer(MockConfig(polls_to_complete=3)) as mock:
        seen = _walk(kie_at(mock.base_url), FOUR, "status")
        assert seen == ["QUEUED", "QUEUED", "MODELING", "COMPLETED"]


ANSWERS_ID = ('return ok({"taskId": task.task_id})', 'return ok({"id": task.task_id})')


@pytest.mark.parametrize(("family", "route"), [("mesh-query", ""), ("mesh-path", "/{id}")])
def test_a_family_names_its_task_id_parameter(
    install_family: InstallFamily, kie_at: Any, family: str, route: str
) -> None:
    """``param`` is the route's path variable where it has one, else a query parameter."""
    edit = _edit(
        *ANSWERS_ID,
        "@ROUTES.get(STATUS)",
        f"@ROUTES.get(STATUS + {route!r})",
        "poll_task(request, FAMILY, callback_payload)",
        "poll_task(request, FAMILY, callback_payload, param='id')",
    )
    install_family(family, edit=edit)
    status = STATUS.format(family)
    with MockServer(MockConfig(polls_to_complete=1)) as mock:
        kie: Kie = kie_at(mock.base_url)
        task_id = kie.ok(kie.post(f"/api/v1/{family}/generate", {"prompt": "a cube"}))["id"]
        asked = f"{status}/{task_id}" if route else f"{status}?id={task_id}"
        record = kie.ok(kie.get(asked))
        assert (record["taskId"], record["status"]) == (task_id, "QUEUED")
        if not route:  # the id missing: KIE's 422 naming the parameter
            refused = kie.get(f"{status}?taskId={task_id}").json()
            assert (refused["code"], refused["msg"]) == (422, "id cannot be empty")
