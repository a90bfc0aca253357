"""Downloading results: names from the task id, never outside out_dir, atomic, no key sent."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiekit import Asset, DownloadError, FileWriteError, MediaKind, Results, TransportError
from kiekit._engine import Fetch, file_name
from kiekit.transport import HttpResponse

TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
HOSTILE_URLS = [
    "https://x/../../etc/passwd",
    "https://x/a/..%2f..%2fevil.png",
    "https://x/a/%2e%2e/%2e%2e/evil.png",
    "https://x/..\\..\\evil.png",
    "https://x/evil.png/..",
    "https://x/C:/Windows/evil.exe",
    "https://x/",
    "https://x",
    "https://x/.bashrc",
    "https://x/a.png?name=../../evil.png#../../x",
]


def image(url: str, label: str | None = None, media_type: str | None = None) -> Asset:
    return Asset(url=url, kind=MediaKind.IMAGE, media_type=media_type, label=label)


def assert_inside(out_dir: Path, path: Path) -> None:
    assert path.resolve().parent == out_dir.resolve()


# -- file_name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset", "expected"),
    [
        (image("https://cdn/r/abc.jpg"), f"{TASK_ID}-0.jpg"),
        (image("https://cdn/r/abc.PNG"), f"{TASK_ID}-0.png"),
        (image("https://cdn/r/abc.png?sig=1.exe"), f"{TASK_ID}-0.png"),
        (image("https://cdn/r/abc", media_type="image/png"), f"{TASK_ID}-0.png"),
        (image("https://cdn/r/abc"), f"{TASK_ID}-0.bin"),
        (image("https://cdn/r/abc.jpg", label="origin"), f"{TASK_ID}-origin-0.jpg"),
        (image("https://cdn/r/abc.jpg", label="../x"), f"{TASK_ID}-x-0.jpg"),
    ],
)
def test_file_name_comes_from_the_task_id(asset: Asset, expected: str) -> None:
    assert file_name(TASK_ID, 0, asset) == expected


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_file_name_ignores_the_url_path(url: str) -> None:
    name = file_name(TASK_ID, 3, image(url))

    assert name.startswith(f"{TASK_ID}-3")
    assert "/" not in name
    assert "\\" not in name
    assert ".." not in name


@pytest.mark.parametrize("task_id", ["../../etc", "..", "a/b\\c", "", "...", "C:\\x", "~root"])
def test_file_name_is_safe_even_for_a_hostile_task_id(task_id: str, tmp_path: Path) -> None:
    name = file_name(task_id, 0, image("https://x/a.png"))

    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert_inside(tmp_path, tmp_path / name)


@given(
    task_id=st.text(min_size=0, max_size=60),
    label=st.none() | st.text(max_size=20),
    path=st.text(max_size=40),
    index=st.integers(min_value=0, max_value=99),
)
def test_file_names_never_leave_the_folder(
    task_id: str, label: str | None, path: str, index: int
) -> None:
    out_dir = Path("/srv/out")
    name = file_name(task_id, index, image("https://x/" + path, label=label))

    assert name not in ("", ".", "..")
    assert "/" not in name
    assert "\\" not in name
    assert "\x00" not in name
    assert (out_dir / name).parent == out_dir


@given(st.lists(st.sampled_from(["a.png", "a.jpg", "b", "../a.png"]), min_size=1, max_size=6))
def test_file_names_of_one_task_are_distinct(paths: list[str]) -> None:
    names = [file_name(TASK_ID, i, image("https://x/" + p)) for i, p in enumerate(paths)]

    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("asset", "ext"),
    [
        (image("https://cdn/r/a.exe"), ".bin"),
        (image("https://cdn/r/a.png%00.sh"), ".bin"),
        (image("https://cdn/r/a.html"), ".bin"),
        (image("https://cdn/r/a.html", media_type="image/png"), ".png"),
        (image("https://cdn/r/a.mp4"), ".bin"),  # a video's extension on an image
        (image("https://cdn/r/a.heic"), ".heic"),
        (Asset(url="https://cdn/r/a.sh", kind=MediaKind.TEXT), ".bin"),
        (Asset(url="https://cdn/r/a.txt", kind=MediaKind.TEXT), ".txt"),
        (Asset(url="https://cdn/r/a.mp4", kind=MediaKind.VIDEO), ".mp4"),
        (Asset(url="https://cdn/r/a.bat", kind=MediaKind.OTHER), ".bin"),
        (Asset(url="https://cdn/r/a.zip", kind=MediaKind.OTHER), ".zip"),
    ],
)
def test_the_extension_is_the_urls_only_when_it_fits_the_kind_of_file(
    asset: Asset, ext: str
) -> None:
    """A hostile or broken host's "image" link ending .exe, .sh or .html is not saved as a
    program or a page a double-click would run or open in a browser."""
    assert file_name(TASK_ID, 0, asset) == f"{TASK_ID}-0{ext}"


def test_task_ids_that_were_the_same_name_once_are_told_apart() -> None:
    """`a/b`, `a\x00b` and `a_b` all made `a_b-0.png`, so one task's download replaced
    another's; `ABC` and `abc` share a file on case-blind file systems (macOS, Windows)."""
    ids = ["a/b", "a\x00b", "a_b", "a_b~", "ABC", "abc", "Abc", "", "task", "..."]
    names = [file_name(task_id, 0, image("https://x/a.png")) for task_id in ids]
    assert len({name.lower() for name in names}) == len(ids)
    assert names[2] == "a_b-0.png"  # a plain id is kept as it is (KIE's are hex)


@given(st.text(max_size=40), st.text(max_size=40))
def test_two_task_ids_never_share_a_file_name(first: str, second: str) -> None:
    if first == second:
        return
    asset = image("https://x/a.png")
    assert file_name(first, 0, asset).lower() != file_name(second, 0, asset).lower()


@pytest.mark.parametrize(
    "task_id", ["aux.txt", "CON.x", "nul.tar.gz", "com1.x", "LPT9.a.b", "prn.txt"]
)
def test_no_file_is_named_as_a_windows_device(task_id: str) -> None:
    name = file_name(task_id, 0, image("https://x/a.png"))
    head = name.split(".", 1)[0].lower()
    assert head not in {"con", "prn", "aux", "nul", "com1", "lpt9"}
    assert not head.startswith(("aux.", "con.", "nul.", "com1.", "lpt9.", "prn."))


# -- through the clients, in memory ----------------------------------------------------------------


def test_download_writes_each_file_into_out_dir(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    urls = ["https://cdn/r/one.jpg", "https://cdn/r/two.png"]
    kie = kit.FakeKie(files={urls[0]: b"one", urls[1]: b"two"})
    results = Results(TASK_ID, tuple(image(u) for u in urls))
    out_dir = tmp_path / "new" / "folder"

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport) as client:
            return await client.download(results, out_dir)

    paths = api.run(scenario)

    assert paths == [out_dir / f"{TASK_ID}-0.jpg", out_dir / f"{TASK_ID}-1.png"]
    assert [p.read_bytes() for p in paths] == [b"one", b"two"]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in paths)


def test_download_accepts_a_string_folder_and_overwrites(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    url = "https://cdn/r/one.jpg"
    kie = kit.FakeKie(files={url: b"fresh"})
    (tmp_path / f"{TASK_ID}-0.jpg").write_bytes(b"stale")

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport) as client:
            return await client.download(Results(TASK_ID, (image(url),)), str(tmp_path))

    (path,) = api.run(scenario)

    assert path.read_bytes() == b"fresh"


def test_a_folder_name_no_file_can_have_is_a_file_write_error_naming_it_and_the_task(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    url = "https://cdn/r/one.jpg"
    kie = kit.FakeKie(files={url: b"one"})
    out_dir = str(tmp_path / "a\0b")  # as a name this locale cannot encode: a ValueError

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport) as client:
            return await client.download(Results(TASK_ID, (image(url),)), out_dir)

    with pytest.raises(FileWriteError) as caught:
        api.run(scenario)

    assert caught.value.task_id == TASK_ID
    assert caught.value.path == out_dir


def test_hostile_url_paths_stay_inside_out_dir(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    kie = kit.FakeKie(files=dict.fromkeys(HOSTILE_URLS, b"payload"))
    results = Results(TASK_ID, tuple(image(url) for url in HOSTILE_URLS))

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport) as client:
            return await client.download(results, out_dir)

    paths = api.run(scenario)

    assert len(paths) == len(HOSTILE_URLS)
    for path in paths:
        assert_inside(out_dir, path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(tmp_path) for p in paths)


def test_tasks_whose_ids_once_made_one_name_keep_both_files(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    """Nothing paid for is silently dropped: two tasks downloaded into one folder keep their
    own files whatever their ids."""
    urls = {"a/b": "https://cdn/r/one.png", "a_b": "https://cdn/r/two.png"}
    kie = kit.FakeKie(files={urls["a/b"]: b"one", urls["a_b"]: b"two"})

    async def scenario() -> list[Path]:
        async with api.client(transport=kie.transport) as client:
            paths = []
            for task_id, url in urls.items():
                paths += await client.download(Results(task_id, (image(url),)), tmp_path)
            return paths

    first, second = api.run(scenario)

    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")


def test_fetch_sends_no_authorization(api: Any, kit: SimpleNamespace, tmp_path: Path) -> None:
    url = "https://cdn/r/one.jpg"
    kie = kit.FakeKie(files={url: b"x"})

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.download(Results(TASK_ID, (image(url),)), tmp_path)

    api.run(scenario)

    (request,) = kie.requests
    assert request.url == url
    assert "Authorization" not in request.headers
    assert kit.CANARY not in repr(request)


@pytest.mark.parametrize(
    "answer",
    [
        HttpResponse(403, b"AccessDenied", "Forbidden"),
        HttpResponse(404, b"", "Not Found"),
        TransportError("connection reset"),
    ],
    ids=["403", "404", "reset"],
)
def test_a_failed_download_raises_download_error_and_leaves_nothing(
    api: Any, kit: SimpleNamespace, tmp_path: Path, answer: Any
) -> None:
    good, bad = "https://cdn/r/good.jpg", "https://cdn/r/expired.jpg?sig=abc"
    kie = kit.FakeKie(files={good: b"good", bad: answer})

    async def scenario() -> None:
        async with api.client(transport=kie.transport) as client:
            await client.download(Results(TASK_ID, (image(good), image(bad))), tmp_path)

    with pytest.raises(DownloadError) as info:
        api.run(scenario)

    assert info.value.url == "https://cdn/r/expired.jpg"  # without the signed query
    assert info.value.task_id == TASK_ID
    assert [p.name for p in tmp_path.iterdir()] == [f"{TASK_ID}-0.jpg"]  # no part file


# -- through the real transports -------------------------------------------------------------------


@pytest.fixture
def fetch(fetch: Any) -> Any:
    """conftest's fetch through each real transport, by URL and destination."""
    return lambda url, destination: fetch(Fetch(url, destination, task_id=TASK_ID))


def test_real_fetch_writes_the_file(fetch: Any, file_server: Any, tmp_path: Path) -> None:
    path = fetch(file_server.base_url + "/file.png", tmp_path / "a.png")

    assert path == tmp_path / "a.png"
    assert path.read_bytes() == file_server.body
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_real_fetch_sends_no_authorization(fetch: Any, file_server: Any, tmp_path: Path) -> None:
    fetch(file_server.base_url + "/file.png", tmp_path / "a.png")

    assert file_server.seen
    assert all("authorization" not in {k.lower() for k in h} for h in file_server.seen)


def test_real_fetch_writes_a_file_larger_than_one_read(
    fetch: Any, file_server: Any, tmp_path: Path
) -> None:
    path = fetch(file_server.base_url + "/large.png", tmp_path / "a.png")

    assert path.read_bytes() == file_server.large
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_real_fetch_saves_a_compressed_body_decoded(
    fetch: Any, file_server: Any, tmp_path: Path
) -> None:
    path = fetch(file_server.base_url + "/gzip.png", tmp_path / "a.png")

    assert path.read_bytes() == file_server.large  # the file, not its gzip encoding
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_real_fetch_follows_a_cdn_redirect(fetch: Any, file_server: Any, tmp_path: Path) -> None:
    path = fetch(file_server.base_url + "/redirect", tmp_path / "a.png")

    assert path.read_bytes() == file_server.body


def test_a_redirect_loop_is_said_in_words(fetch: Any, file_server: Any, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"too many redirects \(a redirect loop\?\)"):
        fetch(file_server.base_url + "/loop", tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("route", ["/truncated", "/missing"])
def test_real_fetch_failure_leaves_no_partial_file(
    fetch: Any, file_server: Any, tmp_path: Path, route: str
) -> None:
    url = file_server.base_url + route

    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "a.png")

    assert info.value.url == url
    assert info.value.task_id == TASK_ID
    assert list(tmp_path.iterdir()) == []


def test_real_fetch_from_a_dead_host_is_a_download_error(
    fetch: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{kit.free_port()}/a.png"

    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "a.png")

    assert info.value.url == url
    # what went wrong, in words (not urllib3's NewConnectionError, aiohttp's
    # ClientConnectorError, or the MaxRetryError wrapped around them)
    assert "download failed: connection refused" in str(info.value)
    assert "Error" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("side", ["Urllib3Transport", "AiohttpTransport"])
def test_network_failures_are_said_in_words(kit: SimpleNamespace, side: str) -> None:
    """A refused connection and a server that never answers, as a person would say them."""
    import asyncio
    import inspect
    import socket

    import kiekit.transport
    from kiekit._engine import HttpRequest
    from kiekit.errors import TransportError

    silent = socket.socket()  # listens and accepts (the kernel does), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    places = {
        "connection refused": f"http://127.0.0.1:{kit.free_port()}/x",
        "no answer in time": f"http://127.0.0.1:{silent.getsockname()[1]}/x",
    }
    try:
        for words, url in places.items():

            async def send(url: str = url) -> object:
                transport = getattr(kiekit.transport, side)(timeout=0.2)
                try:
                    answer = transport.send(HttpRequest("GET", url, {}, None))
                    return await answer if inspect.isawaitable(answer) else answer
                finally:
                    closed = transport.close()
                    if inspect.isawaitable(closed):
                        await closed

            with pytest.raises(TransportError) as info:
                asyncio.run(send())
            assert str(info.value) == f"GET {url} failed: {words}"
    finally:
        silent.close()


def test_a_cancelled_async_fetch_lets_its_file_go(file_server: Any, tmp_path: Path) -> None:
    """AiohttpTransport reads a large result file on a thread: a cancellation ends the await at
    once, and the thread, at its next chunk, removes its temporary file and renames nothing."""
    from kiekit.transport import AiohttpTransport

    job = Fetch(file_server.base_url + "/stall.png", tmp_path / "a.png", task_id=TASK_ID)
    before = set(threading.enumerate())

    async def scenario() -> None:
        transport = AiohttpTransport(timeout=5)
        try:  # the thread's part alone: the file server sees one request, which stalls
            fetching = asyncio.ensure_future(transport._fetch_large(job))
            assert await asyncio.to_thread(file_server.stalled.wait, 60)  # half the file sent
            fetching.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fetching
        finally:
            await transport.close()

    asyncio.run(scenario())
    file_server.resume.set()  # the rest comes: a thread still reading finds it was cancelled
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("kiekit-file"):
            thread.join(30)
    assert list(tmp_path.iterdir()) == []


def test_clients_download_over_real_sockets(api: Any, file_server: Any, tmp_path: Path) -> None:
    results = Results(TASK_ID, (image(file_server.base_url + "/file.png"),))

    async def scenario() -> list[Path]:
        async with api.client() as client:
            return await client.download(results, tmp_path)

    (path,) = api.run(scenario)

    assert path == tmp_path / f"{TASK_ID}-0.png"
    assert path.read_bytes() == file_server.body
    assert all("authorization" not in {k.lower() for k in h} for h in file_server.seen)
