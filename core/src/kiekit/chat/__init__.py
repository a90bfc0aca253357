"""Chat with KIE's language models: synchronous answers and server-sent-event streams.

- :class:`ChatProvider` — the contract a chat plugin implements (pure: no I/O);
- the values: :class:`Message`, :class:`ChatReply`, :class:`ChatDelta`, :class:`Usage` …;
- :class:`SseDecoder` — a sans-I/O decoder of ``text/event-stream`` bytes;
- :class:`ChatStream` / :class:`AsyncChatStream` — what ``Client.chat_stream`` and
  ``AsyncClient.chat_stream`` return.

Chat calls are not tasks (kie-api.md §5): ``Client.chat`` answers at once, and nothing is
polled. See ``Client.chat`` / ``Client.chat_stream`` and ``kie chat``.
"""

from typing import TYPE_CHECKING, Any

from kiekit.chat.options import json_object, json_objects
from kiekit.chat.provider import ChatProvider
from kiekit.chat.sse import SseDecoder
from kiekit.chat.types import (
    CHAT_DEADLINE,
    ROLES,
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatOptions,
    ChatReply,
    ImagePart,
    Message,
    MessagesLike,
    SseEvent,
    TextPart,
    ThinkingBlock,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    messages_of,
)

__all__ = [
    "CHAT_DEADLINE",
    "ROLES",
    "AsyncChatStream",
    "ChatCall",
    "ChatDelta",
    "ChatFailure",
    "ChatModel",
    "ChatOptions",
    "ChatProvider",
    "ChatReply",
    "ChatStream",
    "ImagePart",
    "Message",
    "MessagesLike",
    "SseDecoder",
    "SseEvent",
    "TextPart",
    "ThinkingBlock",
    "ThinkingDelta",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "json_object",
    "json_objects",
    "messages_of",
]

if TYPE_CHECKING:
    from kiekit.chat._streams import AsyncChatStream, ChatStream

# The streams need the engine (and it the registry, which knows ChatProvider): imported on
# first use, so that a plugin's ``from kiekit.chat import ChatProvider`` stays light.
_LAZY = {"ChatStream", "AsyncChatStream"}


# Hidden from type checkers, for which it would make every name exist (as Any).
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            from kiekit.chat import _streams

            return getattr(_streams, name)
        raise AttributeError(f"module 'kiekit.chat' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
