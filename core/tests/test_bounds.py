"""Every call and every download ends by its deadline and within its size cap, over real sockets.

A hostile or broken host decides how fast bytes come and how many: one that trickles a byte at a
time must not hold a download (or a create) past its deadline, and one that never stops sending
must not fill the disk or the memory. Local file-system failures come out typed, naming the task
and the path, and a file name stays short enough for any file system whatever the task id.

Each hostile answer here goes on for a long time (minutes) and then ends in a way the test
would reject, so the only way a test passes is the bound doing its work — no timing is asserted.
"""

from __future__ import annotations

import errno
import gzip
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    Asset,
    DownloadError,
    DownloadPolicy,
    FileWriteError,
    MediaKind,
    OutcomeUnknownError,
    ProtocolError,
    Results,
    RetryPolicy,
    TransportError,
)
from kiekit._engine import Fetch, file_name

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100) + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole
LONG = 120.0  # how long a hostile answer goes on: far past every bound under test


class Hostile(http.server.BaseHTTPRequestHandler):
    """``/trickle``: a PNG one byte at a time, then endless zeros, never done;
    ``/endless``: bytes as fast as they go, with no Content-Length; ``/declared-huge``: a
    Content-Length of 10 GB; ``/file.png``: a good file. On the API side, a create whose answer
    drips in (whitespace, then after minutes a valid envelope) and status answers bigger than
    the client's cap."""

    release: threading.Event

    def do_GET(self) -> None:
        if self.path.startswith("/trickle"):
            self._head(None)
            for byte in PNG + bytes(10_000):
                if not self._send(bytes([byte]), pause=0.02):
                    return
        elif self.path.startswith("/endless"):
            self._head(None)
            chunk = bytes(64 * 1024)
            while self._send(chunk, pause=0):
                pass
        elif self.path.startswith("/declared-huge"):
            self._head(10 * 2**30)
            self._send(PNG, pause=0)
        elif self.path.startswith("/api/v1/jobs/recordInfo"):
            body = json.dumps({"code": 200, "msg": "success", "data": {"x": "y" * 5000}}).encode()
            zipped = "taskId=zipped" in self.path  # small on the wire, over the cap unpacked
            sent = gzip.compress(body) if zipped else body
            self._head(len(sent), "application/json", encoding="gzip" if zipped else None)
            self._send(sent, pause=0)
        else:
            self._head(len(PNG))
            self._send(PNG, pause=0)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._head(None, "application/json")
        waited = 0.0
        while waited < LONG:  # whitespace is valid JSON padding: the answer is "still coming"
            if not self._send(b" ", pause=0.05):
                return
            waited += 0.05
        task = {"taskId": "5f488be792eafad4b066e21e5bc472c7"}
        self._send(json.dumps({"code": 200, "msg": "success", "data": task}).encode(), pause=0)

    def _head(
        self, length: int | None, content_type: str = "image/png", encoding: str | None = None
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, data: bytes, *, pause: float) -> bool:
        """Send ``data``; False once the client hung up or the fixture is ending."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return not (pause and self.release.wait(pause)) and not self.release.is_set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    release = threading.Event()
    handler = type("Handler", (Hostile,), {"release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def job(url: str, folder: Path, **bounds: Any) -> Fetch:
    return Fetch(url, folder / "out.png", "task-1", kind=MediaKind.IMAGE, **bounds)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- downloads: each real transport -------------------------------------------------------------


def test_a_trickling_host_cannot_hold_a_download_past_its_timeout(
    fetch: Callable[[Fetch], Path], hostile: str, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="took longer than") as caught:
        fetch(job(f"{hostile}/trickle", tmp_path, timeout=0.5))
    assert caught.value.curable is False  # retrying cannot give back the time
    assert leftovers(tmp_path) == []  # no .part left behind


def test_a_body_without_length_stops_at_the_size_cap(
    fetch: Callable[[Fetch], Path], hostile: str, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="larger than 1000000 bytes") as caught:
        fetch(job(f"{hostile}/endless", tmp_path, timeout=LONG, max_bytes=1_000_000))
    assert caught.value.curable is False
    assert leftovers(tmp_path) == []


def test_a_declared_length_over_the_cap_is_refused_before_any_byte_is_written(
    fetch: Callable[[Fetch], Path], hostile: str, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="larger than"):
        fetch(job(f"{hostile}/declared-huge", tmp_path, max_bytes=8 * 2**30))
    assert leftovers(tmp_path) == []


def test_a_file_within_its_bounds_is_written(
    fetch: Callable[[Fetch], Path], hostile: str, tmp_path: Path
) -> None:
    path = fetch(job(f"{hostile}/file.png", tmp_path, timeout=LONG, max_bytes=len(PNG)))
    assert path.read_bytes() == PNG


# -- through the clients ----------------------------------------------------------------------


def results(url: str, task_id: str = "5f488be792eafad4b066e21e5bc472c7") -> Results:
    return Results(task_id, (Asset(url=url, kind=MediaKind.IMAGE, media_type="image/png"),))


def test_the_clients_bound_downloads_by_their_download_policy(
    api: Any, hostile: str, tmp_path: Path
) -> None:
    async def scenario() -> Any:
        policy = DownloadPolicy(timeout=0.5, max_bytes=2_000_000)
        async with api.client(base_url=hostile, downloads=policy, journal=None) as client:
            with pytest.raises(DownloadError, match="took longer than") as slow:
                await client.download(results(f"{hostile}/trickle"), tmp_path / "a")
            with pytest.raises(DownloadError, match="larger than") as big:
                await client.download(results(f"{hostile}/endless"), tmp_path / "b")
            return slow.value, big.value

    slow, big = api.run(scenario)
    assert slow.task_id == big.task_id == "5f488be792eafad4b066e21e5bc472c7"
    assert leftovers(tmp_path / "a") == leftovers(tmp_path / "b") == []


def test_a_create_whose_answer_drips_in_ends_by_the_retry_deadline(
    api: Any, kit: SimpleNamespace, hostile: str
) -> None:
    """The answer would come, complete and valid, after minutes: a 1 s deadline ends the call
    first — as "outcome unknown", since the create reached KIE and may have made a task."""

    async def scenario() -> None:
        retry = RetryPolicy(attempts=1, deadline=1.0)
        async with api.client(base_url=hostile, retry=retry, journal=None, timeout=3600) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(OutcomeUnknownError):
        api.run(scenario)


def test_an_upload_whose_answer_drips_in_ends_by_the_retry_deadline(api: Any, hostile: str) -> None:
    async def scenario() -> None:
        retry = RetryPolicy(attempts=1, deadline=1.0)
        async with api.client(
            base_url=hostile, upload_base_url=hostile, retry=retry, journal=None, timeout=3600
        ) as client:
            await client.upload(PNG, file_name="a.png")

    with pytest.raises(TransportError, match=r"deadline|no answer in time"):
        api.run(scenario)


@pytest.mark.parametrize("task_id", ["5f488be792eafad4b066e21e5bc472c7", "zipped"])
def test_an_api_answer_over_the_cap_is_refused_not_read_whole(
    api: Any, kit: SimpleNamespace, hostile: str, task_id: str
) -> None:
    """Whether its declared length says so, or it grows past the cap as it is unpacked."""
    from kiekit.models import Task
    from kiekit.transport import AiohttpTransport, Urllib3Transport

    cls = AiohttpTransport if api.is_async else Urllib3Transport

    async def scenario() -> None:
        transport = cls(max_answer_bytes=1000)
        async with api.client(
            base_url=hostile, transport=transport, retry=RetryPolicy.never(), journal=None
        ) as client:
            await client.status(Task(task_id, kit.GROK_T2I))

    with pytest.raises(ProtocolError, match="larger than 1000 bytes"):
        api.run(scenario)


def test_download_policy_values_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        DownloadPolicy(timeout=0)
    with pytest.raises(ValueError, match="max_bytes"):
        DownloadPolicy(max_bytes=0)
    assert DownloadPolicy(max_bytes=None).max_bytes is None


# -- local file-system failures ---------------------------------------------------------------


def test_an_output_folder_that_is_a_file_is_a_file_write_error(
    api: Any, hostile: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")

    async def scenario() -> None:
        async with api.client(journal=None) as client:
            await client.download(results(f"{hostile}/file.png"), blocker)

    with pytest.raises(FileWriteError) as caught:
        api.run(scenario)
    assert caught.value.path == str(blocker)
    assert caught.value.task_id == "5f488be792eafad4b066e21e5bc472c7"
    assert caught.value.errno == errno.EEXIST
    assert f"{blocker} is a file, not a folder" in str(caught.value)  # not "File exists"
    assert not caught.value.retryable  # the same write would fail the same way


def test_a_full_disk_is_a_file_write_error_naming_task_and_path(
    api: Any, hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kiekit._transports.download

    class FullDisk:
        def __init__(self, path: str, mode: str) -> None:
            self.path = path
            Path(path).touch()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device", self.path)

        def close(self) -> None:
            pass

    monkeypatch.setattr(kiekit._transports.download, "open", FullDisk, raising=False)

    async def scenario() -> None:
        async with api.client(journal=None) as client:
            await client.download(results(f"{hostile}/file.png"), tmp_path)

    with pytest.raises(FileWriteError, match="No space left") as caught:
        api.run(scenario)
    error = caught.value
    assert error.errno == errno.ENOSPC
    assert error.task_id == "5f488be792eafad4b066e21e5bc472c7"
    assert error.path is not None
    assert error.path.startswith(str(tmp_path))
    assert error.curable is False  # not retried: the disk is still full
    assert leftovers(tmp_path) == []  # the partial file is removed


def test_a_very_long_task_id_still_gives_a_short_unique_file_name(
    api: Any, hostile: str, tmp_path: Path
) -> None:
    first, second = "a" * 5000, "a" * 4999 + "b"
    asset = Asset(url="https://cdn.example/r/x.png", kind=MediaKind.IMAGE, label="L" * 3000)
    names = {file_name(task_id, 0, asset) for task_id in (first, second)}
    assert len(names) == 2
    assert all(len(name.encode()) <= 200 for name in names)

    async def scenario() -> Any:
        async with api.client(journal=None) as client:
            return await client.download(results(f"{hostile}/file.png", first), tmp_path)

    (path,) = api.run(scenario)
    assert path.read_bytes() == PNG
    assert len(path.name) <= 200


def test_temporary_files_a_killed_download_left_are_removed_by_the_next_one(
    api: Any, hostile: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)  # a process that has ended
    found = results(f"{hostile}/file.png")
    name = file_name(found.task_id, 0, found.assets[0])
    killed = tmp_path / f"{name}.{dead_pid}-0123abcd.part"
    ancient = tmp_path / f"{name}.{os.getpid()}-89abcdef.part"  # ours, but a day old
    in_flight = tmp_path / f"{name}.{os.getppid()}-deadbeef.part"  # a live process's
    other = tmp_path / "someone-else.1-0123abcd.part"  # another download's, in a live process
    other_killed = tmp_path / f"other.mp4.{dead_pid}-4567cdef.part"  # the folder is swept whole
    users = tmp_path / f"draft.{dead_pid}-notours.part"  # not a name kiekit makes
    for part in (killed, ancient, in_flight, other, other_killed, users):
        part.write_bytes(b"partial")
    os.utime(ancient, (0, 0))

    async def scenario() -> Any:
        async with api.client(journal=None) as client:
            return await client.download(found, tmp_path)

    (path,) = api.run(scenario)
    assert path.read_bytes() == PNG
    assert leftovers(tmp_path) == sorted([path.name, in_flight.name, other.name, users.name])
