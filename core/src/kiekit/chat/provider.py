"""The ChatProvider contract: pure translation between kiekit's chat values and one of KIE's
chat wire shapes.

KIE's chat endpoints are not tasks (kie-api.md §5): one call answers at once, whole or as
server-sent events, and there is no task id to poll. So a chat provider is not a
:class:`~kiekit.provider.Provider` with a pretend lifecycle; it has its own three operations —
build the request, read a whole answer, read one event of a streamed answer — and registers
through the same ``kiekit_register_providers`` hook and entry-point group (tagged
``[text, chat, streaming]``). Like every provider it never does I/O (DESIGN.md rule 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from kiekit.chat.types import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatReply,
    Message,
    MessagesLike,
    SseEvent,
    messages_of,
)
from kiekit.errors import UnknownModelError
from kiekit.fields import make_input
from kiekit.models import Request

__all__ = ["ChatProvider"]


class ChatProvider(ABC):
    """One of KIE's chat APIs: the models it owns and how to speak to them.

    Subclasses set ``name`` and ``models`` and implement :meth:`build_request`,
    :meth:`parse_reply` and :meth:`parse_event`. ``parse_*`` return a value, a
    :class:`ChatFailure` for an error the answer itself reports, or raise ProtocolError —
    nothing else, whatever the payload.
    """

    name: ClassVar[str]
    models: ClassVar[tuple[ChatModel, ...]]

    def find(self, model_id: str) -> ChatModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def model(self, model_id: str) -> ChatModel:
        found = self.find(model_id)
        if found is None:
            raise UnknownModelError(model_id, [m.id for m in self.models])
        return found

    def make_call(
        self,
        model_id: str,
        messages: MessagesLike,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        from_text: bool = False,
    ) -> ChatCall:
        """Validate messages and options before anything is sent: ValidationError names the
        field (``messages[1].content``, ``response_format``). ``from_text``: option values are
        command-line strings (``"true"``, ``"5"``, JSON for ``tools``)."""
        model = self.model(model_id)
        checked = messages_of(messages, system=system)
        params = make_input(model.options, dict(options or {}), from_text=from_text)
        self.check(model_id, checked)
        return ChatCall(model=model_id, messages=checked, options=params)

    def check(self, model_id: str, messages: tuple[Message, ...]) -> None:
        """Rules of this API on the messages (raise ValidationError); none by default."""
        return

    @abstractmethod
    def build_request(self, call: ChatCall, *, stream: bool) -> Request:
        """The HTTP call for ``call``; with ``stream`` it asks for server-sent events."""

    @abstractmethod
    def parse_reply(self, model_id: str, payload: Any) -> ChatReply | ChatFailure:
        """A whole (non-streamed) answer's JSON."""

    @abstractmethod
    def parse_event(self, model_id: str, event: SseEvent) -> ChatDelta | ChatFailure | None:
        """One event of a streamed answer; None for events that carry nothing for the user
        (pings, block starts). The delta with ``done`` set ends the answer."""
