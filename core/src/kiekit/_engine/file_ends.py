"""Whether a downloaded file is whole, for the formats whose end says so: part of the download
file policy, pure (the bytes come through a ``read_at`` function the caller gives).

A CDN that drops a connection mid-file may still have sent a consistent ``Content-Length``
(a cache that stored the cut file, a proxy that re-chunked it: the mock's ``malformed`` fault
on ``/files/*``), so the size check alone keeps a half image as the paid result, and the
journal calls it downloaded. These checks are conservative: a format is judged only by its
leading bytes (its magic, never the file name or the Content-Type, so a wrong extension cannot
make a whole file refused), and only where its end is unambiguous:

- JPEG ends with its EOI marker ``FF D9`` (only zero bytes may follow: some encoders pad);
- PNG ends with its ``IEND`` chunk;
- GIF ends with its trailer byte ``3B``;
- RIFF (WebP, WAV) is not shorter than its header's size says (a size of 0 or ``FFFFFFFF``,
  written by a streaming encoder that could not seek back, is not judged);
- ISO base media (MP4, MOV, M4A, and HEIF/AVIF images: a leading ``ftyp`` box): the top-level
  boxes' sizes add up exactly to the file's length (64-bit sizes and a last box of size 0,
  "to the end of the file", included) and a ``moov`` (or, for an image, ``meta``) box is there.

MP3 (frames with no length or end marker), text and every other format are not judged.
Only a file's first bytes, its tail and the top-level box headers are read, never the whole
file: a 2 GB video is checked with a few hundred small reads.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = ["ReadAt", "cut_short"]

ReadAt = Callable[[int, int], bytes]  # (offset, size) -> the bytes there (fewer at the end)

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, "IEND", its CRC (always the same)
_JPEG_TAIL = 64 * 1024  # zero padding after the EOI marker looked through
_MAX_BOXES = 100_000  # top-level boxes walked before giving up the judgement (no file has so many)
_RIFF_UNKNOWN = (0, 0xFFFFFFFF)


def cut_short(read_at: ReadAt, size: int) -> str | None:
    """Why the ``size``-byte file that ``read_at`` reads is not whole (a sentence naming its
    format and what its end lacks), or None: whole, or a format not judged."""
    head = read_at(0, 16)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(read_at, size)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if read_at(max(size - len(_PNG_END), 0), len(_PNG_END)) != _PNG_END:
            return "a PNG file ends with its IEND chunk, and this one does not"
        return None
    if head.startswith((b"GIF87a", b"GIF89a")):
        if read_at(size - 1, 1) != b"\x3b":
            return "a GIF file ends with its trailer byte 3B, and this one does not"
        return None
    if head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"WAVE") and len(head) >= 12:
        declared = struct.unpack("<I", head[4:8])[0]
        if declared not in _RIFF_UNKNOWN and declared > size - 8:
            what = "WebP" if head[8:12] == b"WEBP" else "WAV"
            return f"its RIFF header says a {what} file of {declared + 8} bytes"
        return None
    if head[4:8] == b"ftyp":
        return _iso_boxes(read_at, size)
    return None


def _jpeg(read_at: ReadAt, size: int) -> str | None:
    start = max(size - _JPEG_TAIL, 0)
    tail = read_at(start, size - start).rstrip(b"\x00")
    if not tail and start > 0:
        return None  # more zero padding than looked through: not judged
    if not tail.endswith(b"\xff\xd9"):
        return "a JPEG file ends with its EOI marker FF D9, and this one does not"
    return None


def _iso_boxes(read_at: ReadAt, size: int) -> str | None:
    """Walk the top-level boxes (ISO/IEC 14496-12 §4.2): each starts with a 32-bit size and a
    4-character type; size 1 means a 64-bit size follows, size 0 "to the end of the file"."""
    offset, kinds = 0, set()
    for _ in range(_MAX_BOXES):
        if offset == size:
            break
        header = read_at(offset, 16)
        if len(header) < 8:
            return f"its last box header is cut short at byte {offset}"
        length, kind = struct.unpack(">I4s", header[:8])
        kinds.add(kind)
        if length == 0:  # the last box, to the end of the file
            break
        if length == 1:
            if len(header) < 16:
                return f"its last box header is cut short at byte {offset}"
            length, least = struct.unpack(">Q", header[8:16])[0], 16
        else:
            least = 8
        if length < least:
            return f"its box at byte {offset} has an impossible size ({length})"
        offset += length
        if offset > size:
            name = kind.decode("latin-1")
            return f"its {name!r} box ends at byte {offset}, past the file's end"
    else:
        return None  # too many boxes to walk: not judged
    if b"moov" not in kinds and b"meta" not in kinds:
        return "an MP4/MOV file holds a 'moov' box, and this one has none"
    return None
