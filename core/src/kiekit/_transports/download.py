"""A result file on its way to disk, the same for every transport: a temporary file beside
its final name, the answer's checks on the way, an atomic rename at the end, and the sweep of
temporary files a killed download left."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from kiekit._engine import Fetch, check_file_start
from kiekit._engine.file_ends import cut_short
from kiekit.errors import DownloadError, FileWriteError
from kiekit.models import MediaKind
from kiekit.retry import parse_retry_after

_MEDIA = (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO)


def part_path(destination: Path) -> Path:
    """A temporary name beside ``destination`` (same folder, so the final rename is atomic),
    unique so that two downloads of one file never write into each other, and naming the
    process that writes it, so that one left by a killed process can be told apart."""
    return destination.with_name(f"{destination.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")


def incomplete_path(destination: Path) -> Path:
    """Where the bytes of a download judged cut short are kept (``photo.png.incomplete``): not
    the final name, so nothing takes them for the whole file, and not a ``.part``, so no sweep
    removes them."""
    return destination.with_name(f"{destination.name}.incomplete")


# A temporary file untouched this long belongs to no live download (DownloadPolicy.timeout is
# far shorter), whatever process wrote it.
STALE_PART_SECONDS = 24 * 3600.0


def sweep_stale_parts(destination: Path) -> list[Path]:
    """Remove the temporary files an earlier, killed download of ``destination`` left: those
    of a process that is gone (on this machine), or untouched for a day. Returns them."""
    return _sweep(destination.parent, lambda stem: stem == destination.name)


def sweep_folder(folder: Path) -> list[Path]:
    """:func:`sweep_stale_parts` for every download into ``folder`` at once."""
    return _sweep(folder, lambda _stem: True)


# A download sweeps its folder when this process first downloads into it, then at most once a
# minute: a sweep lists the whole folder, and a batch writing thousands of files into one folder
# would list it once per file (its cost growing with the square of the files).
SWEEP_EVERY = 60.0
_swept: dict[Path, float] = {}  # folder -> when this process last swept it (monotonic)
_swept_lock = threading.Lock()


def _sweep_due(folder: Path) -> bool:
    now = time.monotonic()
    with _swept_lock:
        last = _swept.get(folder)
        if last is not None and now - last < SWEEP_EVERY:
            return False
        if len(_swept) >= 4096:  # many folders (one a task): forget the sweeps due again anyway
            for old in [f for f, at in _swept.items() if now - at >= SWEEP_EVERY]:
                del _swept[old]
        _swept[folder] = now
        return True


_PART = re.compile(r"\.(\d+)-[0-9a-f]{8}\.part\Z")  # <file>.<pid>-<8 hex>.part (part_path)


def _sweep(folder: Path, chosen: Callable[[str], bool]) -> list[Path]:
    removed: list[Path] = []
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            found = [(e.name, match) for e in entries if (match := _PART.search(e.name))]
    except OSError:
        return removed  # no folder yet, or unreadable: the download's own error will say
    for name, match in found:
        if not chosen(name[: match.start()]):  # the name of the file it was to become
            continue
        part = folder / name
        try:
            stale = not _alive(match.group(1)) or now - part.stat().st_mtime > STALE_PART_SECONDS
            if stale:
                part.unlink()
                removed.append(part)
        except OSError:
            continue  # gone already (another sweep), or not ours to remove
    return removed


def _alive(pid_text: str) -> bool:
    """Whether the process that wrote a temporary file may still be writing it."""
    if not pid_text.isdigit() or os.name == "nt":  # Windows: os.kill(pid, 0) is no probe there
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


class Download:
    """One result file on its way to disk, shared by every transport: refuse a non-200 answer
    or an error page, stream into a temporary file within the fetch's time and size bounds,
    check the promised size, rename. Whatever goes wrong, the temporary file is removed (use it
    as a context manager); a local file-system failure is a FileWriteError naming the path."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        folder = fetch.destination.parent
        if _sweep_due(folder):  # what killed downloads into this folder left
            sweep_folder(folder)
        self.part = part_path(fetch.destination)
        self.ends = None if fetch.timeout is None else time.monotonic() + fetch.timeout
        self._out: IO[bytes] | None = None
        self._content_type: str | None = None
        self.encoded = False  # the body is compressed (Content-Encoding), decoded on the way
        self._expected: int | None = None
        self._head = b""
        self._written = 0
        self._checked = False

    def __enter__(self) -> Download:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):  # the error already raised says more
                self._out.close()
        if exc_type is not None:
            with contextlib.suppress(OSError):
                self.part.unlink(missing_ok=True)

    def error(
        self, message: str, *, http_status: int | None = None, curable: bool | None = None
    ) -> DownloadError:
        return DownloadError(
            message,
            url=self.fetch.url,
            task_id=self.fetch.task_id,
            http_status=http_status,
            path=self.fetch.destination,
            curable=curable,
        )

    def timed_out(self) -> DownloadError:
        return self.error(
            f"download took longer than its {self.fetch.timeout or 0:.0f} s "
            f"(DownloadPolicy.timeout); {self._written} bytes had come",
            curable=False,
        )

    def late(self) -> bool:
        return self.ends is not None and time.monotonic() >= self.ends

    def _local(self, exc: OSError, path: Path) -> FileWriteError:
        """A FileWriteError naming the final file (``path``: what a user looks for; the
        temporary ``.part`` it failed in is removed, so only the message names it)."""
        final = self.fetch.destination
        error = FileWriteError.of(exc, final, task_id=self.fetch.task_id, url=self.fetch.url)
        if path != final:
            error.message += f" (writing its temporary file {path.name}, removed)"
        return error

    def _too_big(self, size: int) -> DownloadError:
        return self.error(
            f"the file is larger than {self.fetch.max_bytes} bytes (DownloadPolicy.max_bytes): "
            f"{size} bytes",
            http_status=200,
            curable=False,
        )

    def begin(self, status: int, headers: Mapping[str, str]) -> None:
        if status != 200:
            error = self.error(f"download answered HTTP {status}", http_status=status)
            error.retry_after = parse_retry_after(headers)  # a CDN's 429 or 503 may say when
            raise error
        self._content_type = headers.get("content-type")
        length = headers.get("content-length", "")
        # A compressed body is decoded on the way, so its length is not the file's.
        self.encoded = headers.get("content-encoding", "identity").lower() not in ("", "identity")
        self._expected = int(length) if length.strip().isdigit() and not self.encoded else None
        cap = self.fetch.max_bytes
        if cap is not None and self._expected is not None and self._expected > cap:
            raise self._too_big(self._expected)
        try:
            self._out = open(self.part, "wb")  # noqa: SIM115 - closed in __exit__
        except OSError as exc:
            raise self._local(exc, self.part) from exc

    def write(self, chunk: bytes) -> None:
        assert self._out is not None
        if not self._checked:
            self._head += chunk[:64]
            if len(self._head) >= 16:
                self._check_start()
        cap = self.fetch.max_bytes
        if cap is not None and self._written + len(chunk) > cap:
            raise self._too_big(self._written + len(chunk))
        try:
            self._out.write(chunk)
        except OSError as exc:
            raise self._local(exc, self.part) from exc
        self._written += len(chunk)
        if self.late():  # a trickling host cannot hold the download past its deadline
            raise self.timed_out()

    def _check_start(self) -> None:
        self._checked = True
        check_file_start(self.fetch, self._content_type, self._head)

    def _check_end(self) -> None:
        """A file cut short behind a consistent Content-Length (a CDN or cache that kept a
        cut file) is refused as a size mismatch is: curable, so fetched again, and never kept
        under its final name (kiekit._engine.file_ends says which formats are judged)."""
        try:
            with open(self.part, "rb") as written:

                def read_at(offset: int, size: int) -> bytes:
                    written.seek(offset)
                    return written.read(size)

                why = cut_short(read_at, self._written)
        except OSError as exc:
            raise self._local(exc, self.part) from exc
        if why is None:
            return
        # Its bytes are kept beside the final name, never under it: a judgment of ours could
        # be wrong (a file with data after its end), and a paid result must not be lost to it.
        # The next fetch that comes whole replaces them (finish).
        kept = incomplete_path(self.fetch.destination)
        try:
            os.replace(self.part, kept)
            where = f"; its {self._written} bytes are kept in {kept.name} until a whole copy comes"
        except OSError:
            where = ""  # removed with the temporary file: the error says what it was
        raise self.error(f"download cut short ({self._written} bytes): {why}{where}")

    def finish(self) -> Path:
        assert self._out is not None
        if not self._checked:
            self._check_start()
        try:
            self._out.close()
        except OSError as exc:  # a full disk may only show when the last bytes are flushed
            raise self._local(exc, self.part) from exc
        self._out = None
        if self._expected is not None and self._written != self._expected:
            raise self.error(f"download ended after {self._written} of {self._expected} bytes")
        if self._written == 0 and self.fetch.kind in _MEDIA:
            # no image, video or audio file is empty: saved, it would pass for the result and
            # `kie resume` would never fetch it again
            raise self.error(
                f"the link answered an empty body (0 bytes) instead of the "
                f"{self.fetch.kind.value} file",
                http_status=200,
                curable=True,  # a host's passing fault, unlike an error page: ask again
            )
        self._check_end()
        try:
            os.replace(self.part, self.fetch.destination)
        except OSError as exc:
            raise self._local(exc, self.fetch.destination) from exc
        with contextlib.suppress(OSError):  # a cut copy an earlier try kept: this one is whole
            incomplete_path(self.fetch.destination).unlink(missing_ok=True)
        return self.fetch.destination
