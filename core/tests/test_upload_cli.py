"""`kie credits`, `kie upload` and `kie run --image` / `--input KEY=@file`, as a user runs them."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from attrs import frozen
from kiekit import Input, ValidationError, cli
from kiekit.cli._files import image_field
from kiekit.fields import describe, text, url, urls

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FAKE_KEY = "sk-fake-upload-cli-key"


@pytest.fixture(autouse=True)
def instant_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli._common, "DEMO_SECONDS", 0.0)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("file", "said"),
    [
        ("a" * 300 + ".png", "kie: error: FILE: cannot read aaa"),  # was "File name too long"
        ("", "kie: error: FILE: is empty: give a file's path or an http(s) URL"),  # "is a folder"
    ],
)
def test_kie_upload_names_a_file_no_system_takes_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], file: str, said: str
) -> None:
    code, out, err = run(capsys, "upload", file, "--mock")
    assert (code, out) == (2, "")
    assert err.startswith(said)
    assert "mock KIE server" not in err  # refused before any server was started


def test_kie_upload_refuses_an_empty_or_unreadable_file_before_a_server_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As kie run refuses its files: FILE named, exit 2, no server started, nothing sent (it
    said `source: is empty` after the mock started, and an unreadable file exited 1)."""
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    code, out, err = run(capsys, "upload", str(empty), "--mock")
    assert (code, out) == (2, "")
    assert err.startswith(f"kie: error: FILE: is empty: {empty}")
    assert "mock KIE server" not in err

    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    opened = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == secret:  # as chmod 000 does, for a user the mode applies to (not root)
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    code, out, err = run(capsys, "upload", str(secret), "--mock")
    assert (code, out) == (2, "")
    assert err.startswith(f"kie: error: FILE: cannot read {secret}: Permission denied")
    assert "mock KIE server" not in err


def test_credits_prints_the_balance(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "credits", "--mock")
    assert code == 0
    assert float(out) == 1000.0  # the mock's starting balance


def test_upload_then_an_edit_task_on_its_url(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    photo: Path,
    tmp_path: Path,
) -> None:
    mock_server = mock_server_factory()  # a task is done at its first poll: no 2 s poll wait
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    where = ["--base-url", mock_server.base_url, "--upload-base-url", mock_server.upload_base_url]

    code, out, err = run(capsys, "upload", str(photo), "--path", "edits", *where)
    assert code == 0, err
    link = out.strip()
    assert link.startswith(mock_server.upload_base_url + "/kieai/")
    assert "/edits/photo-" in link
    (stored,) = mock_server.uploads()
    assert stored.body == PNG

    code, out, err = run(
        capsys,
        "run",
        "flux-kontext-pro",
        "--prompt",
        "make the sky pink",
        "--input",
        f"inputImage={link}",
        "--out",
        str(tmp_path / "out"),
        *where,
    )
    assert code == 0, err
    assert [Path(line).is_file() for line in out.split()] == [True, True]
    (task,) = mock_server.tasks()
    assert task.request_body["inputImage"] == link
    assert FAKE_KEY not in out + err


def test_run_with_image_uploads_the_file_into_the_image_field(
    capsys: pytest.CaptureFixture[str], photo: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "run",
        "flux-kontext-pro",
        "--prompt",
        "make it snow",
        "--image",
        str(photo),
        "--mock",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    assert f"uploaded {photo} for input_image: http://127.0.0.1:" in err
    paths = [Path(line) for line in out.split()]
    assert paths
    assert all(path.is_file() for path in paths)


def test_input_at_file_uploads_it_for_any_url_field(
    capsys: pytest.CaptureFixture[str], photo: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        "run",
        "grok-imagine/image-to-image",
        "--prompt",
        "pink sky",
        "--input",
        f"image_urls=@{photo}",  # a list of URLs: the upload becomes a one-element list
        "--mock",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    assert "uploaded" in err
    assert out.split()


def test_a_refused_upload_names_its_field_and_file_and_nothing_is_created(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    photo: Path,
    tmp_path: Path,
) -> None:
    """Of several files, the one the upload host refused is named, with the field it was
    for (it said only "KIE error 400: File size exceeds the limit")."""
    mock_server = mock_server_factory(upload_file_limit=len(PNG))
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(1))
    where = ["--base-url", mock_server.base_url, "--upload-base-url", mock_server.upload_base_url]

    code, out, err = run(
        capsys, "run", "grok-imagine/image-to-image", "--prompt", "pink sky",
        "--input", f"image_urls=@{photo},@{big}", "--out", str(tmp_path / "out"), "--json",
        *where,
    )  # fmt: skip

    assert code == 1
    said = f"kie: error: image_urls: {big}: KIE error 400: File size exceeds the limit"
    assert said in err.splitlines()
    error = json.loads(out)["error"]
    # the field too, as the text says it (an outside tester's finding: --json left it out)
    assert (error["code"], error["path"], error["field"]) == (400, str(big), "image_urls")
    assert mock_server.tasks() == []  # nothing paid for
    assert len(mock_server.uploads()) == 1  # the first file, before the refused one


def test_a_model_without_an_image_field_is_named_with_the_way_out(
    capsys: pytest.CaptureFixture[str], photo: Path
) -> None:
    code, _, err = run(
        capsys, "run", "grok-imagine/text-to-image", "--prompt", "x", "--image", str(photo),
        "--mock",
    )  # fmt: skip
    assert code == 2
    assert "grok-imagine/text-to-image has no image input field" in err
    assert "--input FIELD=@./photo.png" in err
    assert "mock KIE server" not in err  # refused before any server or request


def test_a_second_image_is_refused_before_anything_is_paid_for(
    capsys: pytest.CaptureFixture[str], photo: Path
) -> None:
    """Argparse kept the last `--image`: a task was paid for with one image of two, silently
    (found by an outside tester)."""
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--image", str(photo)]
    with pytest.raises(SystemExit) as usage:  # a usage error, as argparse's own
        cli.main([*argv, "--image", str(photo), "--mock"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "--image is given more than once" in err
    assert "mock KIE server" not in err  # refused before any server or request


@pytest.mark.parametrize(
    ("model", "field", "options"),
    [
        ("mj_img2img", "file_urls", ["--input", "speed=fast"]),
        ("gpt4o-image", "files_url", ["--input", "size=1:1"]),  # not mask_url: a mask
        ("kling-3.0/motion-control", "input_urls", []),  # not video_urls
    ],
)
def test_image_goes_to_the_url_field_not_named_for_something_else(
    capsys: pytest.CaptureFixture[str], photo: Path, model: str, field: str, options: list[str]
) -> None:
    from kiekit.registry import default_registry

    assert image_field(default_registry().provider(model), model).name == field
    if model == "mj_img2img":  # and end to end, through the embedded mock
        code, out, err = run(
            capsys, "run", model, "--prompt", "x", "--image", str(photo), *options, "--mock",
            "--out", str(photo.parent / "out"),
        )  # fmt: skip
        assert code == 0, err
        assert f"for {field}: http://127.0.0.1:" in err
        assert len(out.split()) == 4  # Midjourney's four images


def test_a_file_for_an_image_field_not_named_image_must_be_an_image(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("hello")
    code, _, err = run(
        capsys, "run", "mj_img2img", "--prompt", "x", "--input", "speed=fast",
        "--input", f"file_urls=@{notes}", "--mock",
    )  # fmt: skip
    assert code == 2
    assert f"file_urls: is not an image (PNG, JPEG, WebP, GIF, BMP, TIFF or HEIC): {notes}" in err


def test_missing_files_are_named_before_anything_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.png"
    for argv in (
        ["run", "flux-kontext-pro", "--prompt", "x", "--image", str(missing), "--mock"],
        ["run", "flux-kontext-pro", "--prompt", "x", "--input", f"inputImage=@{missing}"],
        ["upload", str(missing), "--mock"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert f"no such file: {missing}" in err
        assert "mock KIE server" not in err


def test_a_folder_is_called_a_folder_not_a_missing_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "upload", str(tmp_path), "--mock")

    assert code == 2
    assert f"FILE: is a folder, not a file: {tmp_path}" in err
    assert "no such file" not in err
    assert "mock KIE server" not in err  # refused before anything starts


def test_bad_upload_options_are_named(capsys: pytest.CaptureFixture[str], photo: Path) -> None:
    """Said as the options typed (an outside tester's finding: `upload_path: …`, `file_name:
    …`, the Python arguments they become), before any server starts."""
    code, _, err = run(capsys, "upload", str(photo), "--path", "/abs", "--mock")
    assert code == 2
    assert err.startswith("kie: error: --path: must not start or end with '/'")
    code, _, err = run(capsys, "upload", str(photo), "--name", "../x.png", "--mock")
    assert code == 2
    assert err.startswith("kie: error: --name: must be a name, not a path: '../x.png'")
    assert "mock KIE server" not in err
    code, out, _ = run(capsys, "upload", str(photo), "--name", "../x.png", "--json")
    assert json.loads(out)["error"]["field"] == "--name"
    code, _, err = run(
        capsys, "run", "flux-kontext-pro", "--prompt", "x", "--image", str(photo),
        "--input", f"inputImage=@{photo}", "--mock",
    )  # fmt: skip
    assert code == 2
    assert "given twice" in err


@frozen
class TwoImages(Input):
    prompt: str = text()
    first_image: str | None = url(default=None)
    style_image_urls: tuple[str, ...] | None = urls(default=None)
    mask_url: str | None = url(default=None)


@frozen
class NoImage(Input):
    prompt: str = text()
    video_url: str | None = url(default=None)


def fake_provider(cls: type[Input]) -> Any:
    return SimpleNamespace(input_fields=lambda model: describe(cls))


def test_image_field_needs_exactly_one_url_field_named_for_images() -> None:
    with pytest.raises(ValidationError, match=r"several image input fields \(first_image, style"):
        image_field(fake_provider(TwoImages), "acme/two")
    with pytest.raises(ValidationError, match="acme/none has no image input field"):
        image_field(fake_provider(NoImage), "acme/none")


@pytest.mark.parametrize(
    "given",
    [
        ["--image", "{photo}"],
        ["--input", "image_input=@{photo}"],
        ["--input", "image_input=https://example.com/a.png"],  # a lone URL: a list of one
    ],
)
def test_a_catalogue_model_whose_image_field_is_a_list_takes_a_file_or_a_lone_url(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    photo: Path,
    tmp_path: Path,
    given: list[str],
) -> None:
    """README's own market example: nano-banana-pro's ``image_input`` is a list of URLs in
    kiekit-market's catalogue; the upload (or the one URL) is sent as a list of one."""
    mock_server = mock_server_factory()
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    where = ["--base-url", mock_server.base_url, "--upload-base-url", mock_server.upload_base_url]
    options = [part.format(photo=photo) for part in given]
    code, out, err = run(
        capsys, "run", "nano-banana-pro", "--prompt", "as a watercolour", *options,
        "--out", str(tmp_path / "out"), *where,
    )  # fmt: skip
    assert code == 0, err
    assert out.split()
    (task,) = mock_server.tasks()
    (sent,) = task.request_body["input"]["image_input"]
    if "https://example.com/a.png" in given[1]:
        assert sent == "https://example.com/a.png"
    else:
        assert sent.startswith(mock_server.upload_base_url)
        assert f"uploaded {photo} for image_input" in err


def test_several_local_files_go_into_a_list_field(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    photo: Path,
    tmp_path: Path,
) -> None:
    """`--input image_input=@a.png,@b.png`: each file uploaded, the list sent (it was read as
    one file named "a.png,@b.png", found by an outside tester)."""
    mock_server = mock_server_factory()
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    second = tmp_path / "second.png"
    second.write_bytes(PNG)
    where = ["--base-url", mock_server.base_url, "--upload-base-url", mock_server.upload_base_url]
    code, _, err = run(
        capsys, "run", "nano-banana-pro", "--prompt", "both", "--input",
        f"image_input=@{photo},@{second}", "--out", str(tmp_path / "out"), *where,
    )  # fmt: skip
    assert code == 0, err
    (task,) = mock_server.tasks()
    sent = task.request_body["input"]["image_input"]
    assert len(sent) == 2
    assert all(url.startswith(mock_server.upload_base_url) for url in sent)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("@{photo},notaurl", "image_urls[1]: 'notaurl' is no @file"),
        ("@{photo},@{photo},https://e.com/c.png", "image_urls[2]: 'https://e.com/c.png' is no"),
    ],
)
def test_a_list_of_files_names_the_entry_that_is_no_file(
    value: str, named: str, capsys: pytest.CaptureFixture[str], photo: Path
) -> None:
    """`@a.png,notaurl` was taken for one file named "a.png,notaurl" ("no such file"); the
    entry at fault is named by its place, and nothing is uploaded or sent."""
    code, _, err = run(
        capsys, "run", "grok-imagine/image-to-image", "--prompt", "x", "--input",
        "image_urls=" + value.format(photo=photo), "--mock",
    )  # fmt: skip
    assert code == 2
    assert named in err
    assert "uploaded" not in err
    assert "created task" not in err


def test_a_list_field_refused_says_how_to_write_a_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys, "run", "nano-banana-pro", "--prompt", "x", "--input", 'image_input={"a": 1}',
        "--mock",
    )  # fmt: skip
    assert code == 2
    assert 'image_input: must be a list of URLs: ["https://' in err
    assert "comma-separated: URL1,URL2" in err


MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256))  # an ID3 tag, then frames


@pytest.mark.parametrize(
    "model", ["suno/upload-cover", "suno/upload-extend", "suno/add-instrumental", "suno/add-vocals"]
)
def test_image_never_goes_into_a_field_for_a_song(
    capsys: pytest.CaptureFixture[str], photo: Path, model: str
) -> None:
    """`--image photo.png` was uploaded as Suno's song (`upload_url`, its one URL field) and the
    task paid for (found by an outside tester): these models take no image."""
    from kiekit.registry import default_registry

    with pytest.raises(ValidationError, match=f"{model} has no image input field"):
        image_field(default_registry().provider(model), model)
    code, _, err = run(capsys, "run", model, "--prompt", "x", "--image", str(photo), "--mock")
    assert code == 2
    assert f"--image: {model} has no image input field" in err
    assert "mock KIE server" not in err  # refused before any server, upload or create


def test_a_file_of_the_wrong_kind_for_a_url_field_is_refused_naming_the_field(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    photo: Path,
    tmp_path: Path,
) -> None:
    """An image for Suno's song (declared audio) or Sora's character clip (a video), text for
    a song: refused before anything is uploaded; a song goes through."""
    notes = tmp_path / "song.mp3"
    notes.write_text("la la la\n")
    for model, field, given, says in [
        ("suno/upload-cover", "upload_url", photo, "takes an audio file, and {} is an image"),
        ("suno/upload-cover", "upload_url", notes, "takes an audio file, and {} is text"),
        ("sora-2-characters", "character_file_url", photo, "takes a video, and {} is an image"),
    ]:
        code, _, err = run(
            capsys, "run", model, "--prompt", "x", "--input", f"{field}=@{given}", "--mock"
        )
        assert code == 2
        assert f"{field}: {says.format(given)}" in err
        assert "mock KIE server" not in err

    mock_server = mock_server_factory()
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    song = tmp_path / "song-2.mp3"
    song.write_bytes(MP3)
    where = ["--base-url", mock_server.base_url, "--upload-base-url", mock_server.upload_base_url]
    code, out, err = run(
        capsys, "run", "suno/upload-cover", "--prompt", "x", "--input", f"upload_url=@{song}",
        "--out", str(tmp_path / "out"), *where,
    )  # fmt: skip
    assert code == 0, err
    assert out.split()  # the songs, downloaded
    (task,) = mock_server.tasks()
    assert task.request_body["uploadUrl"].startswith(mock_server.upload_base_url)
    assert [stored.body for stored in mock_server.uploads()] == [MP3]


@pytest.mark.parametrize(
    ("model", "field", "says"),
    [
        ("flux-kontext-pro", "prompt", "prompt: takes text, not a file"),
        ("flux-kontext-pro", "aspectRatio", "aspectRatio: takes text, not a file"),
        ("acme/brand-new", "prompt", "prompt: is not an input field kiekit knows to take a URL"),
        ("sora-2-text-to-video", "progress_callback_url", "is an address KIE calls, not a file"),
    ],
)
def test_at_file_is_never_uploaded_for_a_field_that_takes_no_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    model: str,
    field: str,
    says: str,
) -> None:
    """`--input prompt=@everyone` uploaded the file `everyone` to KIE's public upload host and
    sent its link as the prompt (found by an outside tester): @ in a text field is refused,
    with the way to send a literal @."""
    monkeypatch.chdir(tmp_path)
    Path("everyone").write_text("TOP SECRET notes")
    options = [] if field == "prompt" else ["--prompt", "x"]
    code, _, err = run(
        capsys, "run", model, *options, "--input", f"{field}=@everyone", "--mock", "--any-model"
    )
    assert code == 2
    assert says in err
    if "text" in says:
        assert f"--input {field}=@@everyone" in err  # the way out
    assert "mock KIE server" not in err  # nothing started, nothing uploaded


def test_a_doubled_at_sends_a_literal_at(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Any,
    tmp_path: Path,
) -> None:
    mock_server = mock_server_factory()
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)
    monkeypatch.chdir(tmp_path)
    Path("everyone").write_text("TOP SECRET notes")  # there, and never read
    code, _, err = run(
        capsys, "run", "flux-kontext-pro", "--input", "prompt=@@everyone, look up",
        "--out", "out", "--base-url", mock_server.base_url,
        "--upload-base-url", mock_server.upload_base_url,
    )  # fmt: skip
    assert code == 0, err
    (task,) = mock_server.tasks()
    assert task.request_body["prompt"] == "@everyone, look up"
    assert mock_server.uploads() == []
