"""Local checks a command makes before anything is sent: nothing is paid for when a local
precondition fails (an output folder that is a file, an ``--image`` that is not an image)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kiekit._paths import recorded, writable_folder
from kiekit.errors import ConfigurationError, KieError, ValidationError

if TYPE_CHECKING:
    from kiekit.journal import Journal

__all__ = [
    "file_kind",
    "image_file",
    "image_type",
    "journal_opens",
    "local_file",
    "media_file",
    "output_folder",
    "readable_file",
    "shown",
]

# Leading bytes of the image formats KIE's image inputs take, and a few more a camera makes,
# with their media types (a chat's inline image says it: kie chat --image)
_IMAGE_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),  # little-endian
    (0, b"MM\x00*", "image/tiff"),  # big-endian
    (8, b"WEBP", "image/webp"),  # after RIFF and a length
    (4, b"ftypheic", "image/heic"),
    (4, b"ftypheix", "image/heic"),
    (4, b"ftypmif1", "image/heif"),
    (4, b"ftypavif", "image/avif"),
)

# Leading bytes of sound and video files: (offset, bytes, kind). "audio/video" is a container
# that holds either (MP4, Matroska/WebM, ASF), so it fits a field of both kinds.
_AV_SIGNATURES = (
    (0, b"ID3", "audio"),  # MP3 with an ID3 tag
    (0, b"fLaC", "audio"),
    (0, b"OggS", "audio"),
    (0, b"#!AMR", "audio"),
    (0, b"MThd", "audio"),  # MIDI
    (8, b"WAVE", "audio"),  # after RIFF and a length
    (8, b"AIFF", "audio"),  # after FORM and a length
    (8, b"AIFC", "audio"),
    (4, b"ftypM4A", "audio"),
    (4, b"ftypM4B", "audio"),
    (8, b"AVI ", "video"),
    (0, b"FLV", "video"),
    (0, b"\x00\x00\x01\xba", "video"),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3", "video"),  # MPEG-1/2 video
    (4, b"ftypqt", "video"),  # QuickTime
    (4, b"ftyp", "audio/video"),  # any other ISO media file: MP4, 3GP, M4V
    (0, b"\x1a\x45\xdf\xa3", "audio/video"),  # Matroska, WebM
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "audio/video"),  # ASF: WMA, WMV
)


def file_kind(head: bytes) -> str | None:
    """What a file's first bytes say it is: ``image``, ``audio``, ``video``, ``audio/video``
    (a container of either), ``text``, or None (unknown: no verdict)."""
    if any(head[at : at + len(sign)] == sign for at, sign, _ in _IMAGE_SIGNATURES):
        return "image"
    for at, sign, kind in _AV_SIGNATURES:
        if head[at : at + len(sign)] == sign:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio"  # an MPEG audio frame (MP3 without a tag) or AAC's ADTS
    if head and _is_text(head):
        return "text"
    return None


def _is_text(head: bytes) -> bool:
    """UTF-8 without control characters but whitespace (a cut-off last character allowed)."""
    text = head.decode("utf-8", "ignore")
    return len(text.encode("utf-8")) >= len(head) - 3 and all(
        c.isprintable() or c in "\t\n\r\f" for c in text
    )


def journal_opens(journal: Journal | None) -> None:
    """The journal opened now, not at the create's first write: JournalError naming why it
    cannot be (``KIEKIT_DATA_DIR`` naming a file, a database that refuses) before the command
    makes its output folder or uploads a file."""
    if journal is not None:
        journal.open()


def output_folder(option: str, folder: Path) -> Path:
    """``folder``, created if missing and proved writable by writing a scratch file in it."""
    try:  # a name that is not UTF-8 (bytes on Linux) could not be recorded in the journal
        recorded(folder).encode("utf-8")  # as text: a C locale's surrogates spell UTF-8 too
    except UnicodeEncodeError:
        escaped = os.fsencode(folder).decode("utf-8", "backslashreplace")  # its bytes
        raise ValidationError(option, f"is not a valid UTF-8 path: {escaped:.200}") from None
    try:  # exists() raises for a name too long (ENAMETOOLONG) on Python 3.11
        if folder.exists() and not folder.is_dir():
            raise ValidationError(option, f"is not a folder: {shown(folder)}")
        writable_folder(folder)  # as generate() checks its out_dir
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ValidationError(option, f"cannot write files in {shown(folder)}: {why}") from exc
    return folder


def local_file(option: str, path: Path) -> Path:
    """``path``, when it is a file: a missing one and a folder are told apart; a path no file
    can have (a name too long) or that cannot be looked at is said with the OS's reason."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ValidationError(option, f"no such file: {shown(path)}") from None
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES on a folder on the way
        why = exc.strerror or type(exc).__name__
        raise ValidationError(option, f"cannot read {shown(path)}: {why}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(option, f"is a folder, not a file: {shown(path)}")
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError(option, f"is not a file: {shown(path)}")
    return path


def shown(path: Path, limit: int = 200) -> str:
    """A path in an error message, cut short: one too long for the OS may run to thousands."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


def _head(option: str, path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the local file ``path`` (checked as :func:`local_file`)."""
    local_file(option, path)
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError as exc:
        raise ValidationError(option, f"cannot read {shown(path)}: {exc.strerror}") from exc


STDIN = "-"  # a file argument that means standard input, as for cat and tar
_SLICE = 2**20  # standard input is copied to disk this many bytes at a time


def is_stdin(given: str | Path) -> bool:
    """Whether a file argument is ``-``, standard input (a file named so is ``./-``)."""
    return str(given) == STDIN


@contextlib.contextmanager
def spooled_stdin(option: str) -> Iterator[Path]:
    """Standard input (``-``) copied a slice at a time to a file of its own, in a new folder
    of kiekit's data folder (``KIEKIT_DATA_DIR``; not the system's temporary folder, often
    held in memory), so that an upload streams it from disk as it streams any file: never in
    memory whole (a 200 MB video piped in), its size known before the first byte is sent (the
    stream upload's Content-Length, kie-api.md §4), and sent again whole by a retry. Named by
    its first bytes (``upload.png``), as bytes without a name are (Files._upload_bytes).
    Refused, naming ``option``, when standard input is closed or holds nothing: known before
    any connection, as a file's are. The folder is removed afterwards, whatever happened (an
    error, Ctrl-C, SIGTERM); a ``kill -9`` alone leaves it, in ``KIEKIT_DATA_DIR``."""
    from kiekit._engine.account import media_of
    from kiekit.journal import data_dir
    from kiekit.journal._entry import private_folder

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # `<&-`: Python makes sys.stdin None
        raise ValidationError(option, "- reads standard input, which is closed")
    head: bytes = stream.read(_SLICE)  # the first slice names the file
    if not head:
        raise ValidationError(option, "is empty: standard input held nothing")
    home = data_dir()
    sniffed = media_of(head)
    spool: Path | None = None
    try:
        try:
            private_folder(home)  # 0700 when made here, as the journal makes it
            spool = Path(tempfile.mkdtemp(prefix="stdin-upload-", dir=home))
            path = spool / ("upload" + (sniffed[1] if sniffed else ".bin"))
            with path.open("wb") as copy:
                copy.write(head)
                del head
                shutil.copyfileobj(stream, copy, _SLICE)
        except OSError as exc:  # a full disk, a data folder this user may not write
            raise _spool_error(exc, home) from exc
        yield path
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)


def _spool_error(exc: OSError, home: Path) -> KieError:
    """Why standard input could not be kept in the data folder, typed as the same mistake is
    elsewhere: a file where the folder should be (``KIEKIT_DATA_DIR`` naming one) is a
    ConfigurationError naming it (exit 2, as ``kie run``'s JournalError for it); a full disk
    or a folder this user may not write, a FileWriteError naming the path (exit 1)."""
    from kiekit.errors import FileWriteError, _file_in_the_way

    where = os.fsdecode(exc.filename) if exc.filename is not None else str(home)
    kept = "standard input is kept there while it is uploaded (KIEKIT_DATA_DIR names another "
    blocker = _file_in_the_way(str(home))
    if blocker is not None:
        error: KieError = ConfigurationError(
            f"KIEKIT_DATA_DIR {home}: {blocker} is a file, not a folder; {kept}folder); "
            "nothing was sent"
        )
        error.path = blocker
        return error
    error = FileWriteError.of(exc, where)
    error.message += f"; {kept}folder); nothing was sent"
    return error


def readable_file(option: str, path: Path) -> Path:
    """``path``, when it is a file this process can read and that holds a byte (the upload
    host takes no empty file): what an upload of it needs, known before any connection."""
    if not _head(option, path, 1):
        raise ValidationError(option, f"is empty: {shown(path)}")
    return path


def image_file(option: str, path: Path) -> Path:
    """``path``, when it is a readable file whose content is an image."""
    image_type(option, path)
    return path


def image_type(option: str, path: Path) -> str:
    """The media type of the readable file ``path``, judged by its content (not its name: a
    photo saved without an extension is one, a text named .png is not)."""
    head = _head(option, path, 16)
    for at, sign, media_type in _IMAGE_SIGNATURES:
        if head[at : at + len(sign)] == sign:
            return media_type
    raise ValidationError(
        option, f"is not an image (PNG, JPEG, WebP, GIF, BMP, TIFF or HEIC): {path}"
    )


def media_file(option: str, path: Path, media: str) -> Path:
    """``path``, when it is a readable file that can be a ``media`` (``image``, ``audio`` or
    ``video``) file: an image must be one of the formats KIE takes; a sound or video file is
    refused only when its content is recognisably something else (an image, a text, a video
    for a sound), since those formats are many and KIE judges the rest."""
    if media == "image":
        return image_file(option, path)
    kind = file_kind(_head(option, path, 512))
    if kind is None or media in kind.split("/"):
        return path
    raise ValidationError(option, f"takes {_NOUNS[media]}, and {path} is {_NOUNS[kind]}")


_NOUNS = {"image": "an image", "audio": "an audio file", "video": "a video", "text": "text"}
