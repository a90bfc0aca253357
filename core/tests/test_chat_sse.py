"""The sans-I/O event-stream decoder: the WHATWG text/event-stream rules, and the same events
however the bytes are cut into chunks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from kiekit.chat import SseDecoder, SseEvent


def decode(raw: bytes, *, cuts: list[int] | None = None) -> list[SseEvent]:
    decoder = SseDecoder()
    events: list[SseEvent] = []
    start = 0
    for cut in sorted(cuts or []):
        events += decoder.feed(raw[start:cut])
        start = cut
    events += decoder.feed(raw[start:])
    return events + decoder.close()


def test_data_lines_join_with_newlines_and_a_blank_line_ends_the_event() -> None:
    raw = b"data: first\ndata: second\n\ndata:third\n\n"
    assert decode(raw) == [SseEvent("first\nsecond"), SseEvent("third")]


def test_event_names_ids_and_comments() -> None:
    raw = b": keep-alive\nevent: message_start\nid: 7\ndata: {}\n\ndata: x\n\n"
    assert decode(raw) == [
        SseEvent("{}", event="message_start", id="7"),
        SseEvent("x", id="7"),  # the last id stays; the event name does not
    ]


def test_only_the_first_space_after_the_colon_is_dropped() -> None:
    assert decode(b"data:  two spaces\n\n") == [SseEvent(" two spaces")]


def test_a_field_without_colon_is_an_empty_value() -> None:
    assert decode(b"data\ndata\n\n") == [SseEvent("\n")]


def test_an_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\n: comment\n\nretry: 10\n\n") == []


def test_crlf_cr_and_lf_line_ends_and_a_leading_bom() -> None:
    raw = "\ufeffdata: a\r\n\r\ndata: b\r\rdata: c\n\n".encode()
    assert decode(raw) == [SseEvent("a"), SseEvent("b"), SseEvent("c")]


def test_an_event_not_ended_by_a_blank_line_is_dropped_at_the_end() -> None:
    assert decode(b"data: whole\n\ndata: cut sh") == [SseEvent("whole")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: \xff\n\n") == [SseEvent("\ufffd")]


names = st.sampled_from(["", "message_start", "content_block_delta", "response.completed"])
texts = st.text(st.characters(exclude_characters="\r\n\x00", codec="utf-8"), max_size=30)
events = st.lists(st.tuples(names, st.lists(texts, min_size=1, max_size=3)), max_size=6)


@given(
    events=events,
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    data=st.data(),
)
def test_any_cut_of_the_bytes_gives_the_same_events(
    events: list[tuple[str, list[str]]], line_end: str, data: st.DataObject
) -> None:
    text = ""
    expected = []
    for name, lines in events:
        if name:
            text += f"event: {name}{line_end}"
        text += "".join(f"data: {line}{line_end}" for line in lines)
        text += line_end
        expected.append(SseEvent("\n".join(lines), event=name or "message"))
    raw = text.encode()
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8), label="cuts")
    assert decode(raw, cuts=cuts) == expected
