"""A batch job's callback URL, and the guide's ``callBackUrl`` given where kiekit takes none.

KIE's guide (§6.2) recommends callbacks over polling, and writes the URL ``callBackUrl`` at the
top of every create body (kie-api.md §2.1, §3): kiekit takes it as ``callback_url`` (submit, a
job's field) or ``--callback-url`` (kie run, kie batch), never as an input of the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, ValidationError, cli
from kiekit.batch import Job, read_jobs
from kiekit.distributed.messages import job_from_message, job_message

GROK = "grok-imagine/text-to-image"
FLUX = "flux-kontext-pro"


def _kie(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def _creates(mock: Any) -> dict[str, str | None]:
    """The callBackUrl of each create the mock received, by prompt."""
    return {
        record.body["input"]["prompt"]: record.body.get("callBackUrl")
        for record in mock.requests()
        if record.path == "/api/v1/jobs/createTask" and record.body
    }


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _batch(
    capsys: pytest.CaptureFixture[str], mock: Any, jobs: Path, out: Path, *more: str
) -> tuple[int, str]:
    return _kie(
        capsys, "batch", str(jobs), "--out", str(out), "--base-url", mock.base_url,
        "--poll-interval", "0.01", *more,
    )  # fmt: skip


def test_kie_batch_sends_each_jobs_callback_url_and_gives_the_options_to_jobs_without_one(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KIE_API_KEY", "test-key")
    mock = mock_server_factory(polls_to_complete=1)
    own, common = f"{mock.base_url}/hooks/own", f"{mock.base_url}/hooks/batch"
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"id": "own", "model": GROK, "input": {"prompt": "a"}, "callback_url": own})
        + "\n"
        + json.dumps({"id": "given", "model": GROK, "input": {"prompt": "b"}})
        + "\n"
        + json.dumps({"id": "none", "model": GROK, "input": {"prompt": "c"}, "callback_url": ""})
        + "\n",
        "utf-8",
    )
    code, err = _batch(capsys, mock, jobs, tmp_path / "out", "--callback-url", common)
    assert code == 0, err
    # "" is no callback, as for submit: a job may opt out of the batch's URL
    assert _creates(mock) == {"a": own, "b": common, "c": None}


def test_a_batch_run_again_with_another_callback_url_waits_for_the_task_made_before(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """The callback URL is where KIE tells of the task, not what it makes: a batch run again
    with a new tunnel's URL fetches the job's files again from its task, creating none."""
    monkeypatch.setenv("KIE_API_KEY", "test-key")
    mock = mock_server_factory(polls_to_complete=1)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "j", "model": GROK, "input": {"prompt": "a"}}) + "\n")
    out = tmp_path / "out"
    assert _batch(capsys, mock, jobs, out, "--callback-url", f"{mock.base_url}/old")[0] == 0
    for file in out.glob("*.jpg"):  # the files gone: the job is waited on and fetched again
        file.unlink()
    code, err = _batch(capsys, mock, jobs, out, "--callback-url", f"{mock.base_url}/new")
    assert code == 0, err
    (result,) = _results(out / "results.jsonl")
    assert (result["id"], result["state"]) == ("j", "succeeded")
    assert len(_creates(mock)) == 1
    assert list(out.glob("*.jpg"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"callBackUrl": "https://example.com/cb"}, 'callBackUrl: give the callback URL as the job field "callback_url"'),  # noqa: E501
        ({"callback_url": "not a url"}, "callback_url: must be an http(s) URL, got 'not a url'"),
        ({"callback_url": 5}, "callback_url: must be an http(s) URL, got 5"),
    ],
)  # fmt: skip
def test_a_jobs_callback_is_checked_as_submit_checks_it_and_the_line_keeps_its_id_and_model(
    line: dict[str, Any], message: str
) -> None:
    jobs, bad = read_jobs(
        [json.dumps({"id": "j1", "model": GROK, "input": {"prompt": "a"}, **line})]
    )
    assert jobs == []
    (refused,) = bad
    assert refused.message.startswith(message)
    result = refused.result().to_json()
    assert (result["line"], result["id"], result["model"], result["state"]) == (
        1, "j1", GROK, "invalid",
    )  # fmt: skip


def test_a_line_refused_as_a_whole_keeps_what_it_says_of_its_id_and_model() -> None:
    """The results are keyed by the ids users gave: a refused line keeps its id and model
    whenever they read as such, unless an earlier line gave that id (one result line per
    id); a number id is text, as a good line's."""
    lines = [
        json.dumps({"id": "j0", "model": GROK, "input": {"prompt": "a"}}),
        json.dumps({"id": "j1", "model": GROK, "input": "x"}),
        json.dumps({"id": 7, "model": GROK, "prompt": "x"}),
        json.dumps({"id": True, "model": GROK}),
        json.dumps({"model": " ", "id": "j4"}),
        "[1]",
        "not json",
        json.dumps({"id": "j0", "model": FLUX, "input": {"prompt": "again"}}),
    ]
    _, bad = read_jobs(lines)
    named = [(line.result().id, line.result().model) for line in bad]
    assert named == [
        ("j1", GROK), ("7", GROK), (None, GROK), ("j4", None), (None, None), (None, None),
        (None, FLUX),  # a second job of id j0: told by its line number and error, j0's kept
    ]  # fmt: skip


def test_kie_batch_results_keep_the_id_of_a_line_refused_at_job_level(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"model": GROK, "input": {"prompt": "a"}, "id": "j1", "callBackUrl": "x"})
        + "\n",
        "utf-8",
    )
    out = tmp_path / "out"
    code, err = _kie(capsys, "batch", str(jobs), "--out", str(out), "--mock")
    assert code == 2, err
    (result,) = _results(out / "results.jsonl")
    assert (result["id"], result["model"], result["state"]) == ("j1", GROK, "invalid")


def test_a_bad_callback_url_option_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": GROK, "input": {"prompt": "a"}}) + "\n", "utf-8")
    out = tmp_path / "out"
    code, err = _kie(capsys, "batch", str(jobs), "--out", str(out), "--mock",
                     "--callback-url", "example.com/cb")  # fmt: skip
    assert code == 2
    assert "--callback-url: must be an http(s) URL, got 'example.com/cb'" in err
    assert "mock KIE server" not in err
    assert not out.exists()


@pytest.mark.parametrize("model", [FLUX, GROK, "some-vendor/new-model"])  # typed, and free-form
@pytest.mark.parametrize("name", ["callBackUrl", "callback_url", "callbackUrl"])
def test_the_callback_url_given_as_an_input_is_refused_with_the_way_to_give_it(
    model: str, name: str
) -> None:
    as_input: dict[str, Any] = {"input": {"prompt": "x", name: "https://example.com/cb"}}
    as_field: dict[str, Any] = {"fields": {"prompt": "x", name: "https://example.com/cb"}}
    # (callback_url= as a keyword is submit's own: the way to give it)
    ways = [as_input] if name == "callback_url" else [as_input, as_field]
    with Client("test-key", base_url="http://127.0.0.1:9", journal=None) as kie:
        for given in ways:
            with pytest.raises(ValidationError) as refused:
                kie.submit(model, given.get("input"), **given.get("fields", {}))
            assert refused.value.field == name
            assert "give it as callback_url= " in str(refused.value)


def test_kie_run_says_how_to_give_the_guides_callbackurl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _kie(capsys, "run", FLUX, "--prompt", "x", "--input", "callBackUrl=https://e.com/c",
                     "--mock", "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2
    assert "callBackUrl: is the callback URL, not an input" in err
    assert "--callback-url (kie run, kie batch)" in err
    assert "mock KIE server" not in err  # refused before anything started


@pytest.mark.parametrize("model", ["veo3", FLUX])
def test_the_guides_model_field_given_as_an_input_is_refused_as_the_model_id(model: str) -> None:
    # the guide writes "model" in every create body (kie-api.md §3.3): kiekit takes the id apart
    with Client("test-key", base_url="http://127.0.0.1:9", journal=None) as kie:
        for given, fields in (({"prompt": "x", "model": "veo3_fast"}, {}), (None, {"model": "x"})):
            with pytest.raises(ValidationError) as refused:
                kie.submit(model, given, **({"prompt": "y"} if given is None else {}), **fields)
            assert refused.value.field == "model"
            assert "is the model id, not an input of the model" in str(refused.value)
            assert "kie run MODEL (the first argument" in str(refused.value)


def test_kie_run_says_how_to_give_the_guides_model_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _kie(capsys, "run", "veo3", "--prompt", "x", "--input", "model=veo3_fast",
                     "--mock", "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2
    assert "model: is the model id, not an input of the model" in err
    assert "mock KIE server" not in err  # refused before anything started


def test_an_input_spelt_model_on_the_wire_keeps_its_meaning() -> None:
    # veo3/extend's quality and Suno's version are KIE's own "model" fields (kie-api.md §3.3)
    from kiekit_suno import SunoMusicProvider
    from kiekit_veo import VeoProvider

    extend = VeoProvider().make_input(
        "veo3/extend", {"task_id": "t", "prompt": "on", "model": "fast"}
    )
    assert getattr(extend, "quality") == "fast"  # noqa: B009
    song = SunoMusicProvider().make_input("suno/generate", {"prompt": "x", "model": "V4_5"})
    assert getattr(song, "version") == "V4_5"  # noqa: B009


def test_a_celery_job_message_carries_the_jobs_callback_url() -> None:
    job = Job(3, "j", GROK, {"prompt": "a"}, "https://example.com/cb")
    assert job_from_message(job_message(job)) == job
    plain = Job(4, "k", GROK, {"prompt": "b"})
    assert "callback_url" not in job_message(plain)  # as an older sender's message
    assert job_from_message(job_message(plain)) == plain
    with pytest.raises(ValidationError, match=r"^job\.callback_url: "):
        job_from_message({**job_message(job), "callback_url": 5})
