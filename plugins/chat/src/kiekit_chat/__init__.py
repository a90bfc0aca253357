"""kiekit-chat: KIE's chat endpoints — OpenAI-compatible chat completions on per-model paths,
Anthropic messages, OpenAI responses (kie-api.md §5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kiekit.plugin import ChatProvider, hookimpl, version_attribute

from kiekit_chat.completions import GOOGLE_SEARCH, CompletionOptions, CompletionsProvider
from kiekit_chat.messages import MessagesOptions, MessagesProvider
from kiekit_chat.responses import ResponsesOptions, ResponsesProvider

__all__ = [
    "GOOGLE_SEARCH",
    "CompletionOptions",
    "CompletionsProvider",
    "MessagesOptions",
    "MessagesProvider",
    "ResponsesOptions",
    "ResponsesProvider",
    "kiekit_register_providers",
]


@hookimpl
def kiekit_register_providers(register: Callable[[ChatProvider], None]) -> None:
    register(CompletionsProvider())
    register(MessagesProvider())
    register(ResponsesProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-chat")
