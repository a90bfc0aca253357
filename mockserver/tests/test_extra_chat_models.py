"""Chat models the mock does not know, taught through MockConfig.extra_chat_models (or
``--chat-model ID=API``): answered on the API they speak as that API's own models are, so a
chat plugin's contract runs on the mock without re-implementing the chat emulation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig
from kiekit_mock.__main__ import main
from kiekit_mock.config import parse_chat_model

if TYPE_CHECKING:
    from conftest import Kie, MakeMock, MockCli

TAUGHT = {"acme-chat-1": "completions", "acme-msg-1": "messages", "acme-resp-1": "responses"}
HELLO = [{"role": "user", "content": "hello"}]
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def test_a_completions_model_is_answered_whole_streamed_and_with_tool_calls(
    make_mock: MakeMock,
) -> None:
    _, kie = make_mock(extra_chat_models=TAUGHT)
    path = "/acme-chat-1/v1/chat/completions"
    whole = kie.post(path, {"model": "acme-chat-1", "messages": HELLO}).json()
    assert whole["model"] == "acme-chat-1"
    assert whole["choices"][0]["message"]["content"] == "Echo from acme-chat-1: hello"
    assert whole["credits_consumed"] > 0
    streamed = kie.post(path, {"messages": HELLO, "stream": True})
    assert streamed.content_type.startswith("text/event-stream")
    assert streamed.body.rstrip().endswith(b"data: [DONE]")
    asked = [{"role": "user", "content": "weather? [mock:tool]"}]
    called = kie.post(path, {"messages": asked, "tools": [WEATHER]}).json()
    assert called["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    failed = kie.post(path, {"messages": [{"role": "user", "content": "x [mock:fail]"}]})
    assert failed.json()["code"] >= 400


def test_a_messages_and_a_responses_model_are_answered_on_their_apis(
    make_mock: MakeMock,
) -> None:
    _, kie = make_mock(extra_chat_models=TAUGHT)
    message = kie.post("/claude/v1/messages", {"model": "acme-msg-1", "messages": HELLO}).json()
    assert message["model"] == "acme-msg-1"
    assert message["content"][0]["text"] == "Echo from acme-msg-1: hello"
    response = kie.post("/api/v1/responses", {"model": "acme-resp-1", "input": "hello"}).json()
    assert response["model"] == "acme-resp-1"
    assert response["status"] == "completed"


def test_a_taught_model_speaks_only_its_own_api(make_mock: MakeMock) -> None:
    _, kie = make_mock(extra_chat_models=TAUGHT)
    refused = kie.post("/claude/v1/messages", {"model": "acme-chat-1", "messages": HELLO})
    assert refused.json() == {"code": 422, "msg": "model not supported", "data": None}
    assert kie.post("/acme-msg-1/v1/chat/completions", {"messages": HELLO}).status == 404
    on_codex = kie.post("/codex/v1/responses", {"model": "acme-resp-1", "input": "hi"})
    assert on_codex.json()["msg"] == "model not supported"


def test_an_untaught_chat_model_is_still_unknown(kie: Kie) -> None:
    assert kie.post("/acme-chat-1/v1/chat/completions", {"messages": HELLO}).status == 404
    refused = kie.post("/claude/v1/messages", {"model": "acme-msg-1", "messages": HELLO})
    assert refused.json()["code"] == 422


@pytest.mark.parametrize(
    "models",
    [{"acme-x": "chat"}, {"acme-x": None}, {"": "completions"}, {"acme/x": "completions"}],
)
def test_the_config_refuses_bad_chat_entries(models: Any) -> None:
    with pytest.raises(ValueError, match="extra_chat_models"):
        MockConfig(extra_chat_models=models)


def test_the_config_refuses_a_non_mapping_of_chat_models() -> None:
    with pytest.raises(TypeError, match="extra_chat_models"):
        MockConfig(extra_chat_models=[("acme-x", "completions")])  # type: ignore[arg-type]


def test_chat_model_options_parse() -> None:
    assert parse_chat_model(" acme-chat-1 = completions ") == ("acme-chat-1", "completions")
    assert parse_chat_model("acme-msg-1=messages") == ("acme-msg-1", "messages")


@pytest.mark.parametrize("text", ["acme-x", "acme-x=", "=messages", "acme/x=messages", "a=chat"])
def test_a_bad_chat_model_option_is_a_usage_error(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", "--chat-model", text])
    assert exited.value.code == 2
    assert "expected MODEL_ID=API" in capsys.readouterr().err


def test_the_command_line_serves_taught_chat_models(
    start_mock_cli: Callable[..., MockCli], kie_at: Callable[..., Kie]
) -> None:
    cli = start_mock_cli("--chat-model=acme-chat-1=completions")
    kie = kie_at(cli.base_url)
    answer = kie.post("/acme-chat-1/v1/chat/completions", {"messages": HELLO})
    assert json.loads(answer.body)["model"] == "acme-chat-1"


def test_a_config_built_by_position_as_before_keeps_each_value_in_its_field() -> None:
    """Code written before extra_chat_models gives strict_models (and what follows) by
    position: each value stays in its field (with the new field among them, a bool landed in
    extra_chat_models and was refused as not a mapping)."""
    config = MockConfig(None, 2, 0.0, 50.0, None, None, 15.0, 1.0, {}, True, True)
    assert (config.polls_to_complete, config.starting_credits) == (2, 50.0)
    assert (config.strict_models, config.market_queuing) == (True, True)
    assert dict(config.extra_chat_models) == {}
    taught = MockConfig(extra_chat_models={"acme-chat-1": "completions"}).extra_chat_models
    assert dict(taught) == {"acme-chat-1": "completions"}
