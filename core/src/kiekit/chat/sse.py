"""A sans-I/O decoder of server-sent events (the WHATWG ``text/event-stream`` format).

Bytes go in as they arrive, in chunks of any size (a chunk may end inside a line, inside a
UTF-8 character or between the ``\\r`` and ``\\n`` of one line end); whole events come out.
KIE streams chat answers this way when a request says ``stream: true`` (kie-api.md §5).
"""

from __future__ import annotations

import codecs

from kiekit.chat.types import SseEvent

__all__ = ["SseDecoder"]


class SseDecoder:
    """``feed(chunk)`` returns the events the chunk completes; ``close()`` those left over.

    Per the format: ``data:`` lines of one event are joined with newlines, a blank line ends
    the event, ``:`` lines are comments, an event with no data is not dispatched, and the
    first space after a field's colon is dropped.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._after_cr = False  # the last chunk ended with \r: a \n next is the same line end
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        return self._text(self._decoder.decode(chunk))

    def close(self) -> list[SseEvent]:
        """The end of the stream: a last line without its line end still counts as a line; an
        event not ended by a blank line is dropped, as the format says."""
        events = self._text(self._decoder.decode(b"", final=True))
        if self._line:
            events += self._take_line()
        return events

    def _text(self, text: str) -> list[SseEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        events: list[SseEvent] = []
        for char in text:
            if self._after_cr:
                self._after_cr = False
                if char == "\n":
                    continue
            if char in "\r\n":
                self._after_cr = char == "\r"
                events += self._take_line()
            else:
                self._line += char
        return events

    def _take_line(self) -> list[SseEvent]:
        line, self._line = self._line, ""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return []  # retry: and unknown fields are ignored

    def _dispatch(self) -> list[SseEvent]:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return []
        return [SseEvent(data="\n".join(data), event=event or "message", id=self._id)]
