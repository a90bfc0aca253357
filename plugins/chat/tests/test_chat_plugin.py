"""kiekit-chat: the chat contract for each of KIE's three chat APIs, and the wire facts a user
of this plugin relies on (kie-api.md §5).

Answers below are shape sketches of each API's documented answer (OpenAI chat completions,
Anthropic messages plus KIE's ``credits_consumed`` [OBS], OpenAI responses), not copies.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from kiekit import ValidationError
from kiekit.chat import ChatDelta, ChatFailure, ChatReply, SseEvent, ThinkingBlock, Usage
from kiekit_chat import (
    GOOGLE_SEARCH,
    CompletionsProvider,
    MessagesProvider,
    ResponsesProvider,
)
from kiekit_contract import ChatProviderContract


def sse(*events: tuple[str | None, str]) -> bytes:
    return b"".join(
        ((f"event: {name}\n" if name else "") + f"data: {data}\n\n").encode()
        for name, data in events
    )


COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "gemini-2.5-flash",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Three lighthouses: Pharos, Eddystone."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}
COMPLETION_STREAM = sse(
    (
        None,
        '{"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2","choices":'
        '[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    ),
    (
        None,
        '{"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2","choices":'
        '[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}',
    ),
    (
        None,
        '{"id":"c1","object":"chat.completion.chunk","model":"gpt-5-2","choices":'
        '[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}',
    ),
    (None, "[DONE]"),
)
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Hello! How can I help?"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 8, "output_tokens": 7},
    "credits_consumed": 0.35,
}
MESSAGE_STREAM = sse(
    (
        "message_start",
        '{"type":"message_start","message":{"id":"msg_01","type":"message",'
        '"role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,'
        '"usage":{"input_tokens":8,"output_tokens":1}}}',
    ),
    (
        "content_block_start",
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    ("ping", '{"type":"ping"}'),
    (
        "content_block_delta",
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello!"}}',
    ),
    ("content_block_stop", '{"type":"content_block_stop","index":0}'),
    (
        "message_delta",
        '{"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":7}}',
    ),
    ("message_stop", '{"type":"message_stop"}'),
)
RESPONSE = {
    "id": "resp_01",
    "object": "response",
    "created_at": 1767225600,
    "status": "completed",
    "model": "gpt-5-5",
    "output": [
        {"type": "reasoning", "id": "rs_01", "summary": [{"type": "summary_text", "text": "Hm."}]},
        {
            "type": "message",
            "id": "msg_01",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi from Codex.", "annotations": []}],
        },
    ],
    "usage": {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9},
}
RESPONSE_STREAM = sse(
    (
        "response.created",
        '{"type":"response.created","response":{"id":"resp_01",'
        '"status":"in_progress","model":"grok-4-5","output":[]}}',
    ),
    (
        "response.output_text.delta",
        '{"type":"response.output_text.delta","item_id":"msg_01",'
        '"output_index":0,"content_index":0,"delta":"Hi"}',
    ),
    (
        "response.output_text.delta",
        '{"type":"response.output_text.delta","item_id":"msg_01",'
        '"output_index":0,"content_index":0,"delta":" there"}',
    ),
    (
        "response.completed",
        '{"type":"response.completed","response":{"id":"resp_01",'
        '"status":"completed","model":"grok-4-5","output":[{"type":"message","id":"msg_01",'
        '"role":"assistant","content":[{"type":"output_text","text":"Hi there"}]}],'
        '"usage":{"input_tokens":2,"output_tokens":2,"total_tokens":4}}}',
    ),
)


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
# The contract's tool-call tests send one function tool in each wire's own shape.
ANTHROPIC_TOOL = {"name": "get_weather", "description": "The weather", "input_schema": SCHEMA}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": SCHEMA}


class TestCompletions(ChatProviderContract):
    provider = CompletionsProvider()
    models = ("gpt-5-2", "gemini-2.5-flash", "claude-opus-4-5")  # one of each family is enough
    documented_replies: ClassVar[list[tuple[str, Any]]] = [("gemini-2.5-flash", COMPLETION)]
    documented_streams: ClassVar[list[tuple[str, bytes]]] = [("gpt-5-2", COMPLETION_STREAM)]
    refused_options: ClassVar[list[tuple[dict[str, Any], str]]] = [
        ({"response_format": {"type": "json_object"}, "tools": [GOOGLE_SEARCH]}, "response_format"),
        ({"response_format": {"type": "json_object"}, "google_search": True}, "response_format"),
    ]


class TestMessages(ChatProviderContract):
    provider = MessagesProvider()
    documented_replies: ClassVar[list[tuple[str, Any]]] = [("claude-sonnet-4-6", MESSAGE)]
    documented_streams: ClassVar[list[tuple[str, bytes]]] = [("claude-sonnet-4-6", MESSAGE_STREAM)]
    refused_options: ClassVar[list[tuple[dict[str, Any], str]]] = [
        ({"tools": [{"description": "no name"}]}, "tools[0].name"),
    ]
    example_tools = (ANTHROPIC_TOOL,)


class TestResponses(ChatProviderContract):
    provider = ResponsesProvider()
    models = ("gpt-5-5", "grok-4-3", "gpt-5-codex")  # one per endpoint
    documented_replies: ClassVar[list[tuple[str, Any]]] = [("gpt-5-5", RESPONSE)]
    documented_streams: ClassVar[list[tuple[str, bytes]]] = [("grok-4-5", RESPONSE_STREAM)]
    example_tools = (RESPONSES_TOOL,)


# -- requests ---------------------------------------------------------------------------------

IMAGE = "https://example.com/lighthouse.jpg"
WITH_IMAGE = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": IMAGE}},
        ],
    }
]


def test_completions_use_the_per_model_path_and_section_5_fields() -> None:
    provider = CompletionsProvider()
    call = provider.make_call(
        "gemini-3-pro",
        WITH_IMAGE,
        system="Be brief",
        options={"reasoning_effort": "high", "include_thoughts": True, "google_search": True},
    )
    request = provider.build_request(call, stream=True)
    assert request.method == "POST"
    assert request.path == "/gemini-3-pro/v1/chat/completions"  # no global path (§5)
    assert request.body == {
        "model": "gemini-3-pro",
        "messages": [
            {"role": "system", "content": "Be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": IMAGE}},
                ],
            },
        ],
        "stream": True,
        "reasoning_effort": "high",
        "include_thoughts": True,
        "tools": [GOOGLE_SEARCH],
    }


def test_messages_put_system_on_top_and_images_as_blocks() -> None:
    provider = MessagesProvider()
    call = provider.make_call(
        "claude-haiku-4-5",
        WITH_IMAGE,
        system="Be brief",
        options={"thinking": "true", "max_tokens": "256"},
        from_text=True,
    )
    request = provider.build_request(call, stream=False)
    assert request.path == "/claude/v1/messages"
    assert request.body == {
        "model": "claude-haiku-4-5",
        "system": "Be brief",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "url", "url": IMAGE}},
                ],
            }
        ],
        "stream": False,
        "max_tokens": 256,
        "thinkingFlag": True,
    }


def test_messages_send_data_urls_as_base64_sources() -> None:
    provider = MessagesProvider()
    message = {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}],
    }
    body = provider.build_request(provider.make_call("claude-sonnet-4-6", [message]), stream=False)
    assert body.body is not None
    source = body.body["messages"][0]["content"][0]["source"]
    assert source == {"type": "base64", "media_type": "image/png", "data": "iVBO"}


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("gpt-5-4", "/codex/v1/responses"),
        ("grok-4-5", "/grok/v1/responses"),
        ("gpt-5.4-codex", "/api/v1/responses"),
    ],
)
def test_responses_pick_the_endpoint_of_the_model(model: str, path: str) -> None:
    provider = ResponsesProvider()
    call = provider.make_call(
        model, WITH_IMAGE, system="Be brief", options={"reasoning_effort": "low"}
    )
    request = provider.build_request(call, stream=True)
    assert request.path == path
    assert request.body == {
        "model": model,
        "instructions": "Be brief",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": IMAGE},
                ],
            }
        ],
        "stream": True,
        "reasoning": {"effort": "low"},
    }


def test_options_of_another_api_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as caught:
        MessagesProvider().make_call("claude-sonnet-4-6", "hi", options={"response_format": {}})
    assert caught.value.field == "response_format"
    with pytest.raises(ValidationError) as caught:
        CompletionsProvider().make_call("gpt-5-2", "hi", options={"reasoning_effort": "max"})
    assert caught.value.field == "reasoning_effort"


def test_a_late_system_message_is_refused_for_messages() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}]
    with pytest.raises(ValidationError) as caught:
        MessagesProvider().make_call("claude-sonnet-4-6", messages)
    assert caught.value.field == "messages[1].role"


# -- answers ----------------------------------------------------------------------------------


def test_anthropic_answer_keeps_kie_credits_and_thinking() -> None:
    payload = MESSAGE | {
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "x"},
            {"type": "text", "text": "Hello!"},
        ]
    }
    reply = MessagesProvider().parse_reply("claude-sonnet-4-6", payload)
    assert reply == ChatReply(
        text="Hello!",
        model="claude-sonnet-4-6",
        usage=Usage(8, 7),
        credits=0.35,  # §5 [OBS]: KIE adds credits_consumed to Anthropic's answer
        finish_reason="end_turn",
        thinking="Let me think.",
        thinking_blocks=(ThinkingBlock("Let me think.", "x"),),  # sent back with the reply
    )


def test_responses_answer_reads_text_and_reasoning_summary() -> None:
    reply = ResponsesProvider().parse_reply("gpt-5-5", RESPONSE)
    assert isinstance(reply, ChatReply)
    assert (reply.text, reply.thinking, reply.usage) == ("Hi from Codex.", "Hm.", Usage(5, 4))


@pytest.mark.parametrize(
    ("provider", "event", "code"),
    [
        (
            CompletionsProvider(),
            SseEvent('{"error":{"message":"quota","type":"insufficient_quota","code":null}}'),
            402,
        ),
        (
            MessagesProvider(),
            SseEvent(
                '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
                event="error",
            ),
            529,
        ),
        (
            ResponsesProvider(),
            SseEvent(
                '{"type":"response.failed","response":{"status":"failed","output":[],'
                '"error":{"code":"rate_limit_exceeded","message":"slow down"}}}',
                event="response.failed",
            ),
            429,
        ),
    ],
)
def test_error_events_become_failures_with_kie_codes(
    provider: Any, event: SseEvent, code: int
) -> None:
    failure = provider.parse_event("any", event)
    assert isinstance(failure, ChatFailure)
    assert failure.code == code


def test_anthropic_usage_arrives_in_two_parts() -> None:
    provider = MessagesProvider()
    start = provider.parse_event(
        "claude-sonnet-4-6",
        SseEvent(
            '{"type":"message_start","message":{"model":"m","usage":{"input_tokens":8,"output_tokens":1}}}'
        ),
    )
    end = provider.parse_event(
        "claude-sonnet-4-6",
        SseEvent(
            '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}'
        ),
    )
    assert isinstance(start, ChatDelta)
    assert isinstance(end, ChatDelta)
    assert start.usage == Usage(input_tokens=8)  # the running output count is not the total
    assert end.usage == Usage(output_tokens=7)
    assert end.finish_reason == "end_turn"


STOPPED = {  # Anthropic's answer ended by one of the caller's stop sequences
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "one two"}],
    "stop_reason": "stop_sequence",
    "stop_sequence": "THREE",
    "usage": {"input_tokens": 3, "output_tokens": 2},
    "credits_consumed": 0.01,
}
STOPPED_EVENTS = sse(
    ("message_start", '{"type":"message_start","message":{"model":"claude-sonnet-4-6",'
     '"content":[],"usage":{"input_tokens":3,"output_tokens":1}}}'),
    ("content_block_start", '{"type":"content_block_start","index":0,'
     '"content_block":{"type":"text","text":""}}'),
    ("content_block_delta", '{"type":"content_block_delta","index":0,'
     '"delta":{"type":"text_delta","text":"one two"}}'),
    ("content_block_stop", '{"type":"content_block_stop","index":0}'),
    ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"stop_sequence",'
     '"stop_sequence":"THREE"},"usage":{"output_tokens":2}}'),
    ("message_stop", '{"type":"message_stop"}'),
)  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_the_stop_sequence_that_ended_an_anthropic_answer_is_kept(stream: bool) -> None:
    """Which of the caller's stop sequences matched is Anthropic's ``stop_sequence``: it was
    dropped (a stream keeps no ``raw``, so it was lost for good there), in an outside
    tester's run."""
    import json

    from kiekit import Client
    from kiekit.transport import HttpResponse, MockTransport

    body, kind = (
        (STOPPED_EVENTS, "text/event-stream")
        if stream
        else (json.dumps(STOPPED).encode(), "application/json")
    )
    transport = MockTransport(lambda _: HttpResponse(200, body, "OK", {"content-type": kind}))
    with Client("k", base_url="http://127.0.0.1:9", transport=transport) as kie:
        if stream:
            with kie.chat_stream("claude-sonnet-4-6", "count") as chat:
                deltas = list(chat)
            reply = chat.reply
            assert [d.stop_sequence for d in deltas if d.stop_sequence] == ["THREE"]
        else:
            reply = kie.chat("claude-sonnet-4-6", "count")
    assert reply is not None
    assert (reply.text, reply.finish_reason, reply.stop_sequence) == (
        "one two",
        "stop_sequence",
        "THREE",
    )
