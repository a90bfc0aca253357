"""``kie chat MODEL "hello"``: ask a chat model; its answer streams to standard output.

Chat models answer at once, not as tasks (kie-api.md §5). Tokens go to standard output as they
arrive (``--no-stream``: the whole answer at the end; ``--json``: one JSON object with the text,
tool calls, usage and credits); a summary line (model, tokens, credits) goes to standard error.
A tool call the model made (``--option tools=[…]``) follows the text on standard output, one
line each: ``tool_call NAME ARGUMENTS`` (the arguments as one line of JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any

from kiekit._numbers import plain
from kiekit.cli._common import Commands, add_connection_options, emit, open_client, say
from kiekit.cli._preflight import is_stdin
from kiekit.cli._streams import json_text, require_stdout
from kiekit.cli.run import _input_values

if TYPE_CHECKING:
    from kiekit.chat import ChatReply, ToolCall


def register(commands: Commands) -> None:
    chat = commands.add_parser("chat", help="ask a chat model; the answer streams to stdout")
    chat.add_argument(
        "model", metavar="MODEL", help="a chat model id, e.g. gpt-5-2 (see `kie providers`)"
    )
    chat.add_argument(
        "prompt",
        metavar="PROMPT",
        help="what to ask; - reads it from standard input (UTF-8 text, as large as the model "
        "takes: `… | kie chat MODEL -`)",
    )
    chat.add_argument("--system", default=None, help="a system message to put first")
    chat.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="FILE|URL",
        help="an image for the model to read (repeatable): a local image file (sent inline), "
        "an http(s) or a data:image/… URL",
    )
    chat.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model option (repeatable), e.g. --option reasoning_effort=low",
    )
    chat.add_argument(
        "--no-stream", dest="stream", action="store_false", help="ask for the whole answer at once"
    )
    chat.add_argument(
        "--json", action="store_true", help="print the reply as one JSON object (text, usage…)"
    )
    add_connection_options(chat)
    chat.set_defaults(handler=_chat)


# The largest local image sent inline: the three chat APIs' own per-image limits are 5–20 MB
MAX_INLINE_IMAGE = 20 * 2**20


def _image_url(given: str) -> str:
    """An ``--image`` as the URL a message carries: a URL as given; a local image file (as
    ``kie run --image`` takes one, judged by its content) inline, as a ``data:image/…;base64,``
    URL, so nothing is uploaded for it."""
    from kiekit.errors import FileReadError, ValidationError

    if given.startswith(("http://", "https://", "data:")):
        return given
    if not given:  # Path("") is ".", the current folder
        raise ValidationError(
            "--image", "is empty: give an image file, an http(s) or data:image URL"
        )
    import base64
    from pathlib import Path

    from kiekit._paths import native
    from kiekit.cli._preflight import image_type, shown

    try:
        path = Path(native(given)).expanduser()
    except RuntimeError as exc:  # no HOME, and no passwd entry for this user (a container's)
        raise ValidationError(
            "--image", f"{given}: no home directory to expand ~ to; give the full path"
        ) from exc
    try:
        is_file = path.is_file()
    except OSError as exc:  # a name too long: ENAMETOOLONG, which is_file() lets through
        raise ValidationError("--image", f"{shown(path)}: {exc.strerror or exc}") from exc
    if not is_file:
        raise ValidationError(
            "--image", f"{given}: no such file (give an image file, an http(s) or data:image URL)"
        )
    media_type = image_type("--image", path)
    try:
        size = path.stat().st_size
        if size > MAX_INLINE_IMAGE:
            raise ValidationError(
                "--image", f"{given}: {size:,} bytes, more than a chat API takes inline; "
                "upload it (`kie upload`) and give its URL"
            )  # fmt: skip
        data = path.read_bytes()
    except OSError as exc:
        raise FileReadError(f"--image {given}: {exc.strerror or exc}", path=path) from exc
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


_SLICE = 2**16  # standard input is read this many bytes at a time


def prompt_from_stdin(field: str) -> str:
    """``kie chat MODEL -``: the prompt read from standard input, as ``kie batch -`` and ``kie
    upload -`` read theirs; the only way to a prompt past Linux's 128 KiB cap on one argument.
    Read a slice at a time and decoded as it comes (a character cut between two slices is
    joined again), so a large prompt is no larger in memory than its text. Refused, naming
    ``field``, before anything is sent: a closed or empty standard input (a prompt of nothing
    is no question, and it would be paid for), or bytes that are not UTF-8 (saying where)."""
    import codecs

    from kiekit.errors import ValidationError

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # `<&-`: Python makes sys.stdin None
        raise ValidationError(field, "- reads standard input, which is closed")
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts: list[str] = []
    read = 0  # bytes decoded so far, but those the decoder holds (a character's first bytes)
    held = 0
    try:
        while chunk := stream.read(_SLICE):
            held = len(decoder.getstate()[0])
            parts.append(decoder.decode(chunk))
            read += len(chunk)
        held = len(decoder.getstate()[0])
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:  # exc.start counts from the bytes held before ``chunk``
        at = read - held + exc.start + 1
        raise ValidationError(
            field,
            f"standard input is not UTF-8 text (its byte {at} is {exc.object[exc.start]:#04x}: "
            "Windows-1251, Shift-JIS, UTF-16?): convert it to UTF-8, e.g. with iconv",
        ) from None
    prompt = "".join(parts).removeprefix("\ufeff")  # a byte order mark is no text
    if not prompt.strip():
        raise ValidationError(field, "is empty: standard input held no text (nothing was sent)")
    return prompt


def _chat(args: argparse.Namespace) -> int:
    import attrs

    from kiekit.registry import default_registry

    provider = default_registry().chat_provider(args.model)
    prompt: Any = prompt_from_stdin("PROMPT") if is_stdin(args.prompt) else args.prompt
    if args.image:  # kie-api.md §5: media as image_url parts of the message's content
        images = [{"type": "image_url", "image_url": {"url": _image_url(i)}} for i in args.image]
        prompt = [{"role": "user", "content": [{"type": "text", "text": prompt}, *images]}]
    call = provider.make_call(  # validated before any I/O; option values read as text
        args.model,
        prompt,
        system=args.system,
        options=_input_values(args.option),
        from_text=True,
    )
    options: dict[str, Any] = {
        a.name: getattr(call.options, a.name)
        for a in attrs.fields(type(call.options))
        if getattr(call.options, a.name) is not None
    }
    require_stdout()  # closed: the answer, paid for, would be lost
    with contextlib.ExitStack() as stack:
        client = open_client(args, stack)
        if not args.stream:
            reply = client.chat(args.model, call.messages, **options)
            if not args.json and (reply.text or not reply.tool_calls):
                print(reply.text)
        else:
            wrote = False
            try:
                with client.chat_stream(args.model, call.messages, **options) as stream:
                    for delta in stream:
                        if delta.text and not args.json:
                            sys.stdout.write(delta.text)
                            sys.stdout.flush()
                            wrote = True
            finally:
                if wrote and stream.reply is None:  # cut short: end the partial line
                    print()
            assert stream.reply is not None  # the stream was read to its end
            reply = stream.reply
            if not args.json and (wrote or not reply.tool_calls):
                print()
        if not args.json:
            for tool_call in reply.tool_calls:
                print(_tool_call_line(tool_call))
    emit(args, "chat", reply_record(reply))  # with --json: {"ok": true, "command": "chat", ...}
    say(_summary(reply))
    return 0


def reply_record(reply: ChatReply) -> dict[str, Any]:
    usage = reply.usage
    return {
        "model": reply.model,
        "text": reply.text,
        "thinking": reply.thinking or None,
        "finish_reason": reply.finish_reason,
        "usage": None
        if usage is None
        else {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        "credits": reply.credits,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in reply.tool_calls
        ],
    }


def _tool_call_line(call: ToolCall) -> str:
    """A call as a script reads it: a word, the tool's name, its arguments as one JSON line
    (the model's own text may span lines; the parsed object is written again)."""
    return f"tool_call {call.name} {json_text(call.arguments)}"


def _summary(reply: ChatReply) -> str:
    parts = [reply.model]
    if reply.usage is not None:
        parts.append(f"{reply.usage.input_tokens} in / {reply.usage.output_tokens} out tokens")
    if reply.credits is not None:
        parts.append(f"{plain(reply.credits)} credits")
    return "; ".join(parts)
