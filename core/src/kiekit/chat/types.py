"""The values of a chat call: messages in, a reply (or deltas of one) out.

KIE's chat endpoints are not tasks (kie-api.md §5: synchronous, no taskId): a call answers at
once, whole or as server-sent events. These types are kiekit's own, the same whichever of KIE's
three wire shapes (OpenAI chat completions, Anthropic messages, OpenAI responses) carried them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from attrs import field, frozen

from kiekit.errors import ValidationError
from kiekit.fields import Input

__all__ = [
    "ROLES",
    "ChatCall",
    "ChatDelta",
    "ChatFailure",
    "ChatModel",
    "ChatReply",
    "ImagePart",
    "Message",
    "MessagesLike",
    "Part",
    "SseEvent",
    "TextPart",
    "Usage",
    "messages_of",
]

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@frozen
class TextPart:
    text: str


@frozen
class ImagePart:
    """An image the model reads: an http(s) URL or a ``data:image/…`` URL."""

    url: str


Part = TextPart | ImagePart


@frozen
class Message:
    role: Role
    content: str | tuple[Part, ...]

    @property
    def text(self) -> str:
        """The message's text, its parts' texts joined."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


MessagesLike = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]


@frozen
class ChatModel:
    """A chat model id a provider owns and the :class:`~kiekit.fields.Input` class of its
    options (``reasoning_effort``, ``tools`` …), validated before any request."""

    id: str
    options: type[Input]


@frozen
class ChatCall:
    """A validated chat call: what a provider turns into a request."""

    model: str
    messages: tuple[Message, ...]
    options: Input


@frozen
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


@frozen
class ChatReply:
    """A whole answer. ``credits``: what KIE charged, where it says (``credits_consumed``);
    ``thinking``: the reasoning text a model streamed or returned beside its answer."""

    text: str
    model: str
    usage: Usage | None = None
    credits: float | None = None
    finish_reason: str | None = None
    thinking: str = ""
    raw: Any = field(default=None, eq=False, repr=False)


@frozen
class ChatDelta:
    """One server-sent event, read: new text, and what the last events add (usage, credits,
    the finish reason). ``done`` marks the event that ends the answer."""

    text: str = ""
    thinking: str = ""
    model: str | None = None
    usage: Usage | None = None
    credits: float | None = None
    finish_reason: str | None = None
    done: bool = False
    raw: Any = field(default=None, eq=False, repr=False)


@frozen
class ChatFailure:
    """An error KIE or the model reported inside an answer or a stream; the client raises the
    typed :class:`~kiekit.errors.ApiError` for ``code``."""

    code: int
    message: str


@frozen
class SseEvent:
    """One server-sent event (``event:`` defaults to ``message``; ``data:`` lines joined)."""

    data: str
    event: str = "message"
    id: str | None = None

    def json(self) -> Any:
        """The data as JSON; ValueError when it is not."""
        return json.loads(self.data)


def messages_of(messages: MessagesLike, *, system: str | None = None) -> tuple[Message, ...]:
    """Messages from what a user gives: a prompt string, a :class:`Message`, a mapping in
    OpenAI's shape (``{"role", "content"}``, content a string or ``text`` / ``image_url``
    parts), or a list of those. ``system`` is put first. ValidationError names the place."""
    if isinstance(messages, (str, Message, Mapping)):
        given: list[Any] = [messages]
    elif isinstance(messages, Sequence):
        given = list(messages)
    else:
        raise ValidationError(
            "messages", f"must be a prompt or a list, not {type(messages).__name__}"
        )
    read = [_message(f"messages[{i}]", item) for i, item in enumerate(given)]
    if system is not None:
        if not isinstance(system, str) or not system.strip():
            raise ValidationError("system", "must be a non-empty string")
        read.insert(0, Message("system", system))
    if not any(m.role != "system" for m in read):
        raise ValidationError("messages", "must hold at least one user or assistant message")
    return tuple(read)


def _message(where: str, item: Any) -> Message:
    if isinstance(item, str):
        item = {"role": "user", "content": item}
    if isinstance(item, Message):
        item = {"role": item.role, "content": item.content}
    if not isinstance(item, Mapping):
        raise ValidationError(where, "must be an object with role and content")
    role = item.get("role")
    if role not in ROLES:
        raise ValidationError(f"{where}.role", f"must be one of {', '.join(ROLES)}; got {role!r}")
    content = item.get("content")
    if isinstance(content, str):
        if not content.strip():
            raise ValidationError(f"{where}.content", "must not be empty")
        return Message(role, content)
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)) and content:
        parts = tuple(_part(f"{where}.content[{i}]", p) for i, p in enumerate(content))
        return Message(role, parts)
    raise ValidationError(f"{where}.content", "must be a non-empty string or list of parts")


def _part(where: str, part: Any) -> Part:
    if isinstance(part, (TextPart, ImagePart)):
        part = (
            {"type": "text", "text": part.text}
            if isinstance(part, TextPart)
            else {"type": "image_url", "image_url": {"url": part.url}}
        )
    if isinstance(part, str):
        part = {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        raise ValidationError(where, "must be a text or image_url part")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str) or not text:
            raise ValidationError(f"{where}.text", "must be a non-empty string")
        return TextPart(text)
    if kind == "image_url":  # kie-api.md §5: media always as {type: image_url, image_url: {url}}
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not _is_image_url(url):
            raise ValidationError(f"{where}.image_url.url", "must be an http(s) or data:image URL")
        return ImagePart(str(url))
    raise ValidationError(f"{where}.type", f"must be 'text' or 'image_url'; got {kind!r}")


def _is_image_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith("data:image/"):
        return ";base64," in value
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and value == value.strip()
