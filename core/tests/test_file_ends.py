"""A result file cut short behind a consistent Content-Length is refused, not kept as whole.

Found by an outside tester ("fixtures", finding 2): the mock's ``malformed`` fault on
``/files/*`` serves half a file with its own length, and the half JPEG was saved, journalled
as downloaded, and never fetched again by ``kie resume``.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from kiekit import Client, PollPolicy
from kiekit._engine.file_ends import cut_short
from kiekit.errors import DownloadError
from kiekit.retry import RetryPolicy
from kiekit_mock import FaultRule, MockConfig, MockServer, media

FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=10.0)
TINY_WAITS = RetryPolicy(base=0.001, cap=0.002, seed=1)  # the schedule, not its waits, matters


def judged(data: bytes) -> str | None:
    file = io.BytesIO(data)

    def read_at(offset: int, size: int) -> bytes:
        file.seek(offset)
        return file.read(size)

    return cut_short(read_at, len(data))


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


# every kind of file the mock serves, at several sizes and labels (the mock's generators)
MOCK_FILES = {
    **{
        f"png-{ratio}": media.png_bytes(*media.size_for(ratio), (200, 10, 30))
        for ratio in ("1:1", "16:9", "9:16", "21:9", "4:3")
    },
    **{
        f"jpeg-{ratio}": media.jpeg_bytes(*media.size_for(ratio), rgb)
        for ratio in ("1:1", "16:9", "9:16", "3:2")
        for rgb in [(255, 255, 255), (0, 0, 0), (12, 200, 99)]
    },
    **{f"mp4-{label}": media.mp4_bytes(label) for label in ("a", "ab", "t" * 40 + "/3")},
    **{f"wav-{label}": media.wav_bytes(label) for label in ("a", "ab", "t" * 41 + "/0")},
    **{f"mp3-{label}": media.mp3_bytes(label) for label in ("a", "t" * 40 + "/1")},
    "midi": media.midi_bytes("t/0"),
    "text": media.text_bytes("t/0"),
}
# formats whose end says whether they are whole
JUDGED = ("png", "jpeg", "mp4", "wav")


@pytest.mark.parametrize("name", sorted(MOCK_FILES))
def test_every_file_the_mock_serves_is_whole(name: str) -> None:
    assert judged(MOCK_FILES[name]) is None


@pytest.mark.parametrize("name", sorted(n for n in MOCK_FILES if n.startswith(JUDGED)))
def test_every_judged_mock_file_cut_anywhere_is_refused(name: str) -> None:
    data = MOCK_FILES[name]
    for cut in {len(data) - 1, len(data) - 2, len(data) // 2, 100, 17}:
        assert judged(data[:cut]) is not None, cut


def test_each_format_says_what_its_end_lacks() -> None:
    assert "IEND" in (judged(media.png_bytes(8, 8, (1, 2, 3))[:-1]) or "")
    assert "FF D9" in (judged(media.jpeg_bytes(8, 8, (1, 2, 3))[:-4]) or "")
    assert "RIFF" in (judged(media.wav_bytes("a")[:-10]) or "")
    assert "past the file's end" in (judged(media.mp4_bytes("a")[:-3]) or "")
    assert "GIF" in (judged(b"GIF89a" + bytes(20)) or "")


def test_formats_with_an_unambiguous_end_pass_whole() -> None:
    gif = b"GIF89a" + bytes(20) + b"\x3b"
    webp = b"RIFF" + struct.pack("<I", 12) + b"WEBPVP8 " + bytes(4)
    padded_jpeg = media.jpeg_bytes(8, 8, (1, 2, 3)) + bytes(300)  # zero padding after EOI
    assert [judged(f) for f in (gif, webp, padded_jpeg)] == [None, None, None]
    assert judged(webp[:-1]) is not None
    assert judged(padded_jpeg[:-320]) is not None


def test_a_riff_size_a_streaming_encoder_could_not_fill_is_not_judged() -> None:
    for unknown in (0, 0xFFFFFFFF):
        assert judged(b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " + bytes(40)) is None


def test_iso_boxes_with_64_bit_sizes_and_a_last_box_to_the_end_of_the_file() -> None:
    ftyp = box(b"ftyp", b"isom" + bytes(4) + b"isommp41")
    moov = box(b"moov", bytes(20))
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 30) + bytes(30)  # a 64-bit size
    to_end = struct.pack(">I4s", 0, b"mdat") + bytes(50)  # size 0: to the end of the file
    assert judged(ftyp + moov + large) is None
    assert judged(ftyp + moov + to_end) is None
    assert judged(ftyp + moov + large[:-1]) is not None
    assert judged(ftyp + large) is not None  # no moov: its end was cut at a box's end
    assert judged(ftyp + moov + struct.pack(">I4s", 4, b"free")) is not None  # size < 8


def test_an_image_in_an_iso_box_file_needs_no_moov() -> None:
    """HEIF/AVIF images are ISO base media too, with a ``meta`` box and no ``moov``."""
    avif = box(b"ftyp", b"avif" + bytes(4) + b"avifmif1") + box(b"meta", bytes(30))
    assert judged(avif + box(b"mdat", bytes(40))) is None


def test_the_format_is_told_by_the_bytes_not_by_a_name_so_others_are_not_judged() -> None:
    """An MP3 has no end to check, nor a text or an unknown format: never refused."""
    mp3 = media.mp3_bytes("a")
    assert [judged(mp3[:-7]), judged(b"hello"), judged(b""), judged(bytes(1000))] == [None] * 4


def test_a_big_file_is_checked_by_reading_a_few_bytes_not_the_whole_file() -> None:
    """A 6 GiB video (64-bit mdat) is judged from its head and box headers: read_at is asked
    for a few dozen bytes, never the file."""
    ftyp = box(b"ftyp", b"isom" + bytes(4) + b"isom")
    moov = box(b"moov", bytes(100))
    mdat_size = 6 * 2**30
    head = ftyp + moov + struct.pack(">I4sQ", 1, b"mdat", mdat_size)
    size = len(ftyp) + len(moov) + mdat_size
    asked: list[int] = []

    def read_at(offset: int, count: int) -> bytes:
        asked.append(count)
        return (head[offset : offset + count] if offset < len(head) else b"").ljust(
            min(count, size - offset), b"\x00"
        )

    assert cut_short(read_at, size) is None
    assert cut_short(read_at, size - 1) is not None
    assert sum(asked) < 200

    jpeg = media.jpeg_bytes(8, 8, (1, 2, 3))
    asked.clear()
    big = 3 * 2**30

    def jpeg_at(offset: int, count: int) -> bytes:
        asked.append(count)
        end = min(offset + count, big)
        tail_starts = big - len(jpeg)
        return bytes(
            jpeg[i] if i < 16 else jpeg[i - tail_starts] if i >= tail_starts else 0
            for i in range(offset, end)
        )

    assert cut_short(jpeg_at, big) is None
    assert sum(asked) <= 16 + 64 * 1024


# -- through a client and the mock ----------------------------------------------------------------


def client_on(mock: MockServer, retry: RetryPolicy = TINY_WAITS) -> Client:
    return Client("test-key", base_url=mock.base_url, rate_limits=None, poll=FAST, retry=retry)


def test_a_file_cut_short_with_its_own_length_is_a_download_error_and_stays_owed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "out"
    with MockServer(MockConfig(polls_to_complete=1)) as mock, client_on(mock) as kie:
        mock.faults.add(FaultRule("malformed", path="/files/*"))
        results = kie.wait(kie.submit("flux-kontext-pro", prompt="x"))
        with pytest.raises(DownloadError) as refused:
            kie.download(results, out)
        error = refused.value
        assert "cut short" in error.message
        assert "JPEG" in error.message
        assert error.task_id == results.task_id
        assert error.url == results.assets[0].url
        assert error.curable
        assert "?" not in str(error).rpartition("url ")[2]  # no query in what is shown
        assert error.path is not None
        assert not Path(error.path).exists()  # nothing kept under the final name
        # the cut bytes are kept beside it (our judgment could be wrong: nothing paid is lost)
        kept = Path(f"{error.path}.incomplete")
        assert [p.name for p in out.iterdir()] == [kept.name]  # and no temporary file
        assert kept.read_bytes().startswith(b"\xff\xd8")
        assert f"kept in {kept.name}" in error.message
        tries = [r for r in mock.requests() if r.path.startswith("/files/")]
        assert len(tries) == 3  # retried, as a size mismatch is (RetryPolicy's 3 attempts)
        assert kie.journal is not None
        row = kie.journal.by_task(results.task_id)
        assert row is not None
        assert row.unfinished

        mock.faults.clear()
        files = kie.download(results, out)  # what kie resume does, once the CDN is well
        assert files[0].read_bytes().endswith(b"\xff\xd9")
        assert not kept.exists()  # the whole copy replaces the cut one
        row = kie.journal.by_task(results.task_id)
        assert row is not None
        assert not row.unfinished


def test_a_file_cut_short_once_is_fetched_again_and_kept_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "data"))
    with MockServer(MockConfig(polls_to_complete=1)) as mock, client_on(mock) as kie:
        mock.faults.add(FaultRule("malformed", path="/files/*", times=1))
        results = kie.wait(kie.submit("veo3_fast", prompt="a wave"))
        files = kie.download(results, tmp_path / "out")
        assert judged(files[0].read_bytes()) is None
        assert files[0].read_bytes()[4:8] == b"ftyp"
        assert len([r for r in mock.requests() if r.path.startswith("/files/")]) == 2
