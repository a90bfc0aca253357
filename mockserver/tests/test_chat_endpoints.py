"""The chat endpoints (kie-api.md §5): three wire shapes, answers derived from the messages,
event streams when asked, credits charged per call, KIE's envelope for refusals."""

from __future__ import annotations

import http.client
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from kiekit_mock import MockServer

    from conftest import Kie, MakeMock

CREDIT = "/api/v1/chat/credit"
HELLO = [{"role": "user", "content": "hello   there"}]


def events(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, data) of each event; data read as JSON unless it is [DONE]."""
    found = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        text = "\n".join(data)
        found.append((name, text if text == "[DONE]" else json.loads(text)))
    return found


# -- OpenAI-compatible chat completions on per-model paths ---------------------------------


def test_completion_answers_from_the_messages_and_charges(kie: Kie) -> None:
    before = kie.ok(kie.get(CREDIT))
    answer = kie.post("/gemini-2.5-flash/v1/chat/completions", {"messages": HELLO})
    assert answer.status == 200
    body = answer.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gemini-2.5-flash"
    choice = body["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "Echo from gemini-2.5-flash: hello there",
    }
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert kie.ok(kie.get(CREDIT)) == pytest.approx(before - body["credits_consumed"])
    assert body["credits_consumed"] > 0


def test_completion_stream_is_openai_chunks_then_done(kie: Kie) -> None:
    whole = kie.post("/gpt-5-2/v1/chat/completions", {"messages": HELLO}).json()
    answer = kie.post("/gpt-5-2/v1/chat/completions", {"messages": HELLO, "stream": True})
    assert answer.content_type.startswith("text/event-stream")
    found = events(answer.body)
    assert found[-1] == (None, "[DONE]")
    chunks = [data for _, data in found[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == whole["usage"]


def test_completion_thoughts_images_and_json_format(kie: Kie) -> None:
    content = [
        {"type": "text", "text": "what is it"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    body = {
        "messages": [{"role": "user", "content": content}],
        "include_thoughts": True,
        "response_format": {"type": "json_object"},
    }
    message = kie.post("/gemini-3-pro/v1/chat/completions", body).json()["choices"][0]["message"]
    assert json.loads(message["content"]) == {"answer": "what is it (and 1 image)"}
    assert message["reasoning_content"]


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"messages": []}, "messages cannot be empty"),
        ({}, "messages cannot be empty"),
        ({"messages": "bad"}, "messages must be a list"),  # not "empty": what is wrong
        ({"messages": {"role": "user"}}, "messages must be a list"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": HELLO, "reasoning_effort": "max"}, "reasoning_effort"),
        (
            {
                "messages": HELLO,
                "tools": [{"type": "function", "function": {"name": "googleSearch"}}],
                "response_format": {"type": "json_object"},
            },
            "response_format cannot be used together with tools",
        ),
        ({"messages": HELLO, "stream": "yes"}, "stream must be a boolean"),
    ],
)
def test_completion_validation_is_422_naming_the_field(kie: Kie, body: Any, msg: str) -> None:
    before = kie.ok(kie.get(CREDIT))
    answer = kie.post("/gemini-3-flash/v1/chat/completions", body)
    assert answer.status == 200
    assert answer.json()["code"] == 422
    assert msg in answer.json()["msg"]
    assert kie.ok(kie.get(CREDIT)) == before


def test_claude_messages_not_a_list_is_refused_saying_so(kie: Kie) -> None:
    answer = kie.post("/claude/v1/messages", {"model": "claude-sonnet-4-6", "messages": "hi"})
    assert (answer.json()["code"], answer.json()["msg"]) == (
        422,
        "messages must be a list of messages",
    )


@pytest.mark.parametrize("stream", [False, True])
def test_a_body_naming_another_model_than_the_path_is_answered_as_the_path_and_warned(
    mock: MockServer, kie: Kie, stream: bool
) -> None:
    """kie-api.md §5: the path names the model; KIE documents nothing for a body's other
    `model`. The mock answers as the path's model and says so in its warning header, which
    the journal keeps; the same model, or none, is not warned of."""
    path = "/gpt-5-2/v1/chat/completions"
    body = {"model": "gemini-3-pro", "messages": HELLO, "stream": stream}
    answer = kie.post(path, body)
    assert answer.status == 200
    warning = answer.headers["x-kiekit-mock-warning"]
    assert "gemini-3-pro" in warning
    assert "gpt-5-2" in warning
    assert b"gpt-5-2" in answer.body
    if not stream:  # a stream is journaled once its handler returns, maybe after its reader
        (record,) = [r for r in mock.requests() if r.path == path]
        assert record.answer is not None
        assert record.answer.headers["X-Kiekit-Mock-Warning"] == warning
    same = kie.post(path, {"model": "gpt-5-2", "messages": HELLO, "stream": stream})
    assert "x-kiekit-mock-warning" not in same.headers


def test_unknown_model_path_is_a_real_404(kie: Kie) -> None:
    assert kie.post("/gpt-0/v1/chat/completions", {"messages": HELLO}).status == 404


# -- Anthropic messages -------------------------------------------------------------------------


def test_claude_answer_is_anthropic_shaped_with_credits(kie: Kie) -> None:
    body = {"model": "claude-sonnet-4-6", "system": "be kind", "messages": HELLO}
    answer = kie.post("/claude/v1/messages", body).json()
    assert answer["type"] == "message"
    assert answer["content"] == [
        {"type": "text", "text": "Echo from claude-sonnet-4-6: hello there"}
    ]
    assert answer["stop_reason"] == "end_turn"
    assert "stop_sequence" not in answer  # as KIE's recorded answer (§5 [OBS])
    assert set(answer["usage"]) == {"input_tokens", "output_tokens"}
    assert answer["credits_consumed"] > 0  # §5 [OBS]


def test_claude_stream_has_anthropic_event_types(kie: Kie) -> None:
    body = {"model": "claude-haiku-4-5", "messages": HELLO, "stream": True, "thinkingFlag": True}
    found = events(kie.post("/claude/v1/messages", body).body)
    names = [name for name, _ in found]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in found)
    deltas = [d["delta"] for n, d in found if n == "content_block_delta"]
    assert deltas[0]["type"] == "thinking_delta"
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    assert text == "Echo from claude-haiku-4-5: hello there"
    assert found[-2][1]["usage"]["output_tokens"] > 0


def test_claude_tools_of_ones_own_need_an_input_schema(kie: Kie) -> None:
    def ask(*tools: dict[str, Any]) -> Any:
        body = {"model": "claude-sonnet-4-6", "messages": HELLO, "tools": list(tools)}
        return kie.post("/claude/v1/messages", body).json()

    weather = {"name": "weather", "input_schema": {"type": "object"}}
    assert ask(weather)["type"] == "message"
    assert ask({"type": "web_search_20250305", "name": "web_search"})["type"] == "message"
    refused = ask(weather, {"name": "weather"})
    assert refused == {"code": 422, "msg": "tools[1].input_schema cannot be empty", "data": None}


def test_claude_unknown_model_is_422(kie: Kie) -> None:
    answer = kie.post("/claude/v1/messages", {"model": "claude-9", "messages": HELLO}).json()
    assert answer == {"code": 422, "msg": "model not supported", "data": None}


# -- OpenAI responses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/codex/v1/responses", "gpt-5-5"),
        ("/grok/v1/responses", "grok-4-3"),
        ("/api/v1/responses", "gpt-5-codex"),
    ],
)
def test_responses_whole_and_streamed_agree(kie: Kie, path: str, model: str) -> None:
    body = {"model": model, "input": "hello there", "instructions": "be kind"}
    whole = kie.post(path, body).json()
    assert whole["status"] == "completed"
    text = whole["output"][0]["content"][0]["text"]
    assert text == f"Echo from {model}: hello there"
    found = events(kie.post(path, body | {"stream": True}).body)
    assert found[0][0] == "response.created"
    assert found[-1][0] == "response.completed"
    deltas = "".join(d["delta"] for n, d in found if n == "response.output_text.delta")
    assert deltas == text
    assert found[-1][1]["response"]["usage"] == whole["usage"]


def test_responses_model_must_belong_to_the_endpoint(kie: Kie) -> None:
    answer = kie.post("/grok/v1/responses", {"model": "gpt-5-5", "input": "hi"}).json()
    assert answer["code"] == 422


# -- accounts, failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/gpt-5-2/v1/chat/completions", {"messages": HELLO}),
        ("/claude/v1/messages", {"model": "claude-haiku-4-5", "messages": HELLO}),
        ("/codex/v1/responses", {"model": "gpt-5-4", "input": "hi"}),
        ("/api/v1/responses", {"model": "gpt-5-codex", "input": "hi"}),
    ],
)
def test_a_missing_key_is_401_at_http_200(kie: Kie, path: str, body: Any) -> None:
    answer = kie.as_key(None).post(path, body | {"stream": True})
    assert answer.status == 200
    assert answer.json() == {"code": 401, "msg": "You do not have access permissions", "data": None}


def test_too_few_credits_is_402_and_nothing_is_charged(make_mock: MakeMock) -> None:
    _, kie = make_mock(starting_credits=0.001)
    answer = kie.post("/gpt-5-2/v1/chat/completions", {"messages": HELLO, "stream": True})
    assert answer.json() == {"code": 402, "msg": "Credits insufficient", "data": None}
    assert kie.ok(kie.get(CREDIT)) == 0.001


def test_fail_marker_fails_whole_answers_free_of_charge(kie: Kie) -> None:
    before = kie.ok(kie.get(CREDIT))
    failing = [{"role": "user", "content": "hi [mock:fail]"}]
    answer = kie.post("/gpt-5-2/v1/chat/completions", {"messages": failing}).json()
    assert answer["code"] == 500
    assert kie.ok(kie.get(CREDIT)) == before


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/gpt-5-2/v1/chat/completions", {}, lambda e: e[-1][1]["error"]["code"] == 500),
        ("/claude/v1/messages", {"model": "claude-haiku-4-5"}, lambda e: e[-1][0] == "error"),
        ("/codex/v1/responses", {"model": "gpt-5-5"}, lambda e: e[-1][0] == "response.failed"),
    ],
)
def test_fail_marker_sends_an_error_event_mid_stream(
    kie: Kie, path: str, body: dict[str, Any], error: Any
) -> None:
    conversation: dict[str, Any] = {"messages": [{"role": "user", "content": "hi [mock:fail] you"}]}
    if "responses" in path:
        conversation = {"input": "hi [mock:fail] you"}
    found = events(kie.post(path, body | conversation | {"stream": True}).body)
    assert error(found), found[-1]


def assert_stream_cut(kie: Kie, messages: list[dict[str, str]]) -> None:
    """A streamed gpt-5-2 answer to ``messages`` breaks off: its body ends unfinished."""
    parts = urlsplit(kie.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    body = {"messages": messages, "stream": True}
    headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    connection.request("POST", "/gpt-5-2/v1/chat/completions", json.dumps(body), headers)
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_drop_marker_cuts_the_stream(kie: Kie) -> None:
    assert_stream_cut(kie, [{"role": "user", "content": "one [mock:drop] two"}])


def test_answer_times_follow_the_mocks_clock(mock: MockServer, kie: Kie) -> None:
    """A test that moves the mock's clock (file expiry, retention) sees chat answers move with
    the task times, not stay on the machine's clock."""
    mock.clock.advance(30 * 86400)
    now = mock.clock.now()
    chat = kie.post("/gemini-2.5-flash/v1/chat/completions", {"messages": HELLO}).json()
    streamed = events(
        kie.post("/gemini-2.5-flash/v1/chat/completions", {"messages": HELLO, "stream": True}).body
    )
    answer = kie.post("/codex/v1/responses", {"model": "gpt-5-5", "input": "hi"}).json()
    for created in (chat["created"], streamed[0][1]["created"], answer["created_at"]):
        assert now - 1 <= created <= now + 60  # seconds; the machine's clock is 30 days behind


# -- tool calls: with tools given and [mock:tool] in the last user message, each API calls its
# first tool in its own shape, whole and streamed, and answers the result turn with text ------

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"enum": ["C", "F"]},
        "n": {"type": "integer"},
    },
    "required": ["city", "unit"],
}
ARGS = {"city": "mock", "unit": "C"}
ASK = "Weather in Oslo? [mock:tool]"
COMPLETIONS = "/gpt-5-2/v1/chat/completions"
FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}


def completion(body: dict[str, Any], kie: Kie) -> Any:
    answer = kie.post(COMPLETIONS, {"tools": [FUNCTION], **body})
    assert answer.status == 200
    return answer.json() if not body.get("stream") else events(answer.body)


def test_completion_calls_the_first_tool_with_its_required_fields(kie: Kie) -> None:
    body = completion({"messages": [{"role": "user", "content": ASK}]}, kie)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == ARGS
    again = completion({"messages": [{"role": "user", "content": ASK}]}, kie)
    assert again["choices"][0]["message"]["tool_calls"][0]["id"] == call["id"]  # deterministic


def test_completion_stream_sends_tool_call_pieces(kie: Kie) -> None:
    whole = completion({"messages": [{"role": "user", "content": ASK}]}, kie)
    found = completion({"messages": [{"role": "user", "content": ASK}], "stream": True}, kie)
    assert found[-1] == (None, "[DONE]")
    pieces = [p for _, c in found[:-1] for p in c["choices"][0]["delta"].get("tool_calls", [])]
    assert pieces[0]["id"] == whole["choices"][0]["message"]["tool_calls"][0]["id"]
    assert pieces[0]["function"]["name"] == "get_weather"
    assert len(pieces) > 2
    assert json.loads("".join(p["function"]["arguments"] for p in pieces)) == ARGS
    assert found[-2][1]["choices"][0]["finish_reason"] == "tool_calls"


def test_completion_answers_the_tool_result_with_text(kie: Kie) -> None:
    first = completion({"messages": [{"role": "user", "content": ASK}]}, kie)
    message = first["choices"][0]["message"]
    result = {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "3C"}
    body = completion({"messages": [{"role": "user", "content": ASK}, message, result]}, kie)
    assert body["choices"][0]["message"]["content"] == "Echo from gpt-5-2: tool result 3C"
    assert body["choices"][0]["finish_reason"] == "stop"


def test_without_the_marker_or_tools_the_answer_is_text(kie: Kie) -> None:
    plain = completion({"messages": [{"role": "user", "content": "Weather?"}]}, kie)
    assert plain["choices"][0]["finish_reason"] == "stop"
    bare = kie.post(COMPLETIONS, {"messages": [{"role": "user", "content": ASK}]}).json()
    assert bare["choices"][0]["message"]["content"].startswith("Echo from")


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "x", "content": "1"},
            ],
            "messages[1].tool_call_id",
        ),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "content": "1"}],
            "messages[1].tool_call_id",
        ),
        ([{"role": "user", "content": "hi", "tool_calls": []}], "messages[0].tool_calls"),
    ],
)
def test_a_tool_turn_that_answers_nothing_is_refused(
    kie: Kie, messages: list[Any], field: str
) -> None:
    body = kie.post(COMPLETIONS, {"messages": messages}).json()
    assert body["code"] == 422
    assert body["msg"].startswith(field)


CLAUDE = {"model": "claude-sonnet-4-6", "tools": [{"name": "get_weather", "input_schema": SCHEMA}]}


def test_claude_answers_tool_use_whole_and_streamed(kie: Kie) -> None:
    ask = [{"role": "user", "content": ASK}]
    whole = kie.post("/claude/v1/messages", {**CLAUDE, "messages": ask}).json()
    assert whole["stop_reason"] == "tool_use"
    (block,) = whole["content"]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "get_weather", ARGS)
    streamed = events(
        kie.post("/claude/v1/messages", {**CLAUDE, "messages": ask, "stream": True}).body
    )
    starts = [d for n, d in streamed if n == "content_block_start"]
    assert starts[0]["content_block"] == {**block, "input": {}}
    fragments = [
        d["delta"]["partial_json"]
        for n, d in streamed
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert json.loads("".join(fragments)) == ARGS
    (delta,) = [d for n, d in streamed if n == "message_delta"]
    assert delta["delta"]["stop_reason"] == "tool_use"
    result = {
        "type": "tool_result",
        "tool_use_id": block["id"],
        "content": [{"type": "text", "text": "3C"}],
    }
    turns = [*ask, {"role": "assistant", "content": [block]}, {"role": "user", "content": [result]}]
    after = kie.post("/claude/v1/messages", {**CLAUDE, "messages": turns}).json()
    assert after["content"] == [
        {"type": "text", "text": "Echo from claude-sonnet-4-6: tool result 3C"}
    ]
    failed = [*turns[:2], {"role": "user", "content": [{**result, "is_error": True}]}]
    assert kie.post("/claude/v1/messages", {**CLAUDE, "messages": failed}).json()["content"]
    odd = [*turns[:2], {"role": "user", "content": [{**result, "is_error": "yes"}]}]
    refused = kie.post("/claude/v1/messages", {**CLAUDE, "messages": odd}).json()
    assert refused == {
        "code": 422,
        "msg": "messages[2].content[0].is_error must be a boolean",
        "data": None,
    }
    wrong = [*turns[:2], {"role": "user", "content": [{**result, "tool_use_id": "toolu_x"}]}]
    refused = kie.post("/claude/v1/messages", {**CLAUDE, "messages": wrong}).json()
    assert (refused["code"], refused["msg"].split()[0]) == (422, "messages[2].content")


def test_claude_with_thinking_wants_the_signed_thinking_back_with_the_tool_results(
    kie: Kie,
) -> None:
    """With thinking on, the assistant turn of the tool calls must come back starting with its
    thinking block, unmodified (Anthropic's rule for extended thinking with tool use,
    platform.claude.com/docs/build-with-claude/thinking-tool-workflows)."""
    ask = [{"role": "user", "content": ASK}]
    thinking = {**CLAUDE, "thinkingFlag": True}
    whole = kie.post("/claude/v1/messages", {**thinking, "messages": ask}).json()
    thought, call = whole["content"]
    assert thought["type"] == "thinking"
    assert thought["signature"]
    streamed = events(
        kie.post("/claude/v1/messages", {**thinking, "messages": ask, "stream": True}).body
    )
    signatures = [
        d["delta"]["signature"]
        for n, d in streamed
        if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    ]
    assert signatures == [thought["signature"]]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"]}]}

    def send_back(*blocks: dict[str, Any]) -> Any:
        turns = [*ask, {"role": "assistant", "content": list(blocks)}, result]
        return kie.post("/claude/v1/messages", {**thinking, "messages": turns}).json()

    assert send_back(thought, call)["content"][0]["type"] == "thinking"
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    assert send_back(redacted, call)["stop_reason"] == "end_turn"
    stripped = send_back(call)
    assert stripped["code"] == 422
    assert stripped["msg"].startswith("messages[1].content[0].type: expected thinking")
    edited = send_back({**thought, "thinking": "something else"}, call)
    assert (edited["code"], edited["msg"].split(":")[0]) == (422, "messages[1].content[0]")
    without_thinking = kie.post(
        "/claude/v1/messages",
        {**CLAUDE, "messages": [*ask, {"role": "assistant", "content": [call]}, result]},
    ).json()
    assert without_thinking["stop_reason"] == "end_turn"  # the rule holds with thinking on only


RESPONSES = {
    "model": "gpt-5-5",
    "tools": [{"type": "function", "name": "get_weather", "parameters": SCHEMA}],
}


def test_responses_answer_a_function_call_item_whole_and_streamed(kie: Kie) -> None:
    whole = kie.post("/codex/v1/responses", {**RESPONSES, "input": ASK}).json()
    (item,) = whole["output"]
    assert (item["type"], item["name"], json.loads(item["arguments"])) == (
        "function_call",
        "get_weather",
        ARGS,
    )
    streamed = events(
        kie.post("/codex/v1/responses", {**RESPONSES, "input": ASK, "stream": True}).body
    )
    names = [n for n, _ in streamed]
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert names[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = streamed[2][1]["item"]
    assert (added["call_id"], added["arguments"]) == (item["call_id"], "")
    pieces = [d["delta"] for n, d in streamed if n == "response.function_call_arguments.delta"]
    assert json.loads("".join(pieces)) == ARGS
    (done,) = streamed[-1][1]["response"]["output"]
    assert {**done, "id": item["id"]} == item  # a new response, a new item id
    turns = [
        {"role": "user", "content": ASK},
        {k: item[k] for k in ("type", "call_id", "name", "arguments")},
        {"type": "function_call_output", "call_id": item["call_id"], "output": '{"temp": 3}'},
    ]
    after = kie.post("/codex/v1/responses", {**RESPONSES, "input": turns}).json()
    text = after["output"][0]["content"][0]["text"]
    assert text == 'Echo from gpt-5-5: tool result {"temp": 3}'


@pytest.mark.parametrize("kind", ["reset", "truncated", "malformed", "empty", "kie"])
def test_an_after_fault_cuts_a_streamed_answer_mid_way(
    mock: MockServer, kie: Kie, kind: str
) -> None:
    """A streamed answer goes out as it is made, so a fault that loses it "after" cannot
    replace it at its end: the stream is cut mid-way, as [mock:drop] does, not sent whole."""
    from kiekit_mock.faults import FaultRule

    mock.faults.add(FaultRule(kind, path="/gpt-5-2/*", when="after", times=1))  # type: ignore[arg-type]
    assert_stream_cut(kie, HELLO)


def test_a_client_hanging_up_mid_stream_is_one_debug_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A chat stream closed early is normal (a user's `break`, Ctrl-C): aiohttp logged it as
    "Error handling request" with a traceback, in every `kie run --mock` and test run."""
    from kiekit_mock import MockConfig, MockServer

    caplog.set_level(logging.DEBUG, logger="kiekit_mock")
    long_prompt = "word " * 180_000  # under 1 MiB, but 20 MB of events: more than sockets hold
    body = {"messages": [{"role": "user", "content": long_prompt}], "stream": True}
    headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    with MockServer(MockConfig(starting_credits=1e9)) as mock:
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        connection.request("POST", "/gpt-5-2/v1/chat/completions", json.dumps(body), headers)
        response = connection.getresponse()
        assert response.read(6) == b"data: "  # the stream has begun: the mock is writing it
        response.close()
        connection.close()
    # stopped: the server waited for its handler to end, so whatever it logs is logged now

    hung_up = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert [(r.name, r.levelno, r.exc_info) for r in hung_up] == [
        ("kiekit_mock", logging.DEBUG, None)
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


NO_ARGUMENTS = {"type": "object", "properties": {}}  # get_time(): its call's arguments are {}
ONE_PIECE: dict[str, dict[str, Any]] = {
    "/gpt-5-2/v1/chat/completions": {
        "tools": [{"type": "function", "function": {"name": "now", "parameters": NO_ARGUMENTS}}]
    },
    "/claude/v1/messages": {
        "model": "claude-haiku-4-5",
        "tools": [{"name": "now", "input_schema": NO_ARGUMENTS}],
    },
    "/codex/v1/responses": {
        "model": "gpt-5-5",
        "tools": [{"type": "function", "name": "now", "parameters": NO_ARGUMENTS}],
    },
}
ENDS = {  # the last event of a stream that failed
    "/gpt-5-2/v1/chat/completions": lambda e: e[-1][1].get("error", {}).get("code") == 500,
    "/claude/v1/messages": lambda e: e[-1][0] == "error",
    "/codex/v1/responses": lambda e: e[-1][0] == "response.failed",
}


def one_piece_call(path: str, marker: str) -> dict[str, Any]:
    ask = f"What time is it? [mock:tool] {marker}"
    conversation: dict[str, Any] = {"messages": [{"role": "user", "content": ask}]}
    if "responses" in path:
        conversation = {"input": ask}
    return ONE_PIECE[path] | conversation | {"stream": True}


@pytest.mark.parametrize("path", list(ONE_PIECE))
def test_fail_marker_fails_a_stream_of_one_piece(kie: Kie, path: str) -> None:
    """A call with `{}` arguments streams in one piece: [mock:fail] still fails it, free,
    instead of a whole call charged nothing."""
    before = kie.ok(kie.get(CREDIT))
    found = events(kie.post(path, one_piece_call(path, "[mock:fail]")).body)
    assert ENDS[path](found), found[-1]
    assert kie.ok(kie.get(CREDIT)) == before


@pytest.mark.parametrize("path", list(ONE_PIECE))
def test_drop_marker_cuts_a_stream_of_one_piece(kie: Kie, path: str) -> None:
    parts = urlsplit(kie.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    try:
        connection.request("POST", path, json.dumps(one_piece_call(path, "[mock:drop]")), headers)
        with pytest.raises(http.client.IncompleteRead):
            connection.getresponse().read()
    finally:
        connection.close()


def test_the_answer_to_a_second_tool_round_echoes_that_rounds_results_only(kie: Kie) -> None:
    """As the README says ("tool result <the results>"): an agent test asserting the last
    round's result need not account for every earlier round."""
    ask = [{"role": "user", "content": ASK}]
    first = completion({"messages": ask}, kie)["choices"][0]["message"]
    call_id = first["tool_calls"][0]["id"]
    again = [{**first["tool_calls"][0], "id": call} for call in ("c2", "c3")]
    rounds = [
        *ask,
        first,
        {"role": "tool", "tool_call_id": call_id, "content": "rain"},
        {"role": "assistant", "content": None, "tool_calls": again},
        {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c3", "content": "warm"},
    ]
    body = completion({"messages": rounds}, kie)
    assert body["choices"][0]["message"]["content"] == "Echo from gpt-5-2: tool result sunny warm"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/gemini-2.5-flash/v1/chat/completions", None),
        ("/claude/v1/messages", "claude-sonnet-4-6"),
        ("/codex/v1/responses", "gpt-5-4"),
    ],
)
def test_a_chat_with_a_photo_inline_is_answered(kie: Kie, path: str, model: str | None) -> None:
    # §5: media go in the message; `kie chat --image` sends a local photo as a data: URL, so a
    # few megabytes of JSON are an ordinary chat, not aiohttp's 1 MiB default
    photo = "data:image/jpeg;base64," + "A" * (3 * 2**20)
    if path.startswith("/claude"):
        source = {"type": "base64", "media_type": "image/jpeg", "data": photo.split(",")[1]}
        parts: list[Any] = [{"type": "text", "text": "what is it"},
                            {"type": "image", "source": source}]  # fmt: skip
        body: dict[str, Any] = {"model": model, "max_tokens": 100,
                                "messages": [{"role": "user", "content": parts}]}  # fmt: skip
    elif path.endswith("/responses"):
        parts = [{"type": "input_text", "text": "what is it"},
                 {"type": "input_image", "image_url": photo}]  # fmt: skip
        body = {"model": model, "input": [{"role": "user", "content": parts}]}
    else:
        parts = [{"type": "text", "text": "what is it"},
                 {"type": "image_url", "image_url": {"url": photo}}]  # fmt: skip
        body = {"messages": [{"role": "user", "content": parts}]}
    answer = kie.post(path, body)
    assert answer.status == 200, answer.body[:200]
    assert "credits_consumed" in answer.json()


def test_a_task_route_keeps_its_one_megabyte_limit(kie: Kie) -> None:
    # KIE's task inputs name files by URL (§2.4); its answer to a huge body is not recorded,
    # so it stays aiohttp's real 413 (README, Limits)
    body = {"model": "grok-imagine/text-to-image", "input": {"prompt": "x" * (2 * 2**20)}}
    assert kie.post("/api/v1/jobs/createTask", body).status == 413


# -- the caller's token limit --------------------------------------------------------------------


def _text_and_end(path: str, answer: Any, streamed: bool) -> tuple[str, Any, int]:
    """(text, the API's word for how it ended, output tokens) of a whole or streamed answer."""
    if not streamed:
        if "completions" in path:
            return (
                answer["choices"][0]["message"]["content"],
                answer["choices"][0]["finish_reason"],
                answer["usage"]["completion_tokens"],
            )
        if "messages" in path:
            return (
                answer["content"][-1]["text"],
                answer["stop_reason"],
                answer["usage"]["output_tokens"],
            )
        ended = (answer["status"], answer.get("incomplete_details"), answer["output"][0]["status"])
        return answer["output"][0]["content"][0]["text"], ended, answer["usage"]["output_tokens"]
    found = events(answer)
    if "completions" in path:
        chunks = [data for _, data in found[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        return (
            text,
            chunks[-1]["choices"][0]["finish_reason"],
            chunks[-1]["usage"]["completion_tokens"],
        )
    if "messages" in path:
        text = "".join(d["delta"].get("text", "") for n, d in found if n == "content_block_delta")
        last = found[-2][1]
        return text, last["delta"]["stop_reason"], last["usage"]["output_tokens"]
    text = "".join(d["delta"] for n, d in found if n == "response.output_text.delta")
    response = found[-1][1]["response"]
    assert found[-1][0] == f"response.{response['status']}"  # response.incomplete when cut
    ended = (
        response["status"],
        response.get("incomplete_details"),
        response["output"][0]["status"],
    )
    return text, ended, response["usage"]["output_tokens"]


LIMITED: dict[str, tuple[dict[str, Any], Any, Any]] = {  # body, how it ends cut, and not
    "/gpt-5-2/v1/chat/completions": ({"messages": HELLO}, "length", "stop"),
    "/claude/v1/messages": (
        {"model": "claude-sonnet-4-6", "messages": HELLO},
        "max_tokens",
        "end_turn",
    ),
    "/codex/v1/responses": (
        {"model": "gpt-5-5", "input": "hello there"},
        ("incomplete", {"reason": "max_output_tokens"}, "incomplete"),
        ("completed", None, "completed"),
    ),
}


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("path", list(LIMITED))
def test_an_answer_stops_at_the_callers_token_limit_with_its_apis_word(
    kie: Kie, path: str, streamed: bool
) -> None:
    """``max_tokens`` / ``max_output_tokens`` cut the answer as the real APIs do, so that a
    product's "the answer was cut by the token limit" path can be tested (the mock answered
    in full, "stop", in an outside tester's run). The mock's tokens are words."""
    body, cut_end, whole_end = LIMITED[path]
    name = "max_output_tokens" if "responses" in path else "max_tokens"
    stream = {"stream": True} if streamed else {}

    def ask(limit: int) -> tuple[str, Any, int]:
        answer = kie.post(path, body | stream | {name: limit})
        return _text_and_end(path, answer.body if streamed else answer.json(), streamed)

    assert ask(2) == ("Echo from ", cut_end, 2)
    text, end, tokens = ask(5)  # "Echo from <model>: hello there": five words, not cut
    assert (text.endswith("hello there"), end, tokens) == (True, whole_end, 5)


def test_a_client_gone_before_a_held_stream_began_is_one_debug_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that gives up while a slow fault holds its streamed answer (its own timeout)
    is gone when the mock sends the stream's head: aiohttp's "Error handling request" and a
    traceback, in an outside tester's run. The call is still charged (README, Chat)."""
    import time

    from kiekit_mock import MockServer
    from kiekit_mock.faults import FaultRule

    caplog.set_level(logging.DEBUG, logger="kiekit_mock")
    body = {"model": "claude-sonnet-4-6", "messages": HELLO, "stream": True}
    headers = {"Authorization": "Bearer k", "Content-Type": "application/json"}
    with MockServer() as mock:
        mock.faults.add(FaultRule("slow", path="/claude/*", delay=60))  # until the mock stops
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        connection.request("POST", "/claude/v1/messages", json.dumps(body), headers)
        for _ in range(10_000):  # a condition awaited: the fault holds the request
            if mock.faults.rules()[0].fired:
                break
            time.sleep(0.001)
        connection.close()
    # stopping wakes the held answer, which finds its client gone

    hung_up = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert [(r.name, r.levelno, r.exc_info) for r in hung_up] == [
        ("kiekit_mock", logging.DEBUG, None)
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
