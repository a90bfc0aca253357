"""Chat providers register through the same hook and table as task providers: one owner per
model id, and each kind of model refused clearly where the other kind is expected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from attrs import frozen
from kiekit import PluginError, Registry, UnknownModelError, ValidationError, hookimpl
from kiekit.chat import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    SseEvent,
)
from kiekit.families.market import MarketProvider
from kiekit.fields import Input, text
from kiekit.models import MediaKind, Model, Request


@frozen
class NoOptions(Input):
    pass


@frozen
class Prompt(Input):
    prompt: str = text()


class Chat(ChatProvider):
    name = "chat"
    models: ClassVar[tuple[ChatModel, ...]] = (ChatModel("talk-1", NoOptions),)

    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        return Request("POST", "/talk")

    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        return ChatReply("", model_id)

    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        return None


class Images(MarketProvider):
    name = "images"
    models = (Model("paint-1", Prompt, MediaKind.IMAGE),)


class ClashingImages(MarketProvider):
    name = "clash"
    models = (Model("talk-1", Prompt, MediaKind.IMAGE),)


class Plugin:
    @hookimpl
    def kiekit_register_providers(self, register: Callable[[Any], None]) -> None:
        register(Chat())
        register(Images())


def test_one_hook_registers_both_kinds() -> None:
    registry = Registry(discover=False)
    registry.add(Plugin())
    assert isinstance(registry.chat_provider("talk-1"), Chat)
    assert isinstance(registry.provider("paint-1"), Images)
    assert {"talk-1", "paint-1"} <= set(registry.models())


def test_each_kind_is_refused_where_the_other_is_expected() -> None:
    registry = Registry(discover=False)
    registry.add(Plugin())
    with pytest.raises(ValidationError, match="chat model") as caught:
        registry.provider("talk-1")
    assert caught.value.field == "model"
    with pytest.raises(ValidationError, match="task model"):
        registry.chat_provider("paint-1")


def test_a_chat_and_a_task_provider_cannot_share_a_model_id() -> None:
    registry = Registry(discover=False)
    registry.add_provider(Chat())
    with pytest.raises(PluginError, match="claimed by both"):
        registry.add_provider(ClashingImages())


def test_something_else_is_refused_naming_both_contracts() -> None:
    class Odd:
        @hookimpl
        def kiekit_register_providers(self, register: Callable[[Any], None]) -> None:
            register(object())

    with pytest.raises(PluginError, match="not a Provider or a ChatProvider"):
        Registry(discover=False).add(Odd())


def test_a_chat_id_only_a_pattern_serves_is_unknown_not_a_task() -> None:
    class AnyMarket(MarketProvider):
        name = "any"
        models = (Model("*", Prompt, None),)

    registry = Registry(discover=False)
    registry.add_provider(AnyMarket())
    registry.add_provider(Chat())
    with pytest.raises(UnknownModelError, match="talk-1"):  # the chat ids it does know
        registry.chat_provider("gpt-9")
