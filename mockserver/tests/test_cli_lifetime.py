"""The command line's mock as a program of another language runs it (a Node tester's findings):
its stderr piped and never read, its parent dying, a stop while a request still arrives, and
the one JSON line that says where it listens.

Every wait is on an event (a line on a pipe, its end, a process's exit), bounded only so that a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pipes")

BOUND = 30.0  # seconds a wait may take before the test fails: a hang guard, never a delay
MOCK = [sys.executable, "-m", "kiekit_mock", "--port", "0", "--upload-port", "0"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}


class Lines:
    """A pipe read line by line, each read waiting at most BOUND seconds."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.seen: list[str] = []

    def next(self) -> str | None:
        """The next line, or None at the pipe's end (every writer gone)."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], BOUND)
            assert ready, f"no line in {BOUND} s; so far: {self.seen}"
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        self.seen.append(line.decode())
        return self.seen[-1]

    def until(self, pattern: str) -> str:
        while (line := self.next()) is not None:
            if re.search(pattern, line):
                return line
        raise AssertionError(f"the pipe ended before {pattern!r}; lines: {self.seen}")

    def end(self) -> None:
        """Read to the pipe's end: every process holding its write end has exited."""
        while self.next() is not None:
            pass


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=BOUND).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, killed at its end if still running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _ready(lines: Lines) -> dict[str, Any]:
    ready: dict[str, Any] = json.loads(lines.until(r'^\{"event": "ready"'))
    return ready


# --- --ready-json ---------------------------------------------------------------------------


def test_ready_json_is_one_json_line_alone_on_stdout_once_both_hosts_answer(
    processes: list[subprocess.Popen[bytes]], kie_at: Callable[..., Any]
) -> None:
    """The URLs came only inside English prose (a Node client had to regex it), one line on
    stderr and the rest on stdout."""
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [*MOCK, "--ready-json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )
    processes.append(process)
    assert process.stdout is not None
    first = Lines(process.stdout.fileno()).next()
    assert first is not None
    ready = json.loads(first)
    assert ready["event"] == "ready"
    assert ready["pid"] == process.pid
    base, upload = ready["base_url"], ready["upload_base_url"]
    assert base == f"http://127.0.0.1:{ready['port']}"
    assert upload == f"http://127.0.0.1:{ready['upload_port']}"
    assert ready["inspector_url"] == base + "/_mock/ui"
    assert ready["health_url"] == base + "/_mock/health"
    kie = kie_at(base)
    assert kie.fetch(ready["health_url"]).status == 200  # accepting already: no retry loop
    assert kie.fetch(ready["inspector_url"]).status == 200
    assert kie.fetch(upload + "/api/file-stream-upload", method="POST").status == 200
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=BOUND)
    assert process.returncode == 0
    assert out == b""  # nothing after the JSON line
    assert f"KIE API mock listening on {base}" in err.decode()  # the prose: on stderr


# --- a parent that never reads stderr --------------------------------------------------------


def test_a_parent_that_never_reads_stderr_cannot_freeze_the_mock(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """Once ~64 KiB of log waited in a pipe nobody read, every route timed out, /_mock/health
    too, and SIGTERM did nothing: the event loop was blocked writing the log."""
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [*MOCK, "--ready-json", "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # never read until the mock has exited
        env=_env(),
    )
    processes.append(process)
    assert process.stdout is not None
    port = _ready(Lines(process.stdout.fileno()))["port"]
    padding = "x" * 2000  # each access-log line carries its request line: ~2 KB a request
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        answers = sock.makefile("rb")
        for index in range(300):  # ~600 KB of log, 9 pipes' worth
            path = "/_mock/health" if index == 299 else f"/nowhere/{index}?pad={padding}"
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            status = answers.readline()  # the socket's timeout: a frozen mock fails here
            assert status.split()[1] in (b"200", b"404"), status
            length = 0
            while (header := answers.readline()) != b"\r\n":
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            answers.read(length)
        assert status.split()[1] == b"200"  # the health route, after all that
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=BOUND) == 0
    assert process.stderr is not None
    # what the pipe took was written; the rest, queued behind it, went with the process
    assert b"GET /nowhere/0?pad=" in process.stderr.read()


def test_the_log_drops_what_a_full_queue_cannot_take_and_says_how_many() -> None:
    """The writer thread blocked on a full pipe, and the queue full behind it: records are
    dropped and counted, never waited for; once the pipe is read the log says how many."""
    from kiekit_mock.logsink import LogSink

    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"." * 65536)  # fill the pipe: the writer's first write blocks
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    with os.fdopen(write_end, "w", closefd=False) as stream:
        sink = LogSink(stream, capacity=5)
        for index in range(60):  # never blocks, whatever the writer is doing
            sink.put(f"record {index}")
        assert sink.dropped >= 60 - 5 - 1  # 5 queued, at most 1 taken by the blocked writer
        dropped = sink.dropped
        drained = bytearray()
        reader = _drain_in_thread(read_end, drained)
        sink.close(wait=BOUND)
    os.close(write_end)
    reader.join(BOUND)
    os.close(read_end)
    lines = drained.decode().lstrip(".").splitlines()
    note = f"kiekit-mock: {dropped} log records dropped: standard error was not read"
    kept = [f"record {index}" for index in range(60 - dropped)]
    total = (
        f"kiekit-mock: {dropped} log records dropped in all: standard error was not read "
        "fast enough (read it, or inherit or ignore it)"
    )
    assert lines == [*kept, note, total]  # said where the gap is, and at the end


def _drain_in_thread(fd: int, into: bytearray) -> Any:
    import threading

    def drain() -> None:
        while chunk := os.read(fd, 65536):
            into.extend(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def test_a_malformed_request_is_logged_in_one_line_without_a_traceback(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [*MOCK, "--ready-json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )
    processes.append(process)
    assert process.stdout is not None
    port = _ready(Lines(process.stdout.fileno()))["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert sock.makefile("rb").readline().split()[1] == b"400"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=BOUND)
    logged = err.decode()
    assert "Traceback" not in logged
    [line] = [line for line in logged.splitlines() if "malformed" in line]
    assert line.startswith("kiekit-mock: refused a malformed HTTP request from 127.0.0.1 (400):")


# --- the parent dies ---------------------------------------------------------------------------

# A parent, as a test runner is: it starts the mock (which writes straight to the test's pipe),
# then ends when told, as a crashed runner does.
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys
    mock = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)  # holds the mock's stdin
    sys.stdin.readline()  # "die": a line from the test
    os._exit(3)
    """
)


def _orphaned_mock(
    processes: list[subprocess.Popen[bytes]], flags: list[str], env: dict[str, str], how: str
) -> tuple[Lines, dict[str, Any]]:
    """Start the mock through PARENT, read its ready line, end the parent (``how``: "exit",
    the parent exits itself; "kill", SIGKILL). The mock's stdout is the test's pipe."""
    parent = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [sys.executable, "-c", PARENT, *MOCK, "--ready-json", *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    processes.append(parent)
    assert parent.stdout is not None
    assert parent.stdin is not None
    lines = Lines(parent.stdout.fileno())
    ready = _ready(lines)
    if how == "kill":
        parent.kill()
    else:
        parent.stdin.write(b"die\n")
        parent.stdin.flush()
    parent.wait(timeout=BOUND)
    return lines, ready


def _assert_gone(lines: Lines, ready: dict[str, Any]) -> None:
    try:
        lines.end()  # the mock held the pipe's last write end: its end is the mock's exit
    finally:
        if not (_refused(ready["port"]) and _refused(ready["upload_port"])):
            os.kill(ready["pid"], signal.SIGKILL)  # no orphan left behind by a failure
            raise AssertionError("the mock still listens after its parent ended")


@pytest.mark.parametrize("by", ["flag", "variable"])
def test_exit_with_parent_stops_the_mock_when_its_parent_ends(
    by: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A Node test that called process.exit() left its mock serving for good, reparented to
    init, both ports taken."""
    env = _env()
    flags = ["--exit-with-parent"] if by == "flag" else []
    if by == "variable":
        env["KIEKIT_MOCK_EXIT_WITH_PARENT"] = "1"
    lines, ready = _orphaned_mock(processes, flags, env, how="exit")
    _assert_gone(lines, ready)


def test_exit_on_stdin_close_stops_the_mock_when_its_parent_is_killed(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """SIGKILL leaves a parent no last word; its end of the mock's stdin closes anyway."""
    lines, ready = _orphaned_mock(processes, ["--exit-on-stdin-close"], _env(), how="kill")
    _assert_gone(lines, ready)


def test_exit_on_stdin_close_stops_the_mock_gracefully_when_stdin_is_closed(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [*MOCK, "--ready-json", "--exit-on-stdin-close"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    processes.append(process)
    assert process.stdout is not None
    assert process.stdin is not None
    ready = _ready(Lines(process.stdout.fileno()))
    process.stdin.write(b"anything written is ignored\n")
    process.stdin.close()
    assert process.wait(timeout=BOUND) == 0
    assert _refused(ready["port"])
    assert _refused(ready["upload_port"])
    assert process.stderr is not None
    assert "stopping: its standard input closed" in process.stderr.read().decode()


def test_a_bad_exit_with_parent_variable_is_refused_naming_it() -> None:
    env = {**_env(), "KIEKIT_MOCK_EXIT_WITH_PARENT": "maybe"}
    done = subprocess.run(  # noqa: S603 (our interpreter, our arguments)
        MOCK, env=env, capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert done.returncode == 2
    assert "KIEKIT_MOCK_EXIT_WITH_PARENT: expected 1 or 0" in done.stderr


# --- a request still arriving at the stop -----------------------------------------------------


@pytest.mark.parametrize("host", ["api", "upload"])
def test_a_request_whose_body_arrives_during_the_stop_is_answered_and_ends_the_stop(
    host: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Its head and part of its body sent, then SIGTERM, then the rest: the request was cut
    off unanswered and the mock exited only at the end of the grace."""
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        [*MOCK, "--ready-json", "--shutdown-grace", "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    processes.append(process)
    assert process.stdout is not None
    assert process.stderr is not None
    ready = _ready(Lines(process.stdout.fileno()))
    log = Lines(process.stderr.fileno())
    if host == "api":
        port, path = ready["port"], "/api/v1/jobs/createTask"
        body = json.dumps({"model": "google/nano-banana", "input": {"prompt": "x" * 5000}})
        kind = "application/json"
    else:
        port, path = ready["upload_port"], "/api/file-base64-upload"
        body = json.dumps({"base64Data": "aGVsbG8h" * 2000, "uploadPath": "x", "fileName": "a"})
        kind = "application/json"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(head.encode())
        answers = sock.makefile("rb")
        assert answers.readline().startswith(b"HTTP/1.1 100")  # its handler is running
        assert answers.readline() == b"\r\n"
        sock.sendall(body[:20].encode())
        process.send_signal(signal.SIGTERM)
        log.until(r"stopping: 1 request in flight gets up to 600 s")  # the stop has begun
        # no new connection on either host while it drains
        assert _refused(ready["port"])
        assert _refused(ready["upload_port"])
        sock.sendall(body[20:].encode())
        status = answers.readline()
        assert status.split()[1] == b"200", status
        while answers.readline() != b"\r\n":
            pass
        answer = json.loads(answers.read())  # to the end: the connection closes after it
    assert answer["code"] == 200, answer
    # not the 600 s grace: the stop ends once the request is answered
    assert process.wait(timeout=BOUND) == 0


# --- a bounded log of unknown model ids --------------------------------------------------------


def test_unknown_model_ids_are_warned_of_one_by_one_up_to_a_cap_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client inventing an id per task got one warning line each, without end (238 of them
    froze the Node tester's mock, its stderr unread)."""
    import logging

    from kiekit_mock.guessed import GuessedModels

    guessed = GuessedModels(limit=3)
    with caplog.at_level(logging.WARNING, logger="kiekit_mock"):
        for index in range(3 + 120):
            guessed.say(f"acme/m-{index}", f"warning {index}")
        guessed.say("acme/m-0", "warning 0")  # said already: not again
    said = [record.getMessage() for record in caplog.records]
    assert said[:3] == ["warning 0", "warning 1", "warning 2"]
    assert [line.split()[1] for line in said[3:]] == ["1", "10", "100"]
    assert said[-1].startswith(
        "kiekit-mock: 100 creates named a market model id the mock does not know past the "
        "first 3, which the log named"
    )
    assert guessed.unsaid == 120
