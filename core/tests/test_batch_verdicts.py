"""A batch of rows as a data scientist runs it, in Python and with ``kie batch``: the file read
as the command reads it, one verdict per row whichever way it runs (and however far a stopped
run got), each row's warnings with it, its files in one form, and counts that agree."""

from __future__ import annotations

import asyncio
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy, UnlistedModelWarning
from kiekit.batch import Job, JobResult, read_jobs, run_batch
from kiekit.cli import main
from kiekit.journal import Journal, MemoryStore

FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
NANO = "google/nano-banana"


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _row(job_id: str, prompt: str, model: str = "flux-kontext-pro", **more: Any) -> str:
    return json.dumps({"id": job_id, "model": model, "input": {"prompt": prompt, **more}},
                      ensure_ascii=False)  # fmt: skip


def _creates(mock: Any) -> int:
    return len([r for r in mock.requests() if r.path == "/api/v1/jobs/createTask"])


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def _run(mock: Any, jobs: list[Job], out: Path, **options: Any) -> list[JobResult]:
    journal = Journal(MemoryStore())

    async def scenario() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            return await run_batch(client, journal, jobs, out, **options)

    return asyncio.run(scenario())


# -- 1. read as kie batch reads a file -------------------------------------------------------


@pytest.mark.parametrize("given", ["path", "str", "binary", "text", "bytes lines"])
def test_read_jobs_reads_a_file_as_kie_batch_does_whatever_separators_its_prompts_hold(
    tmp_path: Path, given: str
) -> None:
    """json.dumps(ensure_ascii=False) leaves U+2028 and U+0085 in a prompt: str.splitlines()
    cut such rows in two (4 bad lines, job "ok" said to be on line 5 of 3)."""
    path = tmp_path / "jobs.jsonl"
    text = "\n".join([_row("ls", "a\u2028b"), _row("nel", "x\x85y"), _row("ok", "plain")])
    path.write_bytes(b"\xef\xbb\xbf" + (text + "\r\n").encode())  # Excel's BOM, Windows' CRLF
    source: Any = {
        "path": path,
        "str": str(path),
        "binary": io.BytesIO(path.read_bytes()),
        "text": io.StringIO(path.read_text(encoding="utf-8-sig")),
        "bytes lines": path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n"),
    }[given]
    jobs, bad = read_jobs(source)
    assert bad == []
    assert [(job.line, job.id, job.input["prompt"]) for job in jobs] == [
        (1, "ls", "a\u2028b"),
        (2, "nel", "x\x85y"),
        (3, "ok", "plain"),
    ]


def test_the_documented_recipe_reads_the_file_as_kie_batch_does() -> None:
    guide = Path(__file__).parents[2] / "docs" / "journal-batch-webhooks.md"
    assert ".splitlines()" not in guide.read_text(encoding="utf-8")


# -- 7. an unparseable line: where in it, and whose ------------------------------------------


def test_a_line_that_is_not_json_says_its_column_and_the_id_and_model_it_shows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.jsonl"
    broken = '{"id": "x1", "model": "flux-kontext-pro", "input": {"prompt": "a"}'  # no "}"
    pasted = "{'id': 'x3', 'model': 'flux-kontext-pro', 'input': {'prompt': 'c'}}"  # a repr
    path.write_text("\n".join([broken, _row("x2", "b"), pasted, '{"id": "x4", oops}']) + "\n")
    jobs, bad = read_jobs(path)
    assert [job.id for job in jobs] == ["x2"]
    said = {line.line: (line.message, line.id, line.model) for line in bad}
    assert said == {
        1: (
            "not JSON: Expecting ',' delimiter at column 67 (the end of the line)",
            "x1",
            "flux-kontext-pro",
        ),
        3: (
            "not JSON: Expecting property name enclosed in double quotes at column 2",
            "x3",
            "flux-kontext-pro",
        ),
        4: ("not JSON: Expecting property name enclosed in double quotes at column 14", "x4", None),
    }


# -- 2. one verdict for a mistyped model id, in Python as with kie batch ------------------------


def test_run_batch_refuses_a_mistyped_model_id_before_anything_is_sent_unless_any_model(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1)  # serves any market id, as KIE adds them
    jobs = [Job(1, "t", "flux-kontext-prp", {"prompt": "a fox"})]
    seen: list[JobResult] = []
    (result,) = _run(mock, jobs, tmp_path / "out", on_result=seen.append)
    assert (result.state, result.task_id, seen) == ("invalid", None, [result])
    assert result.error is not None
    assert result.error["field"] == "model"
    assert "did you mean 'flux-kontext-pro'" in result.error["message"]
    assert _creates(mock) == 0  # nothing paid for a typo
    with warnings.catch_warnings():  # chosen: sent without a word (Registry.send_as_is)
        warnings.simplefilter("error", UnlistedModelWarning)
        (sent,) = _run(mock, jobs, tmp_path / "out", any_model=True)
    assert (sent.state, _creates(mock)) == ("succeeded", 1)


# -- 3. warnings tied to their rows ----------------------------------------------------------


def test_run_batch_gives_each_job_the_warnings_of_its_own_input(
    mock_server_factory: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    jobs = [
        Job(1, "w1", NANO, {"prompt": "p1", "aspectratio": "16:9"}),
        Job(2, "fine", NANO, {"prompt": "p2", "aspect_ratio": "16:9"}),
        Job(3, "w3", NANO, {"prompt": "p3", "aspectratio": "9:16"}),
    ]
    with caplog.at_level("WARNING", logger="kiekit"):
        results = _run(mock, jobs, tmp_path / "out")
    assert [r.state for r in results] == ["succeeded"] * 3
    warned = {r.id: [w["field"] for w in r.warnings] for r in results}
    assert warned == {"w1": ["aspectratio"], "fine": [], "w3": ["aspectratio"]}
    assert "did you mean 'aspect_ratio'?" in results[0].warnings[0]["message"]
    assert results[0].to_json()["warnings"] == [dict(w) for w in results[0].warnings]
    assert JobResult.from_json(results[2].to_json()) == results[2]
    # the log names the jobs, once for the warning (not once per process, unattributed)
    said = [r.getMessage() for r in caplog.records if "aspectratio" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].endswith("2 job(s): w1 (line 1), w3 (line 3)")


def test_kie_batch_names_the_rows_a_warning_is_about_and_each_result_line_carries_it(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    rows = [_row(f"w{n}", f"p{n}", NANO, aspectratio="16:9") for n in range(7)]
    jobs = tmp_path / "warn.jsonl"
    jobs.write_text("\n".join([*rows, _row("fine", "p", NANO)]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "aspectratio" in line]
    assert said == [
        f"{jobs}: aspectratio: not a field KIE documents for {NANO}; did you mean "
        "'aspect_ratio'? (documented: prompt, output_format, aspect_ratio, image_size, "
        "nsfw_checker); sent as given, and KIE may ignore it: 7 job(s): w0 (line 1), "
        "w1 (line 2), w2 (line 3), w3 (line 4), w4 (line 5) and 2 more"
    ]
    results = {r["id"]: r for r in _results(out / "results.jsonl")}
    assert [w["field"] for w in results["w6"]["warnings"]] == ["aspectratio"]
    assert results["fine"]["warnings"] == []


# -- 4. one form of file path for every row --------------------------------------------------


def test_files_found_in_the_journal_are_given_as_the_files_downloaded_now(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_key: None,
) -> None:
    """A rerun listed the files it downloaded as out/… and the files an earlier run had as
    /abs/out/…: joining on paths, or moving the folder, broke."""
    mock = mock_server_factory(polls_to_complete=1)
    monkeypatch.chdir(tmp_path)
    Path("jobs.jsonl").write_text("\n".join([_row("a", "x"), _row("b", "y")]) + "\n")
    where = ["--out", "out", "--base-url", mock.base_url]
    assert main(["batch", "jobs.jsonl", *where]) == 0
    (first,) = [r for r in _results(Path("out/results.jsonl")) if r["id"] == "a"]
    for name in first["files"]:
        Path(name).unlink()  # job a's files are fetched again; job b's are found
    assert main(["batch", "jobs.jsonl", *where]) == 0
    results = _results(Path("out/results.jsonl"))
    assert [(r["id"], r["made"]) for r in results] == [("a", False), ("b", False)]
    files = [name for r in results for name in r["files"]]
    assert files
    assert all(name.startswith("out/") for name in files), files
    assert all(Path(name).is_file() for name in files)


# -- 5 and 6. a stop, and the progress bar, count every row as the summary does -------------


def test_after_a_stop_a_row_the_local_checks_refuse_is_invalid_not_stopped(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_key: None,
) -> None:
    """A Ctrl-C before the run reached row93 (no prompt) reported it "stopped … run the batch
    again", and the summary counted 10 invalid instead of 31."""
    import kiekit.batch

    async def stopped_at_once(*args: Any, **options: Any) -> list[JobResult]:
        raise KeyboardInterrupt  # Ctrl-C before any job ended

    monkeypatch.setattr(kiekit.batch, "run_batch", stopped_at_once)
    mock = mock_server_factory()
    jobs = tmp_path / "jobs.jsonl"
    no_prompt = json.dumps({"id": "row93", "model": NANO, "input": {}})
    jobs.write_text("\n".join([_row("row1", "x"), no_prompt, "not json"]) + "\n")
    out = tmp_path / "out"
    code = main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url, "--json"])
    assert code == 130
    states = {r["line"]: (r["id"], r["state"]) for r in _results(out / "results.jsonl")}
    assert states == {1: ("row1", "stopped"), 2: ("row93", "invalid"), 3: (None, "invalid")}
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["states"] == {"stopped": 1, "invalid": 2}


def test_the_progress_bar_counts_the_rows_refused_up_front_as_the_summary_does(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_key: None,
) -> None:
    """The bar ended at 29/29 (4 not succeeded) where the summary said 30 job(s): 5 invalid:
    the row refused for its model id was left out of the bar."""
    import kiekit.cli.batch
    import rich.console
    import rich.progress

    bars: list[rich.progress.Progress] = []

    class Kept(rich.progress.Progress):
        def __init__(self, *columns: Any, **options: Any) -> None:
            super().__init__(*columns, **options, disable=True)
            bars.append(self)

    rich_as_on_a_terminal = SimpleNamespace(
        progress=SimpleNamespace(**{**vars(rich.progress), "Progress": Kept}), console=rich.console
    )
    monkeypatch.setattr(kiekit.cli.batch, "progress_bars", lambda: rich_as_on_a_terminal)
    mock = mock_server_factory(polls_to_complete=1)
    jobs = tmp_path / "jobs.jsonl"
    typo = _row("typo", "x", "flux-kontext-prp")
    jobs.write_text("\n".join([_row("a", "x"), typo, "not json", _row("b", "y")]) + "\n")
    out = ["--out", str(tmp_path / "out"), "--base-url", mock.base_url]
    assert main(["batch", str(jobs), *out]) == 1
    assert "4 job(s): 2 invalid, 2 succeeded" in capsys.readouterr().err
    (bar,) = bars
    (line,) = bar.tasks
    assert (line.completed, line.total, line.description) == (4, 4, "jobs (2 not succeeded)")
