"""Tool calls on each of KIE's three chat wires: a typed call read from a whole answer and
assembled from a stream's pieces, and the round trip (the assistant's calls, the tools'
results) sent in each wire's own shape — validated before anything is sent.

Answers below are shape sketches of each API's documented tool-call answer, not copies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kiekit import Client, ProtocolError, Registry, ValidationError
from kiekit.chat import (
    ChatProvider,
    ChatReply,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolCallDelta,
)
from kiekit.transport import HttpResponse, MockTransport
from kiekit_chat import CompletionsProvider, MessagesProvider, ResponsesProvider

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = ToolCall("call_1", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}')


def sse(*events: tuple[str | None, Any]) -> bytes:
    return b"".join(
        (
            (f"event: {name}\n" if name else "")
            + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        ).encode()
        for name, data in events
    )


# -- whole answers ----------------------------------------------------------------------------

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-5-2",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}
MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "credits_consumed": 0.05,
}
RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-5",
    "output": [
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
            "status": "completed",
        }
    ],
}


def test_a_completion_tool_call_is_typed() -> None:
    reply = CompletionsProvider().parse_reply("gpt-5-2", COMPLETION)
    assert isinstance(reply, ChatReply)
    assert (reply.text, reply.finish_reason) == ("", "tool_calls")
    assert reply.tool_calls == (CALL,)
    assert reply.tool_calls[0].raw_arguments == '{"city": "Oslo"}'


def test_an_anthropic_tool_use_block_is_typed_beside_the_text() -> None:
    reply = MessagesProvider().parse_reply("claude-sonnet-4-6", MESSAGE)
    assert isinstance(reply, ChatReply)
    assert (reply.text, reply.finish_reason) == ("Let me look.", "tool_use")
    assert reply.tool_calls == (CALL,)
    assert json.loads(reply.tool_calls[0].raw_arguments) == {"city": "Oslo"}


def test_a_responses_function_call_item_is_typed_by_its_call_id() -> None:
    reply = ResponsesProvider().parse_reply("gpt-5-5", RESPONSE)
    assert isinstance(reply, ChatReply)
    assert reply.tool_calls == (CALL,)


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "3"])
def test_arguments_that_are_no_json_object_are_a_protocol_error(arguments: str) -> None:
    broken = json.loads(json.dumps(COMPLETION))
    broken["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    with pytest.raises(ProtocolError, match=r"tool_calls\[0\]\.function\.arguments"):
        CompletionsProvider().parse_reply("gpt-5-2", broken)


def test_a_tool_call_without_a_name_is_a_protocol_error() -> None:
    broken = json.loads(json.dumps(MESSAGE))
    del broken["content"][1]["name"]
    with pytest.raises(ProtocolError, match=r"content\[1\]\.name"):
        MessagesProvider().parse_reply("claude-sonnet-4-6", broken)


# -- streams ----------------------------------------------------------------------------------

COMPLETION_STREAM = sse(
    *[
        (None, {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        for delta, finish in [
            (
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                },
                None,
            ),
            ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}, None),
            ({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}, None),
            ({}, "tool_calls"),
        ]
    ],
    (None, "[DONE]"),
)
MESSAGE_STREAM = sse(
    (
        "message_start",
        {
            "type": "message_start",
            "message": {"model": "claude-sonnet-4-6", "usage": {"input_tokens": 9}},
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": "call_1",
                "name": "get_weather",
                "input": {},
            },
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
    ),
    ("message_stop", {"type": "message_stop"}),
)
RESPONSE_STREAM = sse(
    (
        "response.output_item.added",
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "",
            },
        },
    ),
    *[
        (
            "response.function_call_arguments.delta",
            {
                "type": "response.function_call_arguments.delta",
                "item_id": "fc_1",
                "output_index": 0,
                "delta": piece,
            },
        )
        for piece in ('{"city": ', '"Oslo"}')
    ],
    ("response.completed", {"type": "response.completed", "response": RESPONSE}),
)
STREAMS = [
    (CompletionsProvider(), "gpt-5-2", COMPLETION_STREAM, "tool_calls"),
    (MessagesProvider(), "claude-sonnet-4-6", MESSAGE_STREAM, "tool_use"),
    (ResponsesProvider(), "gpt-5-5", RESPONSE_STREAM, "completed"),
]


def streamed(provider: ChatProvider, model: str, body: bytes) -> tuple[Any, list[Any]]:
    registry = Registry(discover=False)
    registry.add_provider(provider)
    transport = MockTransport(
        lambda _: HttpResponse(200, body, "OK", {"content-type": "text/event-stream"})
    )
    with (
        Client("k", base_url="http://127.0.0.1:9", transport=transport, registry=registry) as kie,
        kie.chat_stream(model, "Weather in Oslo?") as chat,
    ):
        deltas = list(chat)
    return chat.reply, deltas


@pytest.mark.parametrize(("provider", "model", "body", "finish"), STREAMS)
def test_a_streamed_tool_call_is_assembled_from_its_pieces(
    provider: ChatProvider, model: str, body: bytes, finish: str
) -> None:
    reply, deltas = streamed(provider, model, body)
    assert reply.tool_calls == (CALL,)
    assert reply.finish_reason == finish
    pieces = [piece for delta in deltas for piece in delta.tool_calls]
    assert pieces[0] == ToolCallDelta(pieces[0].index, "call_1", "get_weather", "")
    assert "".join(p.arguments for p in pieces) == '{"city": "Oslo"}'


def test_a_stream_whose_arguments_do_not_add_up_is_a_protocol_error() -> None:
    cut = MESSAGE_STREAM.replace(b'"Oslo\\"}', b'"Oslo')
    with pytest.raises(ProtocolError, match="not JSON"):
        streamed(MessagesProvider(), "claude-sonnet-4-6", cut)


# -- the round trip -----------------------------------------------------------------------------

REPLY = ChatReply("", "m", tool_calls=(CALL,))
ROUND_TRIP: list[Any] = ["Weather in Oslo?", REPLY, CALL.result({"temp": 3})]


def test_completions_send_the_calls_and_a_tool_message() -> None:
    provider = CompletionsProvider()
    call = provider.make_call("gpt-5-2", ROUND_TRIP, options={"tools": [WEATHER]})
    body = provider.build_request(call, stream=False).body
    assert body is not None
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
    ]


def test_messages_send_tool_use_and_one_user_message_of_results() -> None:
    second = ToolCall("call_2", "get_weather", {"city": "Bergen"})
    reply = ChatReply("Let me look.", "m", tool_calls=(CALL, second))
    provider = MessagesProvider()
    call = provider.make_call(
        "claude-sonnet-4-6",
        ["Weather?", reply, CALL.result("3C"), second.result("9C")],
        system="Be brief",
    )
    body = provider.build_request(call, stream=False).body
    assert body is not None
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"city": "Bergen"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "3C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "9C"},
            ],
        },
    ]


def test_responses_send_function_call_items_and_their_output() -> None:
    provider = ResponsesProvider()
    call = provider.make_call("gpt-5-5", ROUND_TRIP)
    body = provider.build_request(call, stream=False).body
    assert body is not None
    assert body["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 3}'},
    ]


# Each wire's own JSON for the round trip reads as the same neutral messages.
NEUTRAL = (
    Message("user", "Weather in Oslo?"),
    Message("assistant", "", tool_calls=(CALL,)),
    Message("tool", "3C", tool_call_id="call_1"),
)
WIRE_ROUND_TRIPS: dict[str, list[Any]] = {
    "openai": [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": COMPLETION["choices"][0]["message"]["tool_calls"],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "3C"},
    ],
    "anthropic": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": [MESSAGE["content"][1]]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "content": [{"type": "text", "text": "3C"}],
                }
            ],
        },
    ],
    "responses": [
        {"role": "user", "content": "Weather in Oslo?"},
        RESPONSE["output"][0],
        {"type": "function_call_output", "call_id": "call_1", "output": "3C"},
    ],
}


@pytest.mark.parametrize("wire", WIRE_ROUND_TRIPS)
def test_each_wires_own_round_trip_reads_as_neutral_messages(wire: str) -> None:
    call = CompletionsProvider().make_call("gpt-5-2", WIRE_ROUND_TRIPS[wire])
    assert call.messages == NEUTRAL


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        (["hi", {"role": "tool", "content": "3C"}], "messages[1].tool_call_id"),
        (
            ["hi", REPLY, {"role": "tool", "tool_call_id": "call_9", "content": "3C"}],
            "messages[2].tool_call_id",
        ),
        (["hi", CALL.result("3C")], "messages[1].tool_call_id"),  # no call before it
        (
            [
                "hi",
                {
                    "role": "user",
                    "content": None,
                    "tool_calls": COMPLETION["choices"][0]["message"]["tool_calls"],
                },
            ],
            "messages[1].tool_calls",
        ),
        (
            [
                "hi",
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"arguments": "{}"}}
                    ],
                },
            ],
            "messages[1].tool_calls[0].function.name",
        ),
        (
            [
                "hi",
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{oops"},
                        }
                    ],
                },
            ],
            "messages[1].tool_calls[0].function.arguments",
        ),
        (["hi", {"role": "assistant", "content": None}], "messages[1].content"),
        (
            [
                "hi",
                {
                    "role": "assistant",
                    "content": [{"type": "tool_result", "tool_use_id": "x", "content": "1"}],
                },
            ],
            "messages[1].content",
        ),
        (
            [
                "hi",
                {
                    "role": "user",
                    "content": [{"type": "tool_use", "id": "x", "name": "f", "input": {}}],
                },
            ],
            "messages[1].content[0]",
        ),
        (["hi", {"type": "function_call_output", "output": "3C"}], "messages[1].call_id"),
    ],
)
def test_a_bad_tool_turn_is_refused_naming_the_field(messages: list[Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CompletionsProvider().make_call("gpt-5-2", messages)
    assert caught.value.field == field


def test_consecutive_function_call_items_are_one_assistant_turn() -> None:
    second = {**RESPONSE["output"][0], "call_id": "call_2"}
    given: list[Any] = ["hi", RESPONSE["output"][0], second]
    call = ResponsesProvider().make_call("gpt-5-5", given)
    assert [m.role for m in call.messages] == ["user", "assistant"]
    assert [c.id for c in call.messages[1].tool_calls] == ["call_1", "call_2"]


# -- Claude's thinking, kept and sent back --------------------------------------------------------
# With extended thinking and tools, Anthropic refuses the tool results unless the assistant turn
# of the calls starts with its thinking blocks, complete and unmodified (signature included):
# platform.claude.com/docs/build-with-claude/thinking-tool-workflows

THOUGHT = {"type": "thinking", "thinking": "Oslo: look it up.", "signature": "sig-1"}
REDACTED = {"type": "redacted_thinking", "data": "opaque-1"}
TOOL_USE = {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}


def block_events(index: int, start: dict[str, Any], *deltas: dict[str, Any]) -> list[Any]:
    """One content block of an Anthropic stream: its start, its deltas, its stop."""
    return [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        ),
        *[
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


THINKING_STREAM = sse(
    ("message_start", {"type": "message_start", "message": {"model": "claude-sonnet-4-6"}}),
    *block_events(
        0,
        {"type": "thinking", "thinking": ""},
        {"type": "thinking_delta", "thinking": "Oslo: "},
        {"type": "thinking_delta", "thinking": "look it up."},
        {"type": "signature_delta", "signature": "sig-1"},
    ),
    *block_events(1, REDACTED),
    *block_events(
        2,
        TOOL_USE | {"input": {}},
        {"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'},
    ),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}),
    ("message_stop", {"type": "message_stop"}),
)


def sent_back(reply: ChatReply | dict[str, Any]) -> list[Any]:
    """The messages a Claude call sends after ``reply``'s tool call and its result."""
    provider = MessagesProvider()
    call = provider.make_call(
        "claude-sonnet-4-6", ["Weather in Oslo?", reply, CALL.result("3C")], options={}
    )
    body = provider.build_request(call, stream=False).body
    assert body is not None
    return list(body["messages"][1:])


def test_a_replys_thinking_blocks_go_back_first_with_their_signatures() -> None:
    payload = MESSAGE | {"content": [THOUGHT, REDACTED, TOOL_USE]}
    reply = MessagesProvider().parse_reply("claude-sonnet-4-6", payload)
    assert isinstance(reply, ChatReply)
    assert reply.thinking == "Oslo: look it up."
    assert reply.thinking_blocks == (
        ThinkingBlock("Oslo: look it up.", "sig-1"),
        ThinkingBlock(redacted="opaque-1"),
    )
    assert sent_back(reply)[0] == {"role": "assistant", "content": [THOUGHT, REDACTED, TOOL_USE]}


def test_a_streamed_replys_thinking_keeps_its_signature_delta() -> None:
    reply, deltas = streamed(MessagesProvider(), "claude-sonnet-4-6", THINKING_STREAM)
    assert "".join(delta.thinking for delta in deltas) == "Oslo: look it up."
    assert reply.tool_calls == (CALL,)
    assert reply.thinking_blocks == (
        ThinkingBlock("Oslo: look it up.", "sig-1"),
        ThinkingBlock(redacted="opaque-1"),
    )
    assert sent_back(reply)[0] == {"role": "assistant", "content": [THOUGHT, REDACTED, TOOL_USE]}


def test_anthropics_own_assistant_json_is_taken_and_sent_back_as_it_came() -> None:
    """The plugin README: "Each API's own JSON for these turns is accepted too"."""
    turn = {"role": "assistant", "content": [THOUGHT, REDACTED, TOOL_USE]}
    assert sent_back(turn)[0] == turn


def test_thinking_blocks_belong_to_an_assistant_turn() -> None:
    with pytest.raises(ValidationError) as caught:
        MessagesProvider().make_call(
            "claude-sonnet-4-6", [{"role": "user", "content": [THOUGHT, TOOL_USE]}]
        )
    assert caught.value.field == "messages[0].content[0]"
    with pytest.raises(ValidationError) as caught:
        MessagesProvider().make_call(
            "claude-sonnet-4-6",
            ["hi", {"role": "assistant", "content": [{"type": "redacted_thinking"}, TOOL_USE]}],
        )
    assert caught.value.field == "messages[1].content[0].data"


def test_the_other_wires_leave_claudes_thinking_blocks_out() -> None:
    """Anthropic's signed blocks mean nothing to OpenAI's wires: not sent there."""
    reply = ChatReply("", "m", tool_calls=(CALL,), thinking_blocks=(ThinkingBlock("x", "s"),))
    for provider, model in ((CompletionsProvider(), "gpt-5-2"), (ResponsesProvider(), "gpt-5-5")):
        call = provider.make_call(model, ["Weather in Oslo?", reply, CALL.result("3C")])
        assert "sig" not in json.dumps(provider.build_request(call, stream=False).body)
        assert '"s"' not in json.dumps(provider.build_request(call, stream=False).body)


# -- each API's own tool shape -----------------------------------------------------------------
# A tool in another API's shape is never called (OpenAI refuses a Responses tool without
# `function`, Responses one without a top-level `name`, Anthropic a `type` it lacks): refused
# before a paid call, naming the tool and the shape the model's API wants.

PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}}
SHAPES = {
    "completions": WEATHER,
    "responses": {"type": "function", "name": "get_weather", "parameters": PARAMETERS},
    "messages": {"name": "get_weather", "input_schema": PARAMETERS},
}
MODELS = {"completions": "gpt-5-2", "responses": "gpt-5-5", "messages": "claude-sonnet-4-6"}
PROVIDERS = {
    "completions": CompletionsProvider(),
    "responses": ResponsesProvider(),
    "messages": MessagesProvider(),
}
SAID = {
    "completions": "a chat-completions tool",
    "responses": "a Responses tool",
    "messages": "an Anthropic tool",
}


@pytest.mark.parametrize("wire", list(MODELS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_tool_in_another_apis_shape_is_refused_naming_it(wire: str, shape: str) -> None:
    provider, model = PROVIDERS[wire], MODELS[wire]
    tools = [SHAPES[wire], SHAPES[shape]]
    if shape == wire:
        provider.make_call(model, "hi", options={"tools": tools})
        return
    with pytest.raises(ValidationError) as caught:
        provider.make_call(model, "hi", options={"tools": tools})
    assert caught.value.field == "tools[1]"
    assert SAID[shape] in str(caught.value)


@pytest.mark.parametrize(
    ("wire", "tool", "field"),
    [
        ("completions", {"type": "function", "function": {"name": " "}}, "tools[0].function.name"),
        ("responses", {"name": "get_weather"}, "tools[0]"),  # no type
        ("messages", {"name": "get_weather"}, "tools[0].input_schema"),
        ("messages", {"input_schema": PARAMETERS}, "tools[0].name"),
    ],
)
def test_a_tool_missing_what_its_api_needs_is_refused(
    wire: str, tool: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PROVIDERS[wire].make_call(MODELS[wire], "hi", options={"tools": [tool]})
    assert caught.value.field == field


def test_the_apis_own_tools_pass_as_given() -> None:
    """Responses' built-in tools and Anthropic's dated server tools are not the caller's."""
    ResponsesProvider().make_call("gpt-5-5", "hi", options={"tools": [{"type": "web_search"}]})
    server = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    MessagesProvider().make_call("claude-sonnet-4-6", "hi", options={"tools": [server]})


# -- a failed call's result --------------------------------------------------------------------


def failed_round_trip(provider: ChatProvider, model: str) -> Any:
    call = provider.make_call(model, ["Weather?", REPLY, CALL.result("no such city", error=True)])
    body = provider.build_request(call, stream=False).body
    assert body is not None
    return body


def test_a_failed_calls_result_is_flagged_on_each_wire() -> None:
    """Anthropic has ``is_error``; OpenAI's two wires have no flag: the text says it."""
    claude = failed_round_trip(MessagesProvider(), "claude-sonnet-4-6")
    assert claude["messages"][-1]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "call_1",
            "content": "no such city",
            "is_error": True,
        }
    ]
    completion = failed_round_trip(CompletionsProvider(), "gpt-5-2")
    assert completion["messages"][-1]["content"] == "Error: no such city"
    response = failed_round_trip(ResponsesProvider(), "gpt-5-5")
    assert response["input"][-1]["output"] == "Error: no such city"
    fine = MessagesProvider().make_call("claude-sonnet-4-6", ROUND_TRIP)
    sent = MessagesProvider().build_request(fine, stream=False).body
    assert sent is not None
    assert "is_error" not in sent["messages"][-1]["content"][0]  # only when it failed


def test_anthropics_own_is_error_is_kept() -> None:
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": "call_1",
        "content": "boom",
        "is_error": True,
    }
    messages: list[Any] = ["Weather?", REPLY, {"role": "user", "content": [result]}]
    provider = MessagesProvider()
    body = provider.build_request(provider.make_call("claude-sonnet-4-6", messages), stream=False)
    assert body.body is not None
    assert body.body["messages"][-1]["content"] == [result]
    with pytest.raises(ValidationError) as caught:
        provider.make_call(
            "claude-sonnet-4-6",
            ["Weather?", REPLY, {"role": "user", "content": [result | {"is_error": "yes"}]}],
        )
    assert caught.value.field == "messages[2].content[0].is_error"
