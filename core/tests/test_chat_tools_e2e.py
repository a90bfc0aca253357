"""Tool calling end to end, through ``Client`` and ``AsyncClient`` against the embedded mock
(which calls the first tool when the last user message holds ``[mock:tool]``): ask with a tool,
get a typed call, send its result, get the final text — whole and streamed, on each of KIE's
three chat wires (kie-api.md §5)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from kiekit import AsyncClient, Client
from kiekit.chat import ChatReply, ToolCall
from kiekit_mock import MockConfig, MockServer

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
TOOLS = {  # each wire's own tool shape
    "gpt-5-2": [{"type": "function", "function": {"name": "forecast", "parameters": SCHEMA}}],
    "claude-sonnet-4-6": [{"name": "forecast", "input_schema": SCHEMA}],
    "gpt-5-5": [{"type": "function", "name": "forecast", "parameters": SCHEMA}],
}
ASK = "Forecast for Oslo? [mock:tool]"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(MockConfig()) as server:
        yield server


def converse(
    client: str, base_url: str, model: str, stream: bool, **options: Any
) -> tuple[ChatReply, ChatReply]:
    """(the answer calling the tool, the answer to its result)."""
    options = {"tools": TOOLS[model], **options}

    def second_turn(first: ChatReply) -> list[Any]:
        (call,) = first.tool_calls
        return [ASK, first, call.result({"city": call.arguments["city"], "temp": 3})]

    if client == "Client":
        with Client("test-key", base_url=base_url) as kie:

            def ask(messages: Any) -> ChatReply:
                if not stream:
                    return kie.chat(model, messages, **options)
                with kie.chat_stream(model, messages, **options) as chat:
                    list(chat)
                assert chat.reply is not None
                return chat.reply

            first = ask(ASK)
            return first, ask(second_turn(first))

    async def run() -> tuple[ChatReply, ChatReply]:
        async with AsyncClient("test-key", base_url=base_url) as kie:

            async def ask(messages: Any) -> ChatReply:
                if not stream:
                    return await kie.chat(model, messages, **options)
                chat = kie.chat_stream(model, messages, **options)
                _ = [delta async for delta in chat]
                assert chat.reply is not None
                return chat.reply

            first = await ask(ASK)
            return first, await ask(second_turn(first))

    return asyncio.run(run())


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", list(TOOLS))
@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_a_tool_round_trip(mock: MockServer, client: str, model: str, stream: bool) -> None:
    first, final = converse(client, mock.base_url, model, stream)
    assert first.text == ""
    assert first.finish_reason in ("tool_calls", "tool_use", "completed")
    (call,) = first.tool_calls
    assert isinstance(call, ToolCall)
    assert (call.name, call.arguments) == ("forecast", {"city": "mock", "days": 1})
    assert final.tool_calls == ()
    assert final.text == f'Echo from {model}: tool result {{"city": "mock", "temp": 3}}'


@pytest.mark.parametrize("model", list(TOOLS))
def test_whole_and_streamed_calls_agree(mock: MockServer, model: str) -> None:
    whole, _ = converse("Client", mock.base_url, model, stream=False)
    streamed, _ = converse("AsyncClient", mock.base_url, model, stream=True)
    assert streamed.tool_calls == whole.tool_calls
    assert streamed.tool_calls[0].raw_arguments == whole.tool_calls[0].raw_arguments


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_claude_thinking_goes_back_with_the_tool_result(
    mock: MockServer, client: str, stream: bool
) -> None:
    """With thinking on, Anthropic (and the mock) refuse a tool result whose assistant turn lost
    its signed thinking block: the reply keeps it, and sends it back first."""
    first, final = converse(client, mock.base_url, "claude-sonnet-4-6", stream, thinking=True)
    (block,) = first.thinking_blocks
    assert block.text == first.thinking != ""
    assert block.signature
    assert final.text == 'Echo from claude-sonnet-4-6: tool result {"city": "mock", "temp": 3}'
