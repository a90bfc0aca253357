"""Standard output and error as ``kie`` uses them, whatever they turn out to be.

Results go to standard output; it may refuse them: a full disk (``ENOSPC``), a reader gone (a
broken pipe), a descriptor closed before kie started (``kie run >&-``: Python makes
``sys.stdout`` None), or an encoding that cannot hold the text (a latin-1 locale, a Windows
console: cp1252). Each is told in one line, never a traceback, but a reader gone, which is
told by the exit status alone (141, :class:`_Escaping`); text the encoding lacks is written
escaped (``\\U0001f30d``), as Python writes it to standard error.

Messages go to standard error, and a paid run must never stop for one: a standard error that
is closed (``2>&-``: None, and ``print(file=None)`` writes to standard output, which carries
results only) or refuses a write drops the message.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from kiekit._paths import message_text

__all__ = [
    "StdoutError",
    "json_text",
    "require_stdout",
    "standard_streams",
    "stdout_to_nowhere",
    "stdout_told_apart",
]


class StdoutError(Exception):
    """Standard output refused a write (``ENOSPC``, ``EIO``, closed): said to be stdout's,
    since the bare "No space left on device" reads as the disk the command downloads to."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Closed(io.TextIOBase):
    """A standard stream that was closed before kie started: every write fails, as a write to
    a closed descriptor does."""

    def write(self, text: str) -> int:
        raise StdoutError(OSError(errno.EBADF, "it is closed"))

    def writable(self) -> bool:
        return False


class _Escaping:
    """Standard output for the whole command: argparse writes ``--help`` there itself, and
    its text (``…``) must reach an ASCII or latin-1 one (``LC_ALL=C``), escaped where the
    encoding lacks a character, not end in a traceback.

    A broken pipe (``kie run … | head -1``: the reader has what it wanted) stops no work: what
    is written after it goes to the null device, and ``reader_gone`` tells ``kie`` to end with
    SIGPIPE's status once the command is done (a task paid for is still waited for, fetched
    and journaled; ``kie resume`` and ``kie batch`` finish every task they took on)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # nothing was written: the whole text is encoded first
                return self._stream.write(_escaped(text, self._stream))
        except BrokenPipeError:
            self._gone()
            return len(text)
        except OSError as exc:  # a full disk under an error's JSON: told, not a traceback
            raise StdoutError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            raise StdoutError(exc) from exc

    def _gone(self) -> None:
        self.reader_gone = True
        stdout_to_nowhere()  # what the buffer holds, and all after it, go nowhere

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Stdout:
    """``sys.stdout`` during a command: a failed write or flush raises :class:`StdoutError`
    (a broken pipe is :class:`_Escaping`'s, beneath it); text its encoding cannot hold is
    escaped; the rest is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # nothing was written: the whole text is encoded first
                return self._stream.write(_escaped(text, self._stream))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Stderr(io.TextIOBase):
    """``sys.stderr`` during a command: a write it refuses is dropped, and so is every one
    after it (a message must not stop a run that has paid); text its encoding cannot hold is
    escaped, as Python's own standard error does. A path a C locale carries as surrogates
    (``LC_ALL=C``: ``фото.png`` typed, or listed by the file system) is spelt as the text it
    is (_paths.message_text), as standard output and JSON name it, never as its raw bytes'
    escapes (``\\udcd1\\udc84``)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        stream = self._stream
        if stream is not None:
            text = message_text(text)  # one place: every message, a path in an error too
            try:
                try:
                    stream.write(text)
                except UnicodeEncodeError:
                    stream.write(_escaped(text, stream))
            except (OSError, ValueError):  # ValueError: a file closed under it
                self._stream = None
        return len(text)

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._stream = None

    def isatty(self) -> bool:  # no terminal, no progress bar drawn (cli._common.progress_bars)
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("standard error is closed")
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"


def json_text(value: Any) -> str:
    """``value`` as JSON for standard output, as readable as its encoding allows: characters
    as they are, and JSON's own ``\\u`` escapes (Python's ``\\U0001f30d`` is no JSON) for each
    one it cannot carry (``é`` stays as is in latin-1, ``Кот`` is escaped there). Every JSON
    kie prints goes through here: ``--json``'s objects, errors included, and ``kie tasks``."""
    text = json.dumps(value, ensure_ascii=False)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:  # only inside JSON's strings: all else json.dumps writes is ASCII
        return _NOT_ASCII.sub(lambda found: _json_escaped(found[0], encoding), text)
    except LookupError:
        return json.dumps(value)
    return text


_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def _json_escaped(character: str, encoding: str) -> str:
    try:
        character.encode(encoding)
    except UnicodeEncodeError:
        return json.dumps(character)[1:-1]  # "\\u041a"; a lone surrogate "\\udcff"
    return character


def _escaped(text: str, stream: TextIO) -> str:
    """``text`` with what ``stream``'s encoding lacks written as Python escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


def require_stdout() -> None:
    """Refuse, before a paid call whose answer only standard output keeps (a chat answer: no
    journal holds it), when standard output was closed before kie started."""
    writable = getattr(sys.stdout, "writable", None)
    if writable is not None and not writable():
        raise StdoutError(OSError(errno.EBADF, "it is closed"))


@contextlib.contextmanager
def standard_streams() -> Iterator[_Escaping | None]:
    """Standard output and error as the class docstrings above say, for the whole command
    (its usage errors too); the streams themselves again after it (a caller that runs several
    commands in one process: tests). Yields standard output (None when it was closed), whose
    ``reader_gone`` says whether its reader left before all was written."""
    out, err = sys.stdout, sys.stderr
    sys.stderr = _Stderr(err)
    told = None
    if out is None:  # `>&-`: every write fails, told as a full disk's is
        sys.stdout = _Closed()
    else:
        told = _Escaping(out)
        sys.stdout = told  # a TextIO in all but name
    try:
        yield told
    finally:
        sys.stdout, sys.stderr = out, err


@contextlib.contextmanager
def stdout_told_apart() -> Iterator[None]:
    """``sys.stdout`` as :class:`_Stdout` while a command's handler runs."""
    stream = sys.stdout
    sys.stdout = _Stdout(stream)  # a TextIO in all but name
    try:
        yield
    finally:
        sys.stdout = stream


def stdout_to_nowhere() -> None:
    """What is left in stdout's buffer goes to the null device: stdout failed, and was told
    (else Python's flush at exit fails again, exit status 120). A closed one has none."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # None, or kie's stand-in for a closed one
        return
    os.dup2(os.open(os.devnull, os.O_WRONLY), descriptor)
