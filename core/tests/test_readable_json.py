"""One readable-JSON policy: every JSON kie prints (``--json``'s objects, errors included, and
``kie tasks --json``) and every JSON column of the journal writes non-ASCII text as it is, as
``results.jsonl`` does, and JSON's ``\\u`` escapes only what the encoding cannot carry (a QA
report of a user coming from the Russian guide: a prompt ``Кот`` could not be grepped)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from kiekit.cli import main
from kiekit.journal import EntryState, default_journal

IMAGE = "gpt4o-image"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(folder))
    return folder


def _kie(
    data: Path, *argv: str, encoding: str = "utf-8", **env: str
) -> subprocess.CompletedProcess[bytes]:
    """``kie ARGV`` with standard output in ``encoding``, its journal in ``data``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    environ = {**clean, "PYTHONIOENCODING": encoding, "KIEKIT_DATA_DIR": str(data), **env}
    return subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "kiekit", *argv], capture_output=True, env=environ, timeout=120,
        check=False,
    )  # fmt: skip


def test_kie_run_json_and_kie_tasks_json_write_cyrillic_as_it_is(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "вывод"
    argv = ["run", IMAGE, "--mock", "--prompt", "Кот", "--input", "size=1:1", "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    said = capsys.readouterr().out
    assert "вывод" in said
    assert "\\u" not in said
    (path,) = json.loads(said)["files"]
    assert Path(path).parent == out

    assert main(["tasks", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"prompt": "Кот"' in listed
    assert "вывод" in listed
    assert json.loads(listed)["request"] == {"prompt": "Кот", "size": "1:1"}


def test_an_error_object_writes_cyrillic_as_it_is(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", IMAGE, "--mock", "--prompt", "Кот", "--input", "size=квадрат", "--json"]
    assert main(argv) == 2
    said = capsys.readouterr().out
    assert "got 'квадрат'" in said
    assert json.loads(said)["error"]["field"] == "size"


def test_the_journal_stores_request_and_files_readable_for_sql_to_find(
    tmp_path: Path, data: Path
) -> None:
    out = tmp_path / "вывод"
    argv = ["run", IMAGE, "--mock", "--prompt", "Кот", "--input", "size=1:1", "--out", str(out)]
    assert main(argv) == 0
    with contextlib.closing(sqlite3.connect(data / "journal.sqlite3")) as db:
        found = db.execute("SELECT count(*) FROM entries WHERE request LIKE '%Кот%'").fetchone()
        files = db.execute("SELECT count(*) FROM entries WHERE files LIKE '%вывод%'").fetchone()
    assert found == (1,)
    assert files == (1,)


def test_rows_written_escaped_before_read_the_same(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "вывод"
    argv = ["run", IMAGE, "--mock", "--prompt", "Кот", "--input", "size=1:1", "--out", str(out)]
    assert main(argv) == 0
    (row,) = default_journal().entries()
    with contextlib.closing(sqlite3.connect(data / "journal.sqlite3")) as db, db:
        db.execute(  # as kiekit wrote them before: in JSON's \u escapes
            "UPDATE entries SET request = ?, files = ?",
            (json.dumps(row.request), json.dumps([str(f) for f in row.files])),
        )
        (stored,) = db.execute("SELECT request FROM entries").fetchone()
    assert stored == '{"prompt": "\\u041a\\u043e\\u0442", "size": "1:1"}'
    (again,) = default_journal().entries()
    assert again.request == row.request
    assert again.files == row.files
    capsys.readouterr()
    assert main(["tasks", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"prompt": "Кот"' in listed
    assert "вывод" in listed
    assert main(["resume"]) == 0  # its files are there: nothing owed, nothing abandoned
    assert default_journal().entries()[0].state is EntryState.SUCCEEDED


def test_a_stored_lone_surrogate_is_escaped_as_json_since_no_utf8_carries_it() -> None:
    from kiekit.journal._stores import _json

    text = _json({"prompt": "Кот \udcff 🌍"})
    assert text == '{"prompt": "Кот \\udcff 🌍"}'
    text.encode("utf-8")  # what SQLite and PostgreSQL take
    assert json.loads(text) == {"prompt": "Кот \udcff 🌍"}


@pytest.mark.parametrize(
    ("encoding", "spelt"),
    [
        ("utf-8", '"café Кот"'),
        ("latin-1", '"café \\u041a\\u043e\\u0442"'),  # é is latin-1's; the rest is escaped
        ("ascii", '"caf\\u00e9 \\u041a\\u043e\\u0442"'),
    ],
)
def test_json_is_escaped_only_where_standard_outputs_encoding_cannot_carry_it(
    data: Path, encoding: str, spelt: str
) -> None:
    ran = _kie(data, "run", IMAGE, "--mock", "--prompt", "café Кот", "--input", "size=1:1",
               "--out", str(data / "out"), "--json", encoding=encoding)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    listed = _kie(data, "tasks", "--json", encoding=encoding)
    assert listed.returncode == 0, listed.stderr
    refused = _kie(data, "run", IMAGE, "--mock", "--prompt", "x", "--input", "size=café Кот",
                   "--json", encoding=encoding)  # fmt: skip
    assert refused.returncode == 2
    for said in (listed.stdout, refused.stdout):
        text = said.decode(encoding)
        assert spelt.strip('"') in text
    row = json.loads(listed.stdout.decode(encoding))
    assert row["request"]["prompt"] == "café Кот"
    assert row["state"] == EntryState.SUCCEEDED.value
