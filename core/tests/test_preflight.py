"""Nothing is paid for before the local checks pass: `kie run` and `kie batch` check the output
folder and the image files first, and say which option is wrong in one line (exit 2)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from kiekit import cli

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FAKE_KEY = "sk-fake-preflight-key"


@pytest.fixture
def mock(mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    return mock_server_factory()


def where(mock: Any) -> list[str]:
    return ["--base-url", mock.base_url, "--upload-base-url", mock.upload_base_url]


def kie(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def assert_nothing_sent(mock: Any, err: str) -> None:
    assert mock.requests() == [], "a request reached the mock"
    assert mock.uploads() == []
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_an_out_that_is_a_file_is_refused_before_the_create(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    for out in (taken, taken / "below"):
        code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--out", str(out),
                        *where(mock))  # fmt: skip
        assert code == 2
        assert "--out" in err
        assert_nothing_sent(mock, err)
    assert taken.read_text() == "not a folder"


def test_a_missing_out_folder_is_made_and_the_run_goes_on(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "deeper"
    code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--out", str(out),
                    *where(mock))  # fmt: skip
    assert code == 0, err
    names = [p.name for p in out.iterdir()]
    assert names
    assert all(name.endswith(".jpeg") for name in names), names  # no scratch file left behind


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", "no such file"),
        (lambda d: d, "is a folder, not a file"),
        (lambda d: (d / "notes.png").write_text("hello") and d / "notes.png", "is not an image"),
        (lambda d: (d / "empty.png").write_bytes(b"") or d / "empty.png", "is not an image"),
    ],
)
def test_an_image_that_is_not_one_is_refused_before_the_upload_and_the_create(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    image = make(tmp_path)
    for option in (["--image", str(image)], ["--input", f"inputImage=@{image}"]):
        code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", *option,
                        "--out", str(tmp_path / "out"), *where(mock))  # fmt: skip
        assert code == 2
        assert message in err
        assert option[0] in err or "inputImage" in err
        assert_nothing_sent(mock, err)


@pytest.mark.parametrize("head", [PNG, b"\xff\xd8\xff\xe0" + b"0" * 32, b"RIFF\0\0\0\0WEBPVP8 "])
def test_real_image_formats_pass(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], head: bytes
) -> None:
    image = tmp_path / "photo.bin"  # the content decides, not the name
    image.write_bytes(head)
    code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--image", str(image),
                    "--out", str(tmp_path / "out"), *where(mock))  # fmt: skip
    assert code == 0, err
    assert len(mock.uploads()) == 1


def test_kie_batch_checks_its_out_folder_before_any_job(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "x"}}) + "\n")
    taken = tmp_path / "taken"
    taken.write_text("")
    code, err = kie(capsys, "batch", str(jobs), "--out", str(taken), *where(mock))
    assert code == 2
    assert "--out" in err
    assert_nothing_sent(mock, err)


def test_an_out_whose_name_is_not_utf8_is_refused_before_the_create(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Linux name is bytes: one that is not UTF-8 (Latin-1 'é') cannot be recorded in the
    journal, and was found out only after the task was paid for and downloaded."""
    import os

    out = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xe9dir"))
    code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--out", str(out),
                    *where(mock))  # fmt: skip
    assert code == 2
    assert "--out: is not a valid UTF-8 path" in err
    assert_nothing_sent(mock, err)


LONG = "a" * 300  # a name no file system takes (ENAMETOOLONG): Path.exists() raises it


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--out", LONG], "--out: cannot write files in aaa"),
        (["--image", f"{LONG}.png"], "--image: cannot read aaa"),
        (["--input", f"inputImage=@{LONG}.png"], "inputImage: cannot read aaa"),
    ],
)
def test_a_path_too_long_is_named_with_its_option_before_the_create(
    mock: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    said: str,
) -> None:
    """It was "kie: error: File name too long", naming neither, with exit 1 (KIE's fault)."""
    monkeypatch.chdir(tmp_path)
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--out", "o", *option, *where(mock)]
    code, err = kie(capsys, *argv)
    assert code == 2
    assert said in err
    assert re.search(r"… \((300|304) characters\): File name too long$", err.strip())  # cut
    assert_nothing_sent(mock, err)


def test_kie_batch_names_a_results_file_no_system_takes_before_any_job(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "x"}}) + "\n")
    results = tmp_path / f"{LONG}.jsonl"
    code, err = kie(capsys, "batch", str(jobs), "--out", str(tmp_path / "o"),
                    "--results", str(results), *where(mock))  # fmt: skip
    assert code == 2  # was 1, as if KIE had failed, with the bare "File name too long"
    assert f"--results: cannot write {str(results)[:50]}" in err
    assert err.strip().endswith(": File name too long")
    assert_nothing_sent(mock, err)


@pytest.mark.parametrize("results", [None, "r.jsonl"])
def test_kie_batch_refuses_a_results_file_it_cannot_open_before_the_mock_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], results: str | None
) -> None:
    """It was refused only once --mock had started its server (said on the terminal)."""
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": "flux-kontext-pro", "input": {"prompt": "x"}}) + "\n")
    path = tmp_path / "o" / (results or "results.jsonl")
    path.mkdir(parents=True)  # a folder where the results file goes
    argv = ["batch", str(jobs), "--out", str(tmp_path / "o"), "--mock"]
    argv += ["--results", str(path)] if results else []
    code, err = kie(capsys, *argv)
    assert code == 2
    option = "--results" if results else "--out"
    assert err == f"kie: error: {option}: cannot write {path}: Is a directory\n"  # no server


def test_an_out_too_deep_for_a_result_files_name_is_refused_before_the_create(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PATH_MAX (4096 with its NUL) leaves this folder room for a short scratch file's name,
    # not for "<32 hex>-result-0.jpeg.<pid>-<8 hex>.part", the first file a task downloads
    out = str(tmp_path)
    while len(os.fsencode(out)) < 4095 - 40 - 201:
        out += "/" + "я" * 100
    out += "/" + "x" * (4095 - 40 - len(os.fsencode(out)) - 1)
    assert len(os.fsencode(out)) == 4095 - 40

    code, err = kie(capsys, "run", "flux-kontext-pro", "--prompt", "x", "--out", out, *where(mock))

    assert code == 2
    assert "--out: cannot write files in" in err
    assert "File name too long" in err
    assert_nothing_sent(mock, err)
