"""Tiny, real result files made in memory: PNG, baseline JPEG, an MP4, an MP3 and a WAV.

KIE's result links point at real media on its CDN (kie-api.md §2.2, §3.2); the mock serves small
files that image libraries really decode, so a client's download-and-save path is exercised.
Each file is one solid colour derived from the task id and file index, so files differ.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib
from collections.abc import Sequence
from importlib import resources

Rgb = tuple[int, int, int]

LONG_SIDE = 64


def colour_for(task_id: str, index: int) -> Rgb:
    """A stable colour per (task, file), so two results are never byte-identical."""
    digest = hashlib.sha256(f"{task_id}/{index}".encode()).digest()
    return digest[0], digest[1], digest[2]


def size_for(aspect_ratio: str | None) -> tuple[int, int]:
    """Width and height for an aspect ratio like "16:9": the long side is 64 pixels."""
    try:
        w_text, h_text = (aspect_ratio or "1:1").split(":")
        w, h = int(w_text), int(h_text)
    except ValueError:
        return LONG_SIDE, LONG_SIDE
    if w <= 0 or h <= 0:
        return LONG_SIDE, LONG_SIDE
    if w >= h:
        return LONG_SIDE, max(8, round(LONG_SIDE * h / w))
    return max(8, round(LONG_SIDE * w / h)), LONG_SIDE


# --- PNG -------------------------------------------------------------------------------------


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def png_bytes(width: int, height: int, rgb: Rgb) -> bytes:
    """An 8-bit truecolour PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width  # filter type 0 (None) before each scanline
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(row * height, 9))
        + _png_chunk(b"IEND", b"")
    )


# --- JPEG (baseline, solid colour) -----------------------------------------------------------
# A uniform 8x8 block has only a DC coefficient: with the level shift and a quantiser of 1 it is
# 8 * (sample - 128). So every block is "DC difference + end-of-block", which keeps a correct
# baseline encoder down to a few lines. Tables: the standard luminance DC table (ITU T.81 K.3)
# and an AC table holding only the EOB symbol.

_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
_AC_BITS = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALUES = (0x00,)  # EOB only


def _huffman_codes(bits: Sequence[int], values: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes (T.81 Annex C): symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    k = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


_DC_CODES = _huffman_codes(_DC_BITS, _DC_VALUES)
_EOB = _huffman_codes(_AC_BITS, _AC_VALUES)[0x00]


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def write(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._n += 1
            if self._n == 8:
                self._flush_byte()

    def _flush_byte(self) -> None:
        self.out.append(self._acc)
        if self._acc == 0xFF:
            self.out.append(0x00)  # byte stuffing
        self._acc = 0
        self._n = 0

    def finish(self) -> bytes:
        if self._n:
            self.write((1 << (8 - self._n)) - 1, 8 - self._n)  # pad with 1-bits
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _clamp(value: float) -> int:
    return min(255, max(0, round(value)))


def _ycbcr(rgb: Rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return _clamp(y), _clamp(cb), _clamp(cr)


def jpeg_bytes(width: int, height: int, rgb: Rgb) -> bytes:
    """A baseline (SOF0) YCbCr JPEG of one colour, no chroma subsampling."""
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\x00" + b"\x01" * 64  # table 0, every quantiser 1
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    dc_table = b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES)  # class 0 (DC), table 0
    ac_table = b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALUES)  # class 1 (AC), table 0
    dht = dc_table + ac_table
    sos = b"\x03\x01\x00\x02\x00\x03\x00" + b"\x00\x3f\x00"

    dcs = [8 * (c - 128) for c in _ycbcr(rgb)]
    previous = [0, 0, 0]
    bits = _BitWriter()
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    for _ in range(blocks):
        for comp in range(3):
            diff = dcs[comp] - previous[comp]
            previous[comp] = dcs[comp]
            category = abs(diff).bit_length()
            code, length = _DC_CODES[category]
            bits.write(code, length)
            if category:
                bits.write(diff if diff > 0 else diff + (1 << category) - 1, category)
            bits.write(*_EOB)
    return (
        b"\xff\xd8"
        + _segment(0xFFE0, jfif)
        + _segment(0xFFDB, dqt)
        + _segment(0xFFC0, sof)
        + _segment(0xFFC4, dht)
        + _segment(0xFFDA, sos)
        + bits.finish()
        + b"\xff\xd9"
    )


# --- MP4 -------------------------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(label: str) -> bytes:
    """A real, playable MP4: one second of a 64×36 H.264 test pattern (assets/sample.mp4, made
    with ffmpeg's testsrc2), followed by a top-level ``free`` box naming the file so that every
    result differs; players skip ``free`` boxes (ISO/IEC 14496-12)."""
    return _sample_mp4() + _box(b"free", f"kiekit-mock {label}".encode())


@functools.cache
def _sample_mp4() -> bytes:
    return resources.files("kiekit_mock").joinpath("assets/sample.mp4").read_bytes()


# --- MP3 -------------------------------------------------------------------------------------

# MPEG-1 Layer III (ISO/IEC 11172-3), 32 kbit/s, 48 kHz, mono, no CRC: 144 * 32000 / 48000 = 96
# bytes a frame. All-zero side information means no coded samples: decoders play silence.
_MP3_FRAME_HEADER = b"\xff\xfb\x14\xc4"
_MP3_FRAME_BYTES = 96
_MP3_FRAMES = 42  # 1152 samples a frame: 42 frames make one second at 48 kHz


def _syncsafe(size: int) -> bytes:
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def mp3_bytes(label: str) -> bytes:
    """A real, playable MP3: one second of silence, after an ID3v2.3 tag whose title names the
    file, so that every result differs (ffprobe reads it as mp3, 48 kHz mono)."""
    text = b"\x00" + f"kiekit-mock {label}".encode("latin-1", "replace")  # 0: ISO-8859-1
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    tag = b"ID3\x03\x00\x00" + _syncsafe(len(frame)) + frame
    silent = _MP3_FRAME_HEADER + bytes(_MP3_FRAME_BYTES - len(_MP3_FRAME_HEADER))
    return tag + silent * _MP3_FRAMES


# --- WAV -------------------------------------------------------------------------------------

_WAV_RATE = 8000  # 8 kHz, 8-bit, mono: one second is 8000 bytes


def wav_bytes(label: str) -> bytes:
    """A real, playable WAV (RIFF PCM): one second of silence, then a ``LIST/INFO`` chunk whose
    title names the file, so that every result differs (players skip unknown chunks)."""
    samples = b"\x80" * _WAV_RATE  # unsigned 8-bit PCM: 128 is silence
    fmt = struct.pack("<HHIIHH", 1, 1, _WAV_RATE, _WAV_RATE, 1, 8)  # PCM, mono, 1 byte/sample
    title = f"kiekit-mock {label}".encode("latin-1", "replace") + b"\x00"
    if len(title) % 2:
        title += b"\x00"  # RIFF chunks are word-aligned
    info = b"INFO" + b"INAM" + struct.pack("<I", len(title)) + title
    chunks = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
        + b"LIST"
        + struct.pack("<I", len(info))
        + info
    )
    return b"RIFF" + struct.pack("<I", len(chunks)) + chunks


# --- MIDI and text ---------------------------------------------------------------------------


def midi_bytes(label: str) -> bytes:
    """A valid Standard MIDI File (format 0, one track): a text event naming the file, then the
    end of the track — no notes, as silent as the other stand-ins."""
    text = f"kiekit-mock {label}".encode("latin-1", "replace")[:127]  # one-byte length
    events = b"\x00\xff\x01" + bytes([len(text)]) + text + b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96)  # format 0, 1 track, 96 ticks/beat
    return header + b"MTrk" + struct.pack(">I", len(events)) + events


def text_bytes(label: str) -> bytes:
    """A short UTF-8 text naming the file (lyrics, transcripts)."""
    return f"kiekit-mock {label}\n".encode()
