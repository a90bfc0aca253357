"""What a mock shared by many CI jobs must stand (an outside tester's findings, 2026-12): any
JSON value where a model id belongs is KIE's 422 naming ``model`` (kie-api.md §1, §7), never
the mock's own HTTP 500."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Kie

HELLO = [{"role": "user", "content": "hi"}]
# every route that reads a body's `model`, with a body that is right but for it
MODEL_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/claude/v1/messages", {"messages": HELLO}),
    ("/api/v1/responses", {"input": "hi"}),
    ("/codex/v1/responses", {"input": "hi"}),
    ("/grok/v1/responses", {"input": "hi"}),
    ("/api/v1/jobs/createTask", {"input": {"prompt": "a cat"}}),
    ("/api/v1/veo/generate", {"prompt": "a cat"}),
    ("/api/v1/flux/kontext/generate", {"prompt": "a cat"}),
    (
        "/api/v1/generate",
        {"prompt": "a song", "customMode": False, "instrumental": False,
         "callBackUrl": "http://127.0.0.1:9/cb"},
    ),
]  # fmt: skip


@pytest.mark.parametrize("model", [{}, [], {"id": "x"}, ["gpt-5-codex"], 1.5, True])
@pytest.mark.parametrize(("path", "body"), MODEL_ROUTES, ids=[p for p, _ in MODEL_ROUTES])
def test_a_model_that_is_no_string_is_kies_422_naming_model(
    kie: Kie, path: str, body: dict[str, Any], model: object
) -> None:
    answer = kie.post(path, {**body, "model": model})
    assert answer.status == 200, answer.body
    refusal = answer.json()
    assert refusal["code"] == 422
    assert "model" in refusal["msg"]
