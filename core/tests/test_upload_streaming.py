"""A large local file is streamed to the upload host, never read into memory whole.

The mock runs in a process of its own here (``python -m kiekit_mock``), so that Python's
allocation tracer sees only the client: the server has to hold the whole file, the client not.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiekit import UploadedFile

MB = 1024 * 1024
SIZE = 20 * MB
# The client may hold a few chunks and the multipart framing; anything near the file's size
# means it was read whole (or base64-encoded, or joined) somewhere.
PEAK_LIMIT = 4 * MB


@pytest.fixture(scope="module")
def mock_process() -> Iterator[tuple[str, str]]:
    """The mock KIE (API and upload host) in a child process on free ports."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kiekit_mock", "--port", "0", "--upload-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None

    def read_lines() -> None:
        for line in process.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read_lines)
    reader.start()
    try:
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 60  # startup under load; a hang guard
        while len(urls) < 2 and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            found = re.search(r"(KIE API|upload host) mock listening on (http://\S+)", line)
            if found:
                urls[found.group(1)] = found.group(2)
        assert len(urls) == 2, f"the mock did not start: {urls}"
        yield urls["KIE API"], urls["upload host"]
    finally:
        process.terminate()
        process.wait(10)
        reader.join(10)
        process.stdout.close()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "video.mp4"
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(SIZE // MB):
            block = os.urandom(MB)
            digest.update(block)
            out.write(block)
    return path, digest.hexdigest()


def sha256_of(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    digest = hashlib.sha256()
    with opener.open(url, timeout=30) as response:
        while block := response.read(MB):
            digest.update(block)
    return digest.hexdigest()


def test_a_20_mb_file_is_streamed_not_loaded(
    api: Any, mock_process: tuple[str, str], big_file: tuple[Path, str]
) -> None:
    base_url, upload_base_url = mock_process
    path, expected = big_file

    async def scenario() -> UploadedFile:
        options = {"base_url": base_url, "upload_base_url": upload_base_url, "journal": None}
        async with api.client(**options) as client:
            uploaded: UploadedFile = await client.upload(path, upload_path="videos")
            return uploaded

    tracemalloc.start()
    try:
        uploaded = api.run(scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert uploaded.size == SIZE
    assert uploaded.mime_type == "video/mp4"
    assert peak < PEAK_LIMIT, f"{api.name} held {peak / MB:.1f} MB to upload {SIZE // MB} MB"
    assert sha256_of(uploaded.download_url) == expected  # every byte arrived, in order
