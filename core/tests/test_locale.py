"""Non-ASCII folders, files and prompts under a locale that cannot spell them: ``LC_ALL=C`` with
``PYTHONUTF8=0`` (cron, systemd, ssh without the locale, a bare Docker image), where Python's
file system and standard stream encoding is ASCII. The environment is set explicitly: a UTF-8
mode or a C.UTF-8 coercion would hide every one of these."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kiekit.cli import main
from kiekit.journal import EntryState, default_journal

FLUX = "flux-kontext-pro"


def c_locale(*argv: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``kie ARGV`` in a C locale without UTF-8 mode, its journal in ``data``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    environ = {**clean, "LC_ALL": "C", "PYTHONUTF8": "0", "KIEKIT_DATA_DIR": str(data), **env}
    return subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "kiekit", *argv],
        capture_output=True,
        env=environ,
        timeout=120,
        check=False,
        encoding="utf-8",
        errors="surrogateescape",  # what a C locale's process writes: the bytes as they are
    )


@pytest.fixture(autouse=True)
def _ascii_file_system(tmp_path: Path) -> None:
    """Every test here needs a C locale that is ASCII (Linux; macOS's file names are UTF-8
    whatever the locale) and a test process that can name Cyrillic files itself."""
    if sys.getfilesystemencoding().lower().replace("-", "") != "utf8":
        pytest.skip("the test process itself runs without a UTF-8 file system encoding")
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.getfilesystemencoding())"],
        env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    if probe.stdout.strip() != "ascii":
        pytest.skip(f"LC_ALL=C gives a {probe.stdout.strip()} file system encoding here")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The journal's folder, shared by this process and the C-locale ones."""
    folder = tmp_path / "data"
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(folder))
    return folder


def _row() -> Any:
    (row,) = default_journal().entries()
    return row


def test_a_task_downloaded_into_a_cyrillic_folder_stays_done_under_a_c_locale(
    tmp_path: Path, data: Path
) -> None:
    out = tmp_path / "вывод"
    assert main(["run", FLUX, "--prompt", "маяк", "--mock", "--out", str(out)]) == 0
    assert len(list(out.iterdir())) == 2
    assert _row().state is EntryState.SUCCEEDED

    listed = c_locale("tasks", data=data)
    assert listed.returncode == 0, listed.stderr
    assert "2/2 files" in listed.stdout
    assert "unfinished" not in listed.stdout
    # its mock is gone: a task owed files would be abandoned, its row rewritten as failed
    resumed = c_locale("resume", data=data)
    assert resumed.returncode == 0, resumed.stderr
    assert "nothing to resume" in resumed.stderr
    assert "abandoned" not in resumed.stderr
    row = _row()
    assert row.state is EntryState.SUCCEEDED
    assert row.error is None


def test_kie_resume_in_a_c_locale_fetches_a_deleted_file_back_into_the_cyrillic_folder(
    tmp_path: Path, data: Path, mock_server: Any
) -> None:
    out = tmp_path / "вывод"
    key = {"KIE_API_KEY": "fake-key-for-the-mock", "KIE_BASE_URL": mock_server.base_url}
    os.environ.update(key)  # this process's run; the monkeypatched variables are restored
    try:
        assert main(["run", FLUX, "--prompt", "x", "--out", str(out)]) == 0
    finally:
        for name in key:
            os.environ.pop(name)
    deleted = sorted(out.iterdir())[0]
    deleted.unlink()

    resumed = c_locale("resume", data=data, **key)
    assert resumed.returncode == 0, resumed.stderr
    assert deleted.is_file()  # under the name it had: the folder's UTF-8 bytes
    assert deleted.name in resumed.stdout
    assert set(_row().files) == {str(f) for f in out.iterdir()}  # text, as it was


def test_kie_batch_in_a_c_locale_reads_the_rows_an_earlier_run_wrote_into_a_cyrillic_folder(
    tmp_path: Path, data: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "model": FLUX, "input": {"prompt": "x"}}) + "\n")
    assert main(["batch", str(jobs), "--mock", "--out", str(tmp_path / "вых")]) == 0

    again = c_locale(
        "batch", str(jobs), "--mock", "--out", str(tmp_path / "ascii"), "--json", data=data
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["states"] == {"succeeded": 1}
    assert "done by an earlier run" in again.stderr


def test_client_download_writes_a_text_folder_a_c_locale_cannot_encode_by_its_utf8_name(
    tmp_path: Path, data: Path
) -> None:
    script = """if True:
        from kiekit import Client
        from kiekit_mock import MockServer
        with MockServer() as mock, Client("k", base_url=mock.base_url) as kie:
            results = kie.wait(kie.submit("flux-kontext-pro", prompt="x"), timeout=60)
            print(len(kie.download(results, FOLDER)))
    """
    folder = tmp_path / "папка"
    source = tmp_path / "download.py"  # its text read as UTF-8 whatever the locale (PEP 3120)
    source.write_text(script.replace("FOLDER", repr(str(folder))), encoding="utf-8")
    environ = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "KIEKIT_DATA_DIR": str(data)}
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, str(source)], env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]
    assert len(list(folder.iterdir())) == 2
    assert _row().out_dir == str(folder)  # the journal keeps the text


def test_utf8_arguments_in_a_c_locale_are_taken_as_the_text_typed(
    tmp_path: Path, data: Path
) -> None:
    out = tmp_path / "папка"
    ran = c_locale(
        "run", FLUX, "--prompt", "маяк", "--mock", "--out", str(out), "--json", data=data
    )
    assert ran.returncode == 0, ran.stderr
    files = json.loads(ran.stdout)["files"]
    assert sorted(files) == sorted(str(f) for f in out.iterdir())  # text, the folder's name
    row = _row()
    assert row.request["prompt"] == "маяк"  # as KIE got it, not its bytes as surrogates
    assert row.out_dir == str(out)

    jobs = tmp_path / "задания.jsonl"
    jobs.write_text(json.dumps({"id": "a", "model": FLUX, "input": {"prompt": "x"}}) + "\n")
    batch = tmp_path / "вых"
    done = c_locale("batch", str(jobs), "--mock", "--out", str(batch), data=data)
    assert done.returncode == 0, done.stderr
    (result,) = map(json.loads, (batch / "results.jsonl").read_text("utf-8").splitlines())
    assert sorted(result["files"]) == sorted(
        str(f) for f in batch.iterdir() if f.suffix != ".jsonl"
    )


def test_bytes_of_another_encoding_are_still_refused_naming_the_field(data: Path) -> None:
    latin1 = "caf\udce9"  # 'café' typed in a latin-1 terminal: no UTF-8
    said = c_locale("run", FLUX, "--prompt", latin1, "--mock", "--out", "x", data=data)
    assert said.returncode == 2
    assert "prompt: is not valid UTF-8 text" in said.stderr


def test_stderr_spells_a_cyrillic_path_as_text_not_as_its_bytes_escapes(
    tmp_path: Path, data: Path
) -> None:
    """Under LC_ALL=C, `kie run` said `uploaded \\udcd1\\udc84\\udcd0\\udcbe….png` and
    `downloading … to \\udcd0\\udcb2…` on standard error (Python's escapes of raw bytes) while
    standard output named the folder (found by an outside tester): stderr now spells the text
    (escaped where ASCII lacks it, as Python's standard error does), and a path's bytes that
    are no UTF-8 still show as they are."""
    photo = tmp_path / "фото.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    out = tmp_path / "выход"
    ran = c_locale("run", FLUX, "--prompt", "маяк", "--image", str(photo), "--mock",
                   "--out", str(out), data=data)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "\\udc" not in ran.stderr
    spelt = "\\u0444\\u043e\\u0442\\u043e.png"  # фото.png
    assert f"uploaded {tmp_path}/{spelt} for input_image: " in ran.stderr
    assert f"to {tmp_path}/\\u0432\\u044b\\u0445\\u043e\\u0434\n" in ran.stderr  # выход

    latin1 = tmp_path.joinpath(os.fsdecode(b"caf\xe9.png"))  # a name whose bytes are no UTF-8
    latin1.write_bytes(photo.read_bytes())
    ran = c_locale("upload", os.fsdecode(bytes(latin1)), "--mock", data=data)
    assert "caf\\udce9.png" in ran.stderr  # as its bytes: no text spells them
