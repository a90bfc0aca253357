"""Every chat contract test can fail: fake chat providers, each with one realistic bug, run
through ``ChatProviderContract`` in a pytester session, and exactly the tests that should catch
the bug fail; a correct fake passes them all.

The fakes speak the OpenAI-compatible chat completions the mock emulates on per-model paths
(kie-api.md §5), written here from the wire shape alone (the kit does not depend on plugins).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Outcomes = dict[str, dict[str, str]]  # test class → contract test → outcome
RunContract = Callable[..., tuple[Outcomes, str]]  # conftest.run_contract

FAKES = '''
import dataclasses
import json

import attrs
import pytest
from attrs import frozen
from hypothesis import Phase, settings
from kiekit import ValidationError
from kiekit.chat import (
    ChatDelta, ChatFailure, ChatModel, ChatProvider, ChatReply, ToolCall, ToolCallDelta, Usage,
    json_object, json_objects,
)
from kiekit.errors import ProtocolError
from kiekit.fields import Input, choice
from kiekit.models import Request

from kiekit_contract import ChatProviderContract
from kiekit_contract.plugin import SESSION_MOCK_CONFIG

settings.register_profile(
    "kiekit-meta", derandomize=True, database=None, phases=(Phase.explicit, Phase.generate)
)
settings.load_profile("kiekit-meta")


@frozen
class Options(Input):
    reasoning_effort: str | None = choice("low", "medium", "high", default=None)
    tools: tuple | None = json_objects()
    response_format: dict | None = json_object()

    def check(self):
        if self.tools and self.response_format is not None:
            raise ValidationError("response_format", "not with tools")


def obj(value):
    if not isinstance(value, dict):
        raise ProtocolError("not an object", payload=value)
    return value


def text_of(data, key):
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value or ""
    raise ProtocolError("not text", payload=value)


def usage_of(data):
    raw = data.get("usage")
    if raw is None:
        return None
    raw = obj(raw)
    counts = [raw.get("prompt_tokens"), raw.get("completion_tokens")]
    if not all(type(c) is int for c in counts):
        raise ProtocolError("bad usage", payload=raw)
    return Usage(*counts)


def credits_of(data):
    value = data.get("credits_consumed")
    if value is None or (type(value) in (int, float) and value == value and abs(value) < 1e300):
        return value
    raise ProtocolError("bad credits", payload=value)


def first_choice(data):
    choices = data.get("choices", [])
    if not isinstance(choices, list):
        raise ProtocolError("bad choices", payload=choices)
    return obj(choices[0]) if choices else None


class Good(ChatProvider):
    name = "fake-completions"
    models = (ChatModel("gpt-5-2", Options),)

    def build_request(self, call, *, stream):
        body = {
            "model": call.model,
            "messages": [self.message(m) for m in call.messages],
            "stream": stream,
        }
        for a in attrs.fields(type(call.options)):
            value = getattr(call.options, a.name)
            if value is not None:
                body[a.name] = list(value) if isinstance(value, tuple) else value
        return Request("POST", f"/{call.model}/v1/chat/completions", body=body)

    def message(self, m):
        if m.role == "tool":
            return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
        if not m.tool_calls:
            return {"role": m.role, "content": m.text}
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": a}}
            for c, a in ((c, c.raw_arguments) for c in m.tool_calls)
        ]
        return {"role": "assistant", "content": m.text or None, "tool_calls": calls}

    def parse_reply(self, model_id, payload):
        data = obj(payload)
        if data.get("error") is not None:
            return ChatFailure(500, "error")
        choice = first_choice(data)
        if choice is None:
            raise ProtocolError("no choice", payload=data)
        message = obj(choice.get("message"))
        return ChatReply(
            text=text_of(message, "content"),
            model=text_of(data, "model") or model_id,
            usage=usage_of(data),
            credits=credits_of(data),
            tool_calls=self.tool_calls(message),
        )

    def tool_calls(self, message):
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            raise ProtocolError("bad tool_calls", payload=calls)
        found = []
        for call in map(obj, calls):
            function = obj(call.get("function"))
            parts = [call.get("id"), function.get("name"), function.get("arguments")]
            if not all(isinstance(p, str) for p in parts):
                raise ProtocolError("bad tool call", payload=call)
            found.append(ToolCall.of(*parts, where="tool_calls"))
        return tuple(found)

    def tool_pieces(self, delta):
        pieces = delta.get("tool_calls") or []
        if not isinstance(pieces, list):
            raise ProtocolError("bad tool_calls", payload=pieces)
        found = []
        for piece in map(obj, pieces):
            function = obj(piece.get("function") or {})
            index, arguments = piece.get("index"), function.get("arguments") or ""
            if type(index) is not int or not isinstance(arguments, str):
                raise ProtocolError("bad tool call piece", payload=piece)
            found.append(
                ToolCallDelta(index, piece.get("id"), function.get("name"), arguments)
            )
        return tuple(found)

    def read_json(self, event):
        try:
            return obj(json.loads(event.data))
        except ValueError:
            raise ProtocolError("not JSON", payload=event.data) from None

    def parse_event(self, model_id, event):
        if event.data == "[DONE]":
            return ChatDelta(done=True)
        data = self.read_json(event)
        if data.get("error") is not None:
            return ChatFailure(500, "error event")
        choice = first_choice(data)
        delta = obj(choice.get("delta") or {}) if choice else {}
        return ChatDelta(
            text=text_of(delta, "content"),
            usage=usage_of(data),
            credits=credits_of(data),
            tool_calls=self.tool_pieces(delta),
        )


COMPLETION = {
    "model": "gpt-5-2",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}
STREAM = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\\n\\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\\n\\n'
    b"data: [DONE]\\n\\n"
)


class TestGood(ChatProviderContract):
    provider = Good()
    check_entry_points = False
    max_examples = 8
    documented_replies = [("gpt-5-2", COMPLETION)]
    documented_streams = [("gpt-5-2", STREAM)]
    refused_options = [({"tools": [{"type": "x"}], "response_format": {"a": 1}}, "response_format")]


class NeverEnds(Good):
    """[DONE] is skipped like any other event: every stream looks cut short."""

    def parse_event(self, model_id, event):
        return None if event.data == "[DONE]" else super().parse_event(model_id, event)


class LosesFirstWord(Good):
    """The first piece of streamed text (the mock's answer starts "Echo") is lost: the stream
    and the reply disagree. Every time: a fake that remembered the events it had spoilt by
    id() let a later stream through whenever a new event took a collected one's id."""

    def parse_event(self, model_id, event):
        delta = super().parse_event(model_id, event)
        if isinstance(delta, ChatDelta) and delta.text and "Echo" in delta.text:
            return attrs.evolve(delta, text="")
        return delta


class IgnoresErrorEvents(Good):
    """An error event mid-stream is read as an empty delta."""

    def parse_event(self, model_id, event):
        read = super().parse_event(model_id, event)
        return ChatDelta() if isinstance(read, ChatFailure) else read


class CrashesOnOddAnswer(Good):
    def parse_reply(self, model_id, payload):
        message = payload["choices"][0]["message"]
        return ChatReply(
            message["content"] or "",
            model_id,
            usage=usage_of(payload),
            credits=credits_of(payload),
            tool_calls=self.tool_calls(message),
        )


class CrashesOnOddEvent(Good):
    def read_json(self, event):
        return json.loads(event.data)


@frozen
class NoRule(Options):
    def check(self):
        pass


class LenientOptions(Good):
    """response_format goes out with tools, which KIE refuses (§5)."""

    models = (ChatModel("gpt-5-2", NoRule),)


@frozen
class Unchecked(Input):
    reasoning_effort: str | None = attrs.field(default=None, kw_only=True)


class UncheckedOptions(Good):
    """An option declared without a spec: anything goes out, KIE judges it after paying."""

    models = (ChatModel("gpt-5-2", Unchecked),)


class ToolBlind(Good):
    """Leaves the caller's tools out of the request: the model answers in text instead of
    calling the function, and the app's agent loop never sees the call."""

    def build_request(self, call, *, stream):
        request = super().build_request(call, stream=stream)
        body = {k: v for k, v in request.body.items() if k != "tools"}
        return attrs.evolve(request, body=body)


class StreamDropsToolCalls(Good):
    """Reads tool calls from a whole answer but not from the stream's pieces."""

    def tool_pieces(self, delta):
        return ()


class ToolResultMisnamed(Good):
    """Sends a tool's result under ``toolCallId``: KIE refuses the agent loop's second turn."""

    def message(self, m):
        sent = super().message(m)
        if m.role == "tool":
            sent["toolCallId"] = sent.pop("tool_call_id")
        return sent


@frozen
class Plain(Input):
    reasoning_effort: str | None = choice("low", "medium", "high", default=None)


class NoTools(Good):
    """A model that takes no tools, and says so (supports_tools = False)."""

    models = (ChatModel("gpt-5-2", Plain),)


class TestNeverEnds(TestGood):
    provider = NeverEnds()


class TestLosesFirstWord(TestGood):
    provider = LosesFirstWord()


class TestIgnoresErrorEvents(TestGood):
    provider = IgnoresErrorEvents()


class TestCrashesOnOddAnswer(TestGood):
    provider = CrashesOnOddAnswer()


class TestCrashesOnOddEvent(TestGood):
    provider = CrashesOnOddEvent()


class TestLenientOptions(TestGood):
    provider = LenientOptions()


class TestUncheckedOptions(TestGood):
    provider = UncheckedOptions()
    refused_options = []
    supports_tools = False  # its options have no tools


class TestToolBlind(TestGood):
    provider = ToolBlind()


class TestStreamDropsToolCalls(TestGood):
    provider = StreamDropsToolCalls()


class TestToolResultMisnamed(TestGood):
    provider = ToolResultMisnamed()


class TestNoTools(TestGood):
    provider = NoTools()
    supports_tools = False
    refused_options = []


@pytest.fixture(scope="session")
def kie_mock_session_config():
    # a chat plugin's own model, which the mock learns as it learns market models
    taught = {"acme-chat-1": "completions"}
    return dataclasses.replace(SESSION_MOCK_CONFIG, extra_chat_models=taught)


class Taught(Good):
    """A model the mock does not know, taught through extra_chat_models."""

    models = (ChatModel("acme-chat-1", Options),)


class TestTaught(TestGood):
    provider = Taught()
    documented_replies = [("acme-chat-1", COMPLETION)]
    documented_streams = [("acme-chat-1", STREAM)]


class TestNothingDocumented(TestGood):
    documented_replies = []
    documented_streams = []
'''

BOTH = ("[Client]", "[AsyncClient]")
AGREE = {f"test_reply_and_stream_agree{c}" for c in BOTH}
FAILURE = {f"test_failure_raises_api_error{c}" for c in BOTH}
TOOLS = {f"test_tool_calls_reach_the_reply_and_the_stream{c}" for c in BOTH}
CONTRACT_TESTS = {
    "test_models_are_declared",
    "test_entry_points_declare_the_models",
    *AGREE,
    *FAILURE,
    *TOOLS,
    "test_bad_options_are_refused_before_any_request",
    "test_bad_messages_are_refused_before_any_request",
    "test_refused_option_sets_name_the_field",
    "test_documented_answers_read",
    *(f"test_envelope_errors_are_typed{c}" for c in BOTH),
    *(f"test_cut_streams_never_pass_for_whole{c}" for c in BOTH),
    "test_fuzzed_answers_raise_only_protocol_error",
    "test_fuzzed_events_raise_only_protocol_error",
}

# class -> the contract tests its bug must fail (every other one passes)
EXPECTED_FAILURES: dict[str, set[str]] = {
    "TestGood": set(),
    "TestNeverEnds": AGREE | TOOLS | {"test_documented_answers_read"},
    "TestLosesFirstWord": AGREE | TOOLS,  # the answer to a tool result streams too
    "TestIgnoresErrorEvents": FAILURE,
    "TestCrashesOnOddAnswer": {"test_fuzzed_answers_raise_only_protocol_error"},
    "TestCrashesOnOddEvent": {"test_fuzzed_events_raise_only_protocol_error"},
    "TestLenientOptions": {"test_refused_option_sets_name_the_field"},
    "TestUncheckedOptions": {
        "test_models_are_declared",
        "test_bad_options_are_refused_before_any_request",
    },
    "TestToolBlind": TOOLS,
    "TestStreamDropsToolCalls": TOOLS,
    "TestToolResultMisnamed": TOOLS,
    "TestNoTools": set(),
    "TestTaught": set(),
    "TestNothingDocumented": {
        "test_documented_answers_read",
        "test_fuzzed_events_raise_only_protocol_error",
    },
}

NO_TOOLS = {"TestNoTools", "TestUncheckedOptions"}  # supports_tools = False: skipped


def test_each_chat_bug_fails_exactly_the_tests_that_should_catch_it(
    pytester: pytest.Pytester, run_contract: RunContract
) -> None:
    pytester.makepyfile(test_chat_fakes=FAKES)
    outcomes, _ = run_contract("--tb=no")  # tracebacks: slow
    assert set(outcomes) == set(EXPECTED_FAILURES)
    wrong = []
    for cls, tests in sorted(outcomes.items()):
        assert set(tests) == CONTRACT_TESTS, f"{cls} ran {sorted(set(tests) ^ CONTRACT_TESTS)}"
        failed = {test for test, outcome in tests.items() if outcome == "failed"}
        if failed != EXPECTED_FAILURES[cls]:
            missed = sorted(EXPECTED_FAILURES[cls] - failed)
            extra = sorted(failed - EXPECTED_FAILURES[cls])
            wrong.append(f"{cls}: did not fail {missed}; failed unexpectedly {extra}")
        skipped = {test for test, outcome in tests.items() if outcome == "skipped"}
        skips = {"test_entry_points_declare_the_models"} | (TOOLS if cls in NO_TOOLS else set())
        if skipped != skips:
            wrong.append(f"{cls}: skipped {sorted(skipped)}")
    assert not wrong, "\n".join(wrong)
