"""The Celery setup's parts that need no worker: its settings from the environment, the app's
delivery guarantees, the messages, ``kie batch --celery``'s refusals, and that ``import kiekit``
never loads Celery (the extra stays optional)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from kiekit.batch import Job, JobResult
from kiekit.cli import main
from kiekit.distributed import CelerySettings
from kiekit.distributed.messages import (
    job_from_message,
    job_message,
    result_from_answer,
    task_options,
)
from kiekit.errors import ConfigurationError, ValidationError

GROK = "grok-imagine/text-to-image"


def test_import_kiekit_and_its_cli_load_no_celery() -> None:
    code = (
        "import json, sys, kiekit, kiekit.batch, kiekit.cli, kiekit.distributed, "
        "kiekit.distributed.collect, kiekit.distributed.worker; kiekit.cli._parser(); "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('celery', 'kombu', 'billiard', 'redis'))))"
    )
    found = subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(found.stdout) == []


def test_settings_default_to_a_local_redis_and_an_hour_of_visibility() -> None:
    settings = CelerySettings.from_env(environ={})
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.result_backend == settings.broker_url
    assert settings.queue == "kiekit"
    assert settings.visibility_timeout == 3600
    assert settings.restore_interval == 10


def test_settings_come_from_the_environment_and_the_option_wins() -> None:
    env = {
        "KIEKIT_BROKER_URL": "redis://127.0.0.1:7000/1",
        "KIEKIT_RESULT_BACKEND": "redis://127.0.0.1:7000/2",
        "KIEKIT_CELERY_QUEUE": "renders",
        "KIEKIT_CELERY_VISIBILITY_TIMEOUT": "4",
    }
    settings = CelerySettings.from_env(environ=env)
    assert settings == CelerySettings(
        "redis://127.0.0.1:7000/1", "redis://127.0.0.1:7000/2", "renders", 4.0
    )
    assert settings.restore_interval == 1  # a lost job is looked for every second
    assert CelerySettings.from_env("redis://127.0.0.1:7001/0", environ=env).broker_url == (
        "redis://127.0.0.1:7001/0"
    )


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_a_bad_visibility_timeout_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigurationError, match="KIEKIT_CELERY_VISIBILITY_TIMEOUT") as caught:
        CelerySettings.from_env(environ={"KIEKIT_CELERY_VISIBILITY_TIMEOUT": value})
    assert repr(value) in str(caught.value)


def test_a_bad_broker_url_is_refused_by_name_without_repeating_it() -> None:
    with pytest.raises(ConfigurationError, match="KIEKIT_BROKER_URL") as caught:
        CelerySettings.from_env(environ={"KIEKIT_BROKER_URL": "s3cret@127.0.0.1"})
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="--celery"):
        CelerySettings.from_env("127.0.0.1:6379", environ={})


def test_the_app_acknowledges_a_job_only_when_it_has_ended() -> None:
    from kiekit.distributed.celery_app import make_app

    settings = CelerySettings("redis://127.0.0.1:7000/0", "redis://127.0.0.1:7000/0", "q", 30.0)
    app = make_app(settings)
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == "q"
    assert conf.accept_content == ["json"]  # never pickle from a shared broker
    assert conf.broker_transport_options["visibility_timeout"] == 30.0
    assert conf.broker_transport_options["unacked_restore_interval"] == 3
    task = app.tasks["kiekit.run_job"]
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_a_job_travels_as_json_and_comes_back_the_same() -> None:
    job = Job(3, "j3", GROK, {"prompt": "a cat", "n": 2})
    message = job_message(job)
    assert json.loads(json.dumps(message)) == message
    assert job_from_message(message) == job
    result = JobResult(3, "j3", "succeeded", "t1", GROK, ("/out/a.png",), value={"k": [1]})
    assert JobResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_a_batch_message_is_one_a_worker_of_an_older_kiekit_takes() -> None:
    """The four arguments every kiekit's task takes; the batch's start in a header, which a
    worker of an older kiekit ignores (a fifth argument failed each job there: TypeError)."""
    import inspect

    def older_task(job: object, out_dir: str, timeout: object, poll_interval: object) -> None:
        """kiekit.distributed.celery_app.run_job_task before 587a9a8."""

    job = Job(3, "j3", GROK, {"prompt": "a cat"})
    options = task_options(job, "/shared/out", 30.0, 0.5, 1_700_000_000.25)
    assert options.keys() == {"args", "headers"}
    taken = inspect.signature(older_task).bind(*options["args"])
    assert taken.arguments == {
        "job": job_message(job),
        "out_dir": "/shared/out",
        "timeout": 30.0,
        "poll_interval": 0.5,
    }
    assert options["headers"] == {"kiekit_refused_since": 1_700_000_000.25}
    assert json.loads(json.dumps(options)) == options  # the json serializer's
    with_run = task_options(job, "/shared/out", 30.0, 0.5, 1_700_000_000.25, "r1")
    assert with_run["args"] == options["args"]  # the run's id is a header too
    assert with_run["headers"] == {"kiekit_refused_since": 1_700_000_000.25, "kiekit_run": "r1"}


def test_a_worker_takes_the_batch_start_from_the_header_and_refuses_a_bad_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a held-back job depends on (run_job's refused_since); a message without the
    header (an older kie batch) runs with none."""
    from kiekit.distributed import worker
    from kiekit.distributed.celery_app import make_app

    ran: list[object] = []
    runs: list[object] = []

    class Runtime:
        def run(self, job: Job, *args: object, run: str | None = None) -> JobResult:
            ran.append(args[-1])
            runs.append(run)
            return JobResult(job.line, job.id, "succeeded", "t1", job.model)

    monkeypatch.setattr(worker, "runtime", Runtime)
    settings = CelerySettings("memory://", "cache+memory://", "q", 30.0)
    task = make_app(settings).tasks["kiekit.run_job"]
    args = [job_message(Job(1, "j1", GROK, {"prompt": "x"})), "/out", None, None]
    for headers in ({"kiekit_refused_since": 12.5, "kiekit_run": "r1"}, None):
        assert task.apply(args=args, headers=headers).get()["state"] == "succeeded"
    assert ran == [12.5, None]
    assert runs == ["r1", None]  # the run's id, written with a task made (Entry.run)
    refused = task.apply(args=args, headers={"kiekit_refused_since": "soon"})
    assert isinstance(refused.result, ValidationError)
    assert refused.result.field == "kiekit_refused_since"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ([], "job"),
        ({"line": "3", "id": "j", "model": GROK, "input": {}}, "job.line"),
        ({"line": 3, "id": "", "model": GROK, "input": {}}, "job.id"),
        ({"line": 3, "id": "j", "model": None, "input": {}}, "job.model"),
        ({"line": 3, "id": "j", "model": GROK, "input": "a cat"}, "job.input"),
    ],
)
def test_a_malformed_message_is_refused_by_field(message: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        job_from_message(message)
    assert caught.value.field == field


def test_a_task_that_raised_is_reported_against_its_job() -> None:
    job = Job(5, "j5", GROK, {"prompt": "x"})
    result = result_from_answer(job, RuntimeError("disk full"))
    assert (result.line, result.id, result.state) == (5, "j5", "error")
    assert result.error == {"type": "RuntimeError", "message": "disk full"}


# The workers' journal, as a sender names it; never reached by these tests (refused before)
TEAM_JOURNAL = "postgresql://kiekit@127.0.0.1:9/team"


def _jobs(folder: Path) -> Path:
    jobs = folder / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "model": GROK, "input": {"prompt": "x"}}) + "\n")
    return jobs


@pytest.mark.parametrize(
    "option", [["--mock"], ["--base-url", "http://127.0.0.1:9/"], ["--mock-seconds", "1"]]
)
def test_batch_with_celery_refuses_a_connection_the_workers_would_not_use(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery", *option])
    assert code == 2
    assert f"{option[0]} does not go with --celery" in capsys.readouterr().err
    assert not out.exists()


def test_batch_with_celery_refuses_rate_limits_the_workers_would_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--limits` with `--celery` ran the batch on the workers' own limits without a word (an
    outside tester's `--limits` at a port with no Redis)."""
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", TEAM_JOURNAL)
    out = tmp_path / "out"
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery",
                 "--limits", "redis://127.0.0.1:9/0"])  # fmt: skip
    assert code == 2
    assert "--limits does not go with --celery" in capsys.readouterr().err
    assert not out.exists()


def test_batch_with_celery_refuses_a_stop_grace_it_would_not_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender sends no create, so a stop has none to let finish: `--stop-grace` with
    `--celery` was taken without a word and did nothing. KIEKIT_STOP_GRACE, which a team
    sets for every kie command, is left unused."""
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", TEAM_JOURNAL)
    out = tmp_path / "out"
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery",
                 "--stop-grace", "30"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "--stop-grace does not go with --celery: this command sends no create" in err
    assert not out.exists()
    monkeypatch.setenv("KIEKIT_STOP_GRACE", "30")
    monkeypatch.setenv("KIEKIT_BROKER_URL", "redis://127.0.0.1:9/0")  # nothing listens
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery"])
    err = capsys.readouterr().err
    assert "--stop-grace" not in err  # not refused for it: it goes on, to the broker
    assert "broker" in err.lower()


@pytest.mark.parametrize(
    "journal",
    [
        pytest.param([], id="the-default-sqlite"),
        pytest.param(["--journal", "sqlite:///{tmp}/sender.sqlite3"], id="sqlite-url"),
        pytest.param(["--journal", "{tmp}/sender.sqlite3"], id="a-path"),
    ],
)
def test_batch_with_celery_refuses_a_journal_the_workers_do_not_share(
    journal: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kit: SimpleNamespace,
) -> None:
    """A stopped `kie batch --celery` holds the jobs no worker took yet back in its journal: in
    one of its own (a sender without KIEKIT_JOURNAL_URL) that held nothing back, said "none
    will create them", and the workers created and paid for all 20 (an outside tester's
    SIGTERM). Refused before anything is sent: the broker is not even asked."""
    out = tmp_path / "out"
    broker = f"redis://127.0.0.1:{kit.free_port()}/0"  # nothing listens: never reached
    options = [option.format(tmp=tmp_path) for option in journal]
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery", broker, *options])
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "--celery needs the workers' shared journal: set KIEKIT_JOURNAL_URL (or --journal)" in err
    )
    assert "Celery broker" not in err
    assert not out.exists()
    assert not (tmp_path / "sender.sqlite3").exists()


@pytest.mark.parametrize(
    ("credentials", "shown"), [(":s3cret@", ":***@"), ("user:s3cret@", "user:***@"), ("", "")]
)
def test_batch_with_celery_fails_before_sending_when_the_broker_is_unreachable(
    credentials: str,
    shown: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kit: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker is named with its password masked, and a password that is not there is not
    shown masked (as the journal's and the shared limits' errors do)."""
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", TEAM_JOURNAL)
    out = tmp_path / "out"
    where = f"127.0.0.1:{kit.free_port()}/0"  # held: nothing listens there
    broker = f"redis://{credentials}{where}"
    code = main(["batch", str(_jobs(tmp_path)), "--out", str(out), "--celery", broker])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Celery broker at redis://{shown}{where}: " in err
    assert "s3cret" not in err
    assert not out.exists()  # refused before the folders are made


def test_a_stopped_celery_batch_says_held_back_only_the_jobs_it_held_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "none will create them" is said of a job only when its row holds it back: one the
    journal could not hold back (its database down at the stop) may still be created."""
    from kiekit.cli.batch import _say_held_back
    from kiekit.journal import Entry, EntryState

    def row(state: EntryState) -> Entry:
        return Entry(key="k", model=GROK, request=None, state=state, created_at=0, updated_at=0)

    unsent = [JobResult(line, f"j{line}", "stopped", None, GROK) for line in (1, 2, 3)]
    rows = {1: row(EntryState.REJECTED), 2: row(EntryState.CLAIMED), 3: None}
    _say_held_back(unsent, rows, handed={1, 2, 3})
    err = " ".join(capsys.readouterr().err.split())
    assert "1 job(s) no worker had taken are held back: none will create them" in err
    assert (
        "2 job(s) no worker had taken could not be held back in the journal: a worker may "
        "still create them (run the batch again to collect): j2, j3"
    ) in err
