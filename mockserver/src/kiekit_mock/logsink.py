"""The command line's log on standard error, written by a thread of its own so that it never
blocks the server.

A parent that pipes the mock's standard error and never reads it (Node's ``spawn`` with
``stdio: ['ignore', 'pipe', 'pipe']``, reading only stdout for the URL) stopped the whole mock
once its pipe held about 64 KiB: a logging call in the event loop blocked in ``write``, and with
it every route, ``/_mock/health`` and the SIGTERM handler (found by a Node tester). Here a
record is formatted where it is logged and put on a bounded queue; a writer thread takes it
off and writes it. Past :data:`QUEUE_RECORDS` waiting, records are dropped and counted, and the
log says ``N log records dropped`` once it can write again, and in all at exit.

The writer writes the stream's file descriptor itself (``os.write``), not the Python stream: a
thread blocked in a buffered stream's ``write`` holds that stream's lock, and Python, flushing
standard error at exit, would then abort ("could not acquire lock … at interpreter shutdown").
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import IO, Final

QUEUE_RECORDS = 10_000  # lines waiting to be written, a few MB at most
EXIT_WAIT = 0.5  # seconds the exit lets the writer finish; a stream nobody reads gets no more
FORMAT = "%(message)s"


class _Dropped:
    """A note on the queue: ``count`` records were dropped here (the log says so in place)."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


_STOP: Final = object()


class _QueueHandler(logging.Handler):
    """Formats a record where it is logged and queues its line, never waiting: a full queue
    drops the line and counts it."""

    def __init__(self, sink: LogSink) -> None:
        super().__init__()
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record whose arguments do not format: logging's own report
            self.handleError(record)
            return
        self._sink.put(line)


class LogSink:
    """Standard error (or another stream) behind a bounded queue and a writer thread."""

    def __init__(self, stream: IO[str], capacity: int = QUEUE_RECORDS) -> None:
        self._write = _writer(stream)
        self._queue: queue.Queue[str | _Dropped | object] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._unsaid = 0  # dropped, not yet said
        self.dropped = 0  # dropped in all
        self.handler: logging.Handler = _QueueHandler(self)
        self.handler.setFormatter(logging.Formatter(FORMAT))
        self._thread = threading.Thread(target=self._drain, name="kiekit-mock-log", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue ``line``; a full queue drops and counts it. Never blocks."""
        with self._lock:  # loggers on any thread; the writer only takes off the queue
            try:
                if self._unsaid:  # said where it happened: room for the note and the line
                    if self._queue.qsize() >= self._queue.maxsize - 1:
                        raise queue.Full
                    self._queue.put_nowait(_Dropped(self._unsaid))
                    self._unsaid = 0
                self._queue.put_nowait(line)
            except queue.Full:
                self._unsaid += 1
                self.dropped += 1

    def _take_unsaid(self) -> int:
        with self._lock:
            count, self._unsaid = self._unsaid, 0
            return count

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._say_dropped(self._take_unsaid())
                if self.dropped:
                    self._say_dropped(self.dropped, total=True)
                return
            if isinstance(item, _Dropped):
                self._say_dropped(item.count)
            elif isinstance(item, str):
                self._line(item)
            if self._queue.empty():  # caught up: drops nothing else was logged after
                self._say_dropped(self._take_unsaid())

    def _say_dropped(self, count: int, *, total: bool = False) -> None:
        if total:
            self._line(
                f"kiekit-mock: {count} log records dropped in all: standard error was "
                "not read fast enough (read it, or inherit or ignore it)"
            )
        elif count:
            self._line(f"kiekit-mock: {count} log records dropped: standard error was not read")

    def _line(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing to say it on
            self._write(text + "\n")

    def close(self, wait: float = EXIT_WAIT) -> None:
        """Stop taking records and let the writer finish, at most ``wait`` seconds: a stream
        nobody reads keeps what is left (the thread is a daemon; the exit does not wait)."""
        try:
            self._queue.put(_STOP, timeout=wait)
        except queue.Full:
            return
        self._thread.join(wait)


def _writer(stream: IO[str]) -> Callable[[str], None]:
    """How the writer thread writes ``stream``: its file descriptor, unbuffered and lock-free,
    when it has one; else the stream itself (an in-memory one, which never blocks)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        fd = stream.fileno()
        stream.flush()  # what was printed before comes first
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):

        def write_stream(text: str) -> None:
            stream.write(text)
            stream.flush()

        return write_stream

    def write_fd(text: str) -> None:
        data = memoryview(text.encode(encoding, errors="backslashreplace"))
        while data:
            data = data[os.write(fd, data) :]

    return write_fd


@contextlib.contextmanager
def logging_to(stream: IO[str], level: int = logging.INFO) -> Iterator[LogSink]:
    """Route the root logger to ``stream`` through a :class:`LogSink` while the block runs."""
    sink = LogSink(stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(sink.handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a warning while serving goes the same way
    try:
        yield sink
    finally:
        logging.captureWarnings(False)
        root.removeHandler(sink.handler)
        root.setLevel(previous)
        sink.close()
