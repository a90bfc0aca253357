"""The reusable chat provider contract: subclass it in one line, as :class:`ProviderContract`.

::

    from kiekit_contract import ChatProviderContract
    from kiekit_chat import CompletionsProvider

    class TestCompletions(ChatProviderContract):
        provider = CompletionsProvider()
        documented_replies = [("gpt-5-2", {...})]           # whole answers from KIE's docs
        documented_streams = [("gpt-5-2", b"data: {...}\\n\\n...")]  # recorded event streams

KIE's chat endpoints are not tasks (kie-api.md §5), so this suite checks what a chat provider
promises instead of a lifecycle: a whole answer from the mock KIE server, a streamed answer
that assembles to the same text, options and messages refused before any request, KIE's
envelope errors and error events raised as kiekit's typed errors, and fuzzed answers and
events that raise nothing but ProtocolError — all with both clients. The mock is
``kie_mock_session`` on 127.0.0.1; the registry holds just the provider under test.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiekit import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    ProtocolError,
    Registry,
    ValidationError,
)
from kiekit.chat import (
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    Message,
    MessagesLike,
    SseDecoder,
    SseEvent,
)
from kiekit.chat.options import JSON_KEY
from kiekit.errors import KieError, TransportError
from kiekit.fields import Input, spec_of
from kiekit.models import Request
from kiekit.registry import installed
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_mock import MockServer

from kiekit_contract.clients import TEST_API_KEY, async_client_for, client_for
from kiekit_contract.strategies import FAIL_MARKER, invalid_values, json_values, like
from kiekit_contract.strategies import one_field_changed as one_changed

__all__ = ["CHAT_CAPABILITIES", "WEATHER_TOOL", "ChatProviderContract"]

CLIENTS = ("Client", "AsyncClient")
CHAT_CAPABILITIES = frozenset({"chat", "streaming"})  # a chat model's manifest tags
CREDIT = Request("GET", "/api/v1/chat/credit")  # the account balance (kie-api.md §4)
PROMPT = "Say hello to the kiekit contract"
# The mock answers a request that carries tools, and this marker in its last user message,
# with a call of its first function tool (mockserver/README.md, Chat).
TOOL_MARKER = "[mock:tool]"
TOOL_PROMPT = f"What is the weather in Oslo? {TOOL_MARKER}"
# The tool's answer sent back; the mock echoes a tool round's results in its reply.
TOOL_RESULT = "12C and windy"
# One function tool in OpenAI's chat completions shape, the default ``example_tools``.
WEATHER_TOOL: Mapping[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ENVELOPE_401 = {"code": 401, "msg": "You do not have access permissions", "data": None}


def _refuse(request: HttpRequest) -> HttpResponse:
    return HttpResponse(500, b"the contract expected no request at all")


def _answer(body: bytes, content_type: str) -> MockTransport:
    return MockTransport(lambda _: HttpResponse(200, body, "OK", {"content-type": content_type}))


class ChatProviderContract:
    """The tests every kiekit chat provider passes. Subclass as ``Test<Name>``; set ``provider``.

    Optional class attributes:

    ``models``
        Model ids to test against the mock (default: all of ``provider.models``).
    ``documented_replies``
        ``(model id, whole answer JSON)`` pairs from KIE's docs or recorded traffic; each must
        read as a reply with text. The base of the fuzzed-answer tests.
    ``documented_streams``
        ``(model id, event-stream bytes)`` pairs, likewise: each must read as deltas that end
        the answer. The base of the fuzzed-event and truncation tests.
    ``refused_options``
        ``(options, field)`` pairs that break a rule across options (e.g. ``response_format``
        with ``tools``, kie-api.md §5): each must raise ValidationError naming ``field``.
    ``example_options``
        ``{model id: options}`` sent with the end-to-end calls (default: none).
    ``supports_failure``
        False if the mock cannot fail this provider's calls (``[mock:fail]`` in a message).
    ``supports_tools``
        False if the provider's models take no ``tools`` option: skips the tool-call tests.
    ``example_tools``
        The ``tools`` option sent in the tool-call tests, in the provider's wire shape; the
        first must be a function tool (default: ``WEATHER_TOOL``, OpenAI's chat completions
        shape; Anthropic's is ``{name, input_schema}``, the Responses API's ``{type:
        "function", name, parameters}``).
    ``mock_emulates``
        False if the mock does not emulate this API yet: the tests that need it are skipped.
    ``check_entry_points``
        False for a provider not installed as a distribution.
    ``max_examples``
        Hypothesis examples per property test (they are pure: no I/O).
    """

    provider: ClassVar[ChatProvider]
    models: ClassVar[Sequence[str] | None] = None
    documented_replies: ClassVar[Sequence[tuple[str, Any]]] = ()
    documented_streams: ClassVar[Sequence[tuple[str, bytes]]] = ()
    refused_options: ClassVar[Sequence[tuple[Mapping[str, Any], str]]] = ()
    example_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    supports_failure: ClassVar[bool] = True
    supports_tools: ClassVar[bool] = True
    example_tools: ClassVar[Sequence[Mapping[str, Any]]] = (WEATHER_TOOL,)
    mock_emulates: ClassVar[bool] = True
    check_entry_points: ClassVar[bool] = True
    max_examples: ClassVar[int] = 60

    # -- helpers ----------------------------------------------------------------------------

    def contract_models(self) -> list[ChatModel]:
        chosen = [m.id for m in self.provider.models] if self.models is None else self.models
        return [self.provider.model(model_id) for model_id in chosen]

    def contract_registry(self) -> Registry:
        registry = Registry(discover=False)
        registry.add_provider(self.provider)
        return registry

    def _settings(self) -> settings:
        return settings(
            max_examples=self.max_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )

    def _needs_mock(self) -> None:
        if not self.mock_emulates:
            pytest.skip(f"the mock does not emulate {self.provider.name!r} (mock_emulates)")

    def _options(self, model: ChatModel) -> dict[str, Any]:
        return dict(self.example_options.get(model.id, {}))

    def _ask(
        self,
        client: str,
        base_url: str,
        model: str,
        prompt: MessagesLike,
        options: Mapping[str, Any],
    ) -> tuple[ChatReply, list[ChatDelta], ChatReply | None, float, float]:
        """(whole reply, streamed deltas, the stream's reply, balance before, after)."""
        registry = self.contract_registry()
        if client == "Client":
            with client_for(base_url, registry=registry) as kie:
                before = float(kie.call(CREDIT))
                reply = kie.chat(model, prompt, **options)
                with kie.chat_stream(model, prompt, **options) as stream:
                    deltas = list(stream)
                return reply, deltas, stream.reply, before, float(kie.call(CREDIT))

        async def run() -> tuple[ChatReply, list[ChatDelta], ChatReply | None, float, float]:
            async with async_client_for(base_url, registry=registry) as kie:
                before = float(await kie.call(CREDIT))
                reply = await kie.chat(model, prompt, **options)
                stream = kie.chat_stream(model, prompt, **options)
                deltas = [delta async for delta in stream]
                return reply, deltas, stream.reply, before, float(await kie.call(CREDIT))

        return asyncio.run(run())

    def _raises(self, client: str, transport: MockTransport, model: str, *, stream: bool) -> Any:
        """Ask ``model`` through ``transport``; return the error raised (or fail)."""
        registry = self.contract_registry()
        try:
            if client == "Client":
                with client_for(
                    "http://127.0.0.1:9", registry=registry, transport=transport
                ) as kie:
                    if stream:
                        list(kie.chat_stream(model, PROMPT))
                    else:
                        kie.chat(model, PROMPT)
            else:

                async def run() -> None:
                    async with AsyncClient(
                        TEST_API_KEY,
                        base_url="http://127.0.0.1:9",
                        registry=registry,
                        transport=transport,
                    ) as kie:
                        if stream:
                            async for _ in kie.chat_stream(model, PROMPT):
                                pass
                        else:
                            await kie.chat(model, PROMPT)

                asyncio.run(run())
        except KieError as exc:
            return exc
        pytest.fail(f"{model}: no error was raised (stream={stream})")

    # -- declaration ------------------------------------------------------------------------

    def test_models_are_declared(self) -> None:
        """Unique model ids, each with an Input class of options whose every field is a
        kiekit field spec or a JSON option (kiekit.chat.json_object / json_objects)."""
        assert isinstance(self.provider, ChatProvider)
        ids = [m.id for m in self.provider.models]
        assert ids, f"{type(self.provider).__name__} declares no models"
        assert len(ids) == len(set(ids)), f"model ids declared twice: {ids}"
        for model in self.provider.models:
            assert isinstance(model, ChatModel), model
            assert "*" not in model.id, f"{model.id}: chat model ids are not patterns"
            assert issubclass(model.options, Input), model
            for attribute in attrs.fields(model.options):
                assert spec_of(attribute) is not None or JSON_KEY in attribute.metadata, (
                    f"{model.options.__name__}.{attribute.name} is neither a kiekit field "
                    "nor a JSON option"
                )
        assert self.contract_models(), "the models attribute selects no model"

    def test_entry_points_declare_the_models(self) -> None:
        """Each model id has one entry point tagged ``[text, chat, streaming]``, and a fresh
        registry resolves it to this provider's class."""
        if not self.check_entry_points:
            pytest.skip("not installed as a distribution (check_entry_points = False)")
        ours = {m.id for m in self.provider.models}
        listings = [item for item in installed() if item.model in ours]
        missing = sorted(ours - {item.model for item in listings})
        assert not missing, f"models with no entry point in group 'kiekit.providers': {missing}"
        for item in listings:
            assert item.output == "text", f"{item.model}: tag the output 'text', not {item.output}"
            assert set(item.capabilities) >= CHAT_CAPABILITIES, (
                f'{item.model}: write "{item.model}" = "{item.module} [text, chat, streaming]"'
            )
        registry = Registry()
        for model_id in sorted(ours):
            found = registry.chat_provider(model_id)
            assert type(found) is type(self.provider), f"{model_id} resolves to {found!r}"
            with pytest.raises(ValidationError):
                registry.provider(model_id)  # a chat model is not a task

    # -- on the mock ------------------------------------------------------------------------

    @pytest.mark.parametrize("client", CLIENTS)
    def test_reply_and_stream_agree(self, client: str, kie_mock_session: MockServer) -> None:
        """A whole answer has text; the streamed answer's deltas join into the same text,
        the stream's ``reply`` says so too, and each call costs the account credits."""
        self._needs_mock()
        for model in self.contract_models():
            reply, deltas, streamed, before, after = self._ask(
                client, kie_mock_session.base_url, model.id, PROMPT, self._options(model)
            )
            assert isinstance(reply, ChatReply)
            assert reply.text.strip(), f"{model.id}: an empty answer"
            assert reply.model
            assert deltas, f"{model.id}: the stream sent no delta"
            assert all(isinstance(d, ChatDelta) for d in deltas)
            assert deltas[-1].done, f"{model.id}: the last delta does not end the answer"
            assert not any(d.done for d in deltas[:-1]), f"{model.id}: ended twice"
            assert "".join(d.text for d in deltas) == reply.text
            assert streamed is not None
            assert streamed.text == reply.text
            assert streamed.usage == reply.usage
            assert after < before, f"{model.id}: two calls cost nothing ({before} → {after})"
            if reply.credits is not None:
                assert streamed.credits == reply.credits
                assert before - after == pytest.approx(reply.credits + streamed.credits)

    @pytest.mark.parametrize("client", CLIENTS)
    def test_failure_raises_api_error(self, client: str, kie_mock_session: MockServer) -> None:
        """A call the mock fails raises ApiError, whole or streamed (the error may come as
        KIE's envelope or as an event in the middle of the stream)."""
        self._needs_mock()
        if not self.supports_failure:
            pytest.skip("the mock cannot fail this provider's calls (supports_failure = False)")
        model = self.contract_models()[0]
        registry = self.contract_registry()
        prompt = f"please fail {FAIL_MARKER} now"
        errors: list[BaseException] = []
        if client == "Client":
            with client_for(kie_mock_session.base_url, registry=registry) as kie:
                for call in (
                    lambda: kie.chat(model.id, prompt),
                    lambda: list(kie.chat_stream(model.id, prompt)),
                ):
                    with pytest.raises(ApiError) as caught:
                        call()
                    errors.append(caught.value)
        else:

            async def run() -> None:
                async with async_client_for(kie_mock_session.base_url, registry=registry) as kie:
                    with pytest.raises(ApiError) as caught:
                        await kie.chat(model.id, prompt)
                    errors.append(caught.value)
                    with pytest.raises(ApiError) as caught:
                        async for _ in kie.chat_stream(model.id, prompt):
                            pass
                    errors.append(caught.value)

            asyncio.run(run())
        assert all(isinstance(e, ApiError) and e.code >= 400 for e in errors), errors

    @pytest.mark.parametrize("client", CLIENTS)
    def test_tool_calls_reach_the_reply_and_the_stream(
        self, client: str, kie_mock_session: MockServer
    ) -> None:
        """Asked with ``tools``, a model the mock makes call one (``[mock:tool]``): the whole
        reply carries the call, the stream carries it in pieces, and the stream's ``reply``
        holds the same call assembled; the call's result sent back is answered in text. A
        provider that drops the tools from the request, or the calls from the answer, leaves
        an agent loop waiting for a call that never comes; one that misnames the result's
        call id breaks the loop on its second turn."""
        self._needs_mock()
        if not self.supports_tools:
            pytest.skip("the provider's models take no tools (supports_tools = False)")
        name = _tool_name(self.example_tools[0]) if self.example_tools else None
        assert name, f"example_tools must start with a function tool: {self.example_tools!r}"
        for model in self.contract_models():
            assert "tools" in attrs.fields_dict(model.options), (
                f"{model.id} takes no tools option: set supports_tools = False"
            )
            options = {**self._options(model), "tools": list(self.example_tools)}
            reply, deltas, streamed, _, _ = self._ask(
                client, kie_mock_session.base_url, model.id, TOOL_PROMPT, options
            )
            calls = [call.name for call in reply.tool_calls]
            assert calls == [name], (
                f"{model.id}: the mock called {name!r}, the reply holds the calls {calls} "
                f"(text {reply.text!r})"
            )
            assert any(delta.tool_calls for delta in deltas), (
                f"{model.id}: the stream carried no piece of the tool call"
            )
            assert streamed is not None
            assert streamed.tool_calls == reply.tool_calls, (
                f"{model.id}: the stream assembled {streamed.tool_calls}, the whole reply "
                f"has {reply.tool_calls}"
            )
            self._answer_the_call(client, kie_mock_session.base_url, model, reply, options)

    def _answer_the_call(
        self,
        client: str,
        base_url: str,
        model: ChatModel,
        reply: ChatReply,
        options: Mapping[str, Any],
    ) -> None:
        """The agent loop's second turn: the call's result goes back (``ToolCall.result``)
        and the model answers in text. The mock refuses a result that names no call of the
        turn before it (``tool_call_id``, ``tool_use_id``, ``call_id``: kie-api.md §5)."""
        messages: list[Message | ChatReply | str] = [
            TOOL_PROMPT,
            reply,
            reply.tool_calls[0].result(TOOL_RESULT),
        ]
        try:
            answer, _, streamed, _, _ = self._ask(client, base_url, model.id, messages, options)
        except ApiError as exc:
            pytest.fail(f"{model.id}: the mock refused the tool's result sent back: {exc}")
        assert TOOL_RESULT in answer.text, (
            f"{model.id}: the answer to the tool's result does not echo it: {answer.text!r}"
        )
        assert not answer.tool_calls, f"{model.id}: the result was answered with a call"
        assert streamed is not None
        assert streamed.text == answer.text

    # -- refused before any request ---------------------------------------------------------

    def test_bad_options_are_refused_before_any_request(self) -> None:
        """Property: one option with a value its spec forbids (or not JSON of the right shape,
        or an option the model does not have) raises ValidationError naming it, and the
        client sends nothing."""
        models = self.contract_models()
        provider = self.provider

        @self._settings()
        @given(model=st.sampled_from(models), data=st.data())
        def names_the_option(model: ChatModel, data: st.DataObject) -> None:
            fields = {a.name: a for a in attrs.fields(model.options)}
            name = data.draw(st.sampled_from([*sorted(fields), "kiekit_contract_unknown"]))
            attribute = fields.get(name)
            spec = spec_of(attribute) if attribute is not None else None
            if attribute is None:
                bad: Any = 1
            elif spec is not None:
                bad = data.draw(invalid_values(spec).filter(lambda v: v is not None), label="bad")
            else:
                bad = data.draw(_bad_json(attribute.metadata[JSON_KEY]), label="bad")
            transport = MockTransport(_refuse)
            kie = client_for(
                "http://127.0.0.1:9", registry=self.contract_registry(), transport=transport
            )
            with kie, pytest.raises(ValidationError) as caught:
                kie.chat(model.id, PROMPT, **{name: bad})
            field = caught.value.field
            assert field == name or field.startswith((name + "[", name + ".")), (
                f"ValidationError names {field!r}, not the option {name!r} = {bad!r}"
            )
            assert transport.requests == [], "a request was sent for an invalid option"
            with pytest.raises(ValidationError):
                provider.make_call(model.id, PROMPT, options={name: bad})

        names_the_option()

    def test_bad_messages_are_refused_before_any_request(self) -> None:
        """Messages KIE cannot take raise ValidationError naming the place, before I/O."""
        model = self.contract_models()[0].id
        cases: list[tuple[Any, str]] = [
            ([], "messages"),
            ("   ", "messages[0].content"),
            ([{"role": "robot", "content": "hi"}], "messages[0].role"),
            ([{"role": "user", "content": [{"type": "video", "url": "x"}]}], "messages[0]"),
            (
                [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
                "messages[0].content[0].image_url.url",
            ),
            ([{"role": "system", "content": "only a system text"}], "messages"),
        ]
        for messages, place in cases:
            transport = MockTransport(_refuse)
            registry = self.contract_registry()
            with client_for("http://127.0.0.1:9", registry=registry, transport=transport) as kie:
                for ask in (kie.chat, kie.chat_stream):
                    with pytest.raises(ValidationError) as caught:
                        ask(model, messages)
                    assert caught.value.field.startswith(place), (messages, caught.value)
            assert transport.requests == []

    def test_refused_option_sets_name_the_field(self) -> None:
        """Each of ``refused_options`` (rules across options) names its field, before I/O."""
        model = self.contract_models()[0].id
        for options, name in self.refused_options:
            with pytest.raises(ValidationError) as caught:
                self.provider.make_call(model, PROMPT, options=options)
            assert caught.value.field == name, (options, caught.value)

    # -- reading KIE's answers --------------------------------------------------------------

    def test_documented_answers_read(self) -> None:
        """Each documented whole answer reads as a reply with text; each documented stream
        reads as deltas whose last one ends the answer, with the same kind of text."""
        assert self.documented_replies, "set documented_replies: (model id, answer JSON) pairs"
        assert self.documented_streams, "set documented_streams: (model id, SSE bytes) pairs"
        for model, payload in self.documented_replies:
            reply = self.provider.parse_reply(model, copy.deepcopy(payload))
            assert isinstance(reply, ChatReply), (model, reply)
            assert reply.text, f"{model}: the documented answer reads as no text"
        for model, raw in self.documented_streams:
            deltas = self._read_stream(model, raw)
            assert deltas, f"{model}: the documented stream reads as no delta"
            assert deltas[-1].done, f"{model}: the documented stream never ends"
            assert "".join(d.text for d in deltas), f"{model}: the stream reads as no text"

    def _read_stream(self, model: str, raw: bytes) -> list[ChatDelta]:
        decoder = SseDecoder()
        deltas = []
        for event in [*decoder.feed(raw), *decoder.close()]:
            read = self.provider.parse_event(model, event)
            assert not isinstance(read, ChatFailure), (model, event, read)
            if read is not None:
                deltas.append(read)
        return deltas

    @pytest.mark.parametrize("client", CLIENTS)
    def test_envelope_errors_are_typed(self, client: str) -> None:
        """KIE's ``{"code": 401, "msg"}`` at HTTP 200 raises AuthenticationError, for a whole
        answer and for a stream that was asked for (kie-api.md §1, §7)."""
        model = self.contract_models()[0].id
        body = json.dumps(ENVELOPE_401).encode()
        for stream in (False, True):
            error = self._raises(client, _answer(body, "application/json"), model, stream=stream)
            assert isinstance(error, AuthenticationError), error
            assert error.code == 401

    @pytest.mark.parametrize("client", CLIENTS)
    def test_cut_streams_never_pass_for_whole(self, client: str) -> None:
        """A documented stream cut before its last event raises ProtocolError or
        TransportError: a truncated answer is never returned as a whole one."""
        for model, raw in self.documented_streams:
            events = raw.rstrip().split(b"\n\n")
            cut = b"\n\n".join(events[:-1]) + b"\n\n"
            transport = _answer(cut, "text/event-stream")
            error = self._raises(client, transport, model, stream=True)
            assert isinstance(error, (ProtocolError, TransportError)), error

    def test_fuzzed_answers_raise_only_protocol_error(self) -> None:
        """Property: ``parse_reply`` on any JSON, or on documented answers with fuzzed values,
        returns a reply or a ChatFailure, or raises ProtocolError; nothing else escapes."""
        provider = self.provider
        documented = list(self.documented_replies)
        models = [m for m, _ in documented] or [m.id for m in self.contract_models()]
        shaped = [like(p) for _, p in documented] + [one_changed(p) for _, p in documented]
        payloads = st.one_of(json_values(), *shaped)

        @self._settings()
        @given(model=st.sampled_from(models), payload=payloads)
        def only_protocol_errors(model: str, payload: Any) -> None:
            try:
                read = provider.parse_reply(model, payload)
            except ProtocolError:
                return
            assert isinstance(read, (ChatReply, ChatFailure)), read
            if isinstance(read, ChatFailure):
                assert isinstance(read.code, int), read
                assert isinstance(read.message, str), read

        only_protocol_errors()

    def test_fuzzed_events_raise_only_protocol_error(self) -> None:
        """Property: ``parse_event`` on documented events with fuzzed data (or any text)
        returns a delta, a ChatFailure or None, or raises ProtocolError; nothing else."""
        provider = self.provider
        events: list[tuple[str, SseEvent]] = []
        for model, raw in self.documented_streams:
            decoder = SseDecoder()
            events += [(model, e) for e in [*decoder.feed(raw), *decoder.close()]]
        assert events, "set documented_streams: (model id, SSE bytes) pairs"

        def fuzzed(model: str, event: SseEvent) -> st.SearchStrategy[tuple[str, SseEvent]]:
            try:
                data = json.loads(event.data)
            except ValueError:
                texts: st.SearchStrategy[str] = st.text(max_size=30)
            else:
                texts = st.one_of(like(data), one_changed(data), json_values()).map(json.dumps)
            names = st.sampled_from([event.event, "message", "error"])
            return st.builds(lambda d, n: (model, SseEvent(data=d, event=n)), texts, names)

        cases = st.one_of(
            *(fuzzed(m, e) for m, e in events),
            st.text().map(lambda t: (events[0][0], SseEvent(data=t))),
        )

        @self._settings()
        @given(case=cases)
        def only_protocol_errors(case: tuple[str, SseEvent]) -> None:
            model, event = case
            try:
                read = provider.parse_event(model, event)
            except ProtocolError:
                return
            assert read is None or isinstance(read, (ChatDelta, ChatFailure)), read

        only_protocol_errors()


def _tool_name(tool: Mapping[str, Any]) -> str | None:
    """The name of a function tool in any of KIE's chat shapes (nested under ``function`` in
    chat completions, at the top in Anthropic's and the Responses API's)."""
    nested = tool.get("function")
    found = nested.get("name") if isinstance(nested, Mapping) else tool.get("name")
    return found if isinstance(found, str) else None


def _bad_json(kind: str) -> st.SearchStrategy[Any]:
    """Values a JSON option refuses: not an object (``object``), not a list of objects."""
    scalars: st.SearchStrategy[Any] = st.one_of(
        st.integers(), st.booleans(), st.just("not json {"), st.just({})
    )
    if kind == "object":
        return st.one_of(scalars, st.lists(st.integers(), min_size=1, max_size=3))
    return st.one_of(
        scalars,
        st.just([]),
        st.lists(st.one_of(st.integers(), st.just({})), min_size=1, max_size=3),
        st.just({"type": "function"}),
    )
