"""A sans-I/O decoder of server-sent events (the WHATWG ``text/event-stream`` format).

Bytes go in as they arrive, in chunks of any size (a chunk may end inside a line, inside a
UTF-8 character or between the ``\\r`` and ``\\n`` of one line end); whole events come out.
KIE streams chat answers this way when a request says ``stream: true`` (kie-api.md §5).
"""

from __future__ import annotations

import codecs
import re

from kiekit.chat.types import SseEvent

__all__ = ["SseDecoder"]

_LINE_END = re.compile(r"\r\n|\r|\n")


class SseDecoder:
    """``feed(chunk)`` returns the events the chunk completes; ``close()`` those left over.

    Per the format: ``data:`` lines of one event are joined with newlines, a blank line ends
    the event, ``:`` lines are comments, an event with no data is not dispatched, and the
    first space after a field's colon is dropped.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The unfinished line, in pieces joined once it ends: re-joining it on every chunk made
        # an endless line cost quadratic time (a 1 MiB line took half a minute)
        self._pieces: list[str] = []
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
        if self._pieces:
            events += self._take_line()
        return events

    def _text(self, text: str) -> list[SseEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text:
            self._after_cr = False
            text = text.removeprefix("\n")  # the \n of a \r\n cut between two chunks
        events: list[SseEvent] = []
        start = 0
        for end in _LINE_END.finditer(text):
            self._pieces.append(text[start : end.start()])
            events += self._take_line()
            start = end.end()
        if start < len(text):
            self._pieces.append(text[start:])
        if text:
            self._after_cr = text.endswith("\r")
        return events

    def _take_line(self) -> list[SseEvent]:
        line, self._pieces = "".join(self._pieces), []
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
