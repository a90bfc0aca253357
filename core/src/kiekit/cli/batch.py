"""``kie batch jobs.jsonl --out DIR``: many jobs at once, each created once, resumable.

Each line of the file is a job ``{"model": …, "input": {…}, "id"?: …, "callback_url"?: …}``. Files
go to DIR, and one line per job to DIR/results.jsonl (or --results): its id, task id, state, files
or error. Run the same command again after an interruption: finished jobs are skipped, created ones
are waited on, and nothing is created twice (see :mod:`kiekit.batch`).

With ``--celery [BROKER_URL]`` the jobs go to Celery workers instead (docs/teams.md,
"Distributed batch on Celery"): this command sends them, collects the answers and writes the
same results file, with the same progress display.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import stat
import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from kiekit._paths import native
from kiekit.cli._common import (
    EXIT_UNRECORDED,
    Commands,
    add_connection_options,
    add_journal_option,
    add_json_option,
    emit,
    hand_stop,
    on_gone_mock,
    path_option,
    progress_bars,
    record_missed,
    release_gone_mock_row,
    say,
    say_unrecorded,
    seconds,
    stopped_by,
    unrecorded_json,
)
from kiekit.cli._preflight import is_stdin, journal_opens, local_file, output_folder, shown
from kiekit.cli._stops import add_stop_grace_option, stop_grace
from kiekit.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from kiekit.batch import Job, JobResult
    from kiekit.journal import Entry, Journal

_NAMED = 5  # jobs a stop names one by one (every one is in the results file)


def register(commands: Commands) -> None:
    batch = commands.add_parser("batch", help="run the jobs of a JSON Lines file, resumably")
    batch.add_argument(
        "jobs",
        metavar="JOBS",
        type=path_option,
        help='a .jsonl file: {"model": …, "input": {…}, "id"?} a line; - reads standard input',
    )
    batch.add_argument("--out", required=True, type=path_option, help="folder for the result files")
    batch.add_argument(
        "--results",
        type=_results_file,
        default=None,
        help="the results file (default OUT/results.jsonl)",
    )
    batch.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="jobs in flight at once (with --celery: the workers' own concurrency)",
    )
    batch.add_argument("--timeout", type=seconds, default=None, help="seconds to wait per task")
    batch.add_argument(
        "--callback-url",
        default=None,
        metavar="URL",
        help='callBackUrl for KIE to notify, for every job without a "callback_url" of its own',
    )
    batch.add_argument(
        "--poll-interval",
        type=seconds,
        default=None,
        metavar="S",
        help="seconds between status polls at first (default 2, growing to 30; kie-api.md §2.2)",
    )
    batch.add_argument(
        "--celery",
        nargs="?",
        const="",
        default=None,
        metavar="BROKER_URL",
        help="hand the jobs to Celery workers (docs/teams.md) through BROKER_URL "
        "(default: $KIEKIT_BROKER_URL or redis://127.0.0.1:6379/0); the workers use their own "
        "KIE_API_KEY and KIE_BASE_URL",
    )
    add_connection_options(batch, mock_seconds=True)
    batch.add_argument(
        "--any-model",
        action="store_true",
        help="send model ids no plugin lists even when they look like mistyped known ones",
    )
    add_journal_option(batch)
    add_stop_grace_option(batch)
    add_json_option(batch)
    batch.set_defaults(handler=_batch)


def _batch(args: argparse.Namespace) -> int:
    from kiekit.batch import check_jobs, read_jobs, said_warnings, with_callback
    from kiekit.fields import check_callback_url
    from kiekit.journal import default_journal
    from kiekit.registry import UnlistedModelWarning

    check_callback_url(args.callback_url, "--callback-url")  # as kie run's, before anything
    named = "<stdin>" if is_stdin(args.jobs) else args.jobs  # where a bad line is
    try:
        with _opened(args.jobs) as source:  # read as read_jobs reads a file (kiekit.batch)
            jobs, bad = read_jobs(source)
    except OSError as exc:  # as kie upload says a FILE it cannot read
        raise ValidationError("jobs", f"cannot read {named}: {exc.strerror or exc}") from exc
    for line in bad:
        say(f"{named}:{line.line}: {line.message}")
    jobs = with_callback(jobs, args.callback_url)
    if args.any_model:  # the user chose to send such ids: their creates do not warn of it
        warnings.filterwarnings("ignore", category=UnlistedModelWarning)  # main() scopes it
    # every job's local checks before anything is sent: a job's verdict is the same however
    # far the run gets (a Ctrl-C), and the same as run_batch's in Python
    jobs, unlisted, warned = check_jobs(jobs, any_model=args.any_model)
    for refused in unlisted:
        say(f"{named}:{refused.line}: {(refused.error or {}).get('message')}")
    for warning in said_warnings(jobs, warned):  # each job's result line carries its own
        say(f"{named}: {warning}")
    if args.celery is not None:
        _check_celery_options(args)
    stop_grace(args)  # a KIEKIT_STOP_GRACE it cannot read is said before anything is sent
    celery = _celery_app(args) if args.celery is not None else None  # its broker reached first
    journal = default_journal()
    journal_opens(journal)  # before the folders are made: a refused batch leaves none behind
    output_folder("--out", args.out)  # before any job is created
    results_path = args.results or args.out / "results.jsonl"
    started = time.time()  # the journal's clock: rows written since were written during this run
    if args.results is not None:
        output_folder("--results", args.results.parent)
    _check_results_file(args, results_path)  # before --mock starts its server, or a broker
    known = _task_ids_known(results_path)  # read before this run's lines replace them
    refusals = sorted([*unlisted, *(line.result() for line in bad)], key=lambda r: r.line)
    finished: list[JobResult] = []  # as they come: what a stop still knows
    handed: set[int] = set()  # --celery: the lines of the jobs handed to the broker
    tidy = partial(_tidied, out=args.out, warned=warned)
    try:
        if not jobs:
            results: list[JobResult] = []
        elif celery is not None:
            results = _run_on_celery(
                args, celery, journal, jobs, results_path, finished, refusals, handed
            )
            results = [_keep_task_id(result, known) for result in results]
        else:
            from kiekit.cli._async import run_async  # `kie --help` needs no event loop

            run = _run(args, journal, jobs, results_path, finished, known, refusals)
            results = run_async(run)
    except KeyboardInterrupt as stop:
        known_now = [tidy(result) for result in [*finished, *refusals]]
        _stopped(args, stop, jobs, known_now, results_path, journal.owner, started, tidy, handed)
        raise
    left = record_missed(journal, "batch")  # the journal writes a full disk refused, tried again
    ordered = sorted([tidy(result) for result in [*results, *refusals]], key=lambda r: r.line)
    unwritten = _save_results(results_path, ordered)
    counts: dict[str, int] = {}
    for result in ordered:
        counts[result.state] = counts.get(result.state, 0) + 1
    summary = ", ".join(
        f"{count} {_STATE_WORDS.get(state, state)}" for state, count in sorted(counts.items())
    )
    made, found = _tasks_made(ordered), _tasks_found(ordered)
    kept = f"results in {results_path}" if unwritten is None else "no results file (see above)"
    earlier = f", {found} found made before (another worker's or an earlier run's)" if found else ""
    say(f"{len(ordered)} job(s): {summary or 'none'}; {made} made a task (paid for){earlier}; "
        f"{kept}")  # fmt: skip
    if counts.get("not_sent"):
        say("kie batch: KIE refused a create for want of credits (402), so the jobs not sent "
            "yet were not sent; top up the account (kie credits) and run the batch again: "
            "only the jobs not done are sent")  # fmt: skip
    out = args.out.resolve()
    # (resolved: a relative --out gives relative paths for this run's files)
    before = [r for r in ordered if any(_elsewhere(f, out) for f in r.files)]
    if before:  # settled by another worker or an earlier run: not downloaded again
        _say_done_elsewhere(before, jobs, args.out, started, results_path.name)
    code = 0 if all(result.ok or result.state == _TAKEN_OVER for result in ordered) else 1
    if ordered and all(result.state == "invalid" for result in ordered):
        code = 2  # bad input, every job of it: refused before anything was sent
    summary_json: dict[str, object] = {
        "jobs": len(ordered),
        "states": counts,
        "tasks_made": made,
        "tasks_found": found,
        "results": str(results_path),
    }
    if code:  # as every command's failure: an "error" saying what (each job's is in results)
        failed = sum(1 for result in ordered if not result.ok and result.state != _TAKEN_OVER)
        summary_json["error"] = {
            "type": "JobsNotDone",
            "message": f"{failed} of {len(ordered)} job(s) did not succeed ({summary})",
            "task_id": None,  # each job's task is in its result
        }
    if unwritten is not None:  # the lines the file could not keep go with the object
        code = 1
        summary_json |= {"results": None, "job_results": [r.to_json() for r in ordered]}
        summary_json["error"] = {
            "type": "FileWriteError",
            "message": _cannot_write(results_path, unwritten),
            "path": str(results_path),
            "task_id": None,
        }
    if left:  # said whatever the code; the jobs done are delivered: not to be run (paid) again
        summary_json["unrecorded"] = unrecorded_json(journal, left)
        say_unrecorded("batch", len(left), "it would report their jobs of unknown outcome")
    emit(args, "batch", summary_json, ok=code == 0)
    return EXIT_UNRECORDED if left and code == 0 else code


# kiekit.batch.TAKEN_OVER (that module is imported when a batch runs): another worker took the
# job over while this one was stalled past its lease; it downloads the files, no failure here
_TAKEN_OVER = "taken_over"

# How the summary says the states of jobs that made nothing (kiekit.batch.JobResult)
_STATE_WORDS = {
    "refused": "refused (nothing paid)",
    "not_sent": "not sent (credits ran out)",
    _TAKEN_OVER: "taken over by another worker (it downloads them)",
}


def _tasks_made(results: list[JobResult]) -> int:
    """The jobs whose task this run made, paid for by it: not a task another worker or an
    earlier run made, which this one found in the journal (:func:`_tasks_found`), nor a
    refusal that names a task made before (a second Veo 4K). A worker of an older kiekit does
    not say (``made`` None): its job counts by its task id, as before."""
    return sum(1 for result in results if _made(result))


def _made(result: JobResult) -> bool:
    if result.made is None:
        return bool(result.task_id) and result.state != "refused"
    return result.made


def _tasks_found(results: list[JobResult]) -> int:
    """The jobs settled here from a task made before (another worker's, an earlier run's):
    waited for, downloaded or reported from the journal, paid for by whoever made it."""
    return sum(
        1
        for result in results
        if result.task_id and result.state != "refused" and not _made(result)
    )


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """The jobs file, or standard input for ``-`` (left open: it is not the command's); a
    missing file or a folder is refused as kie upload refuses its FILE (ValidationError)."""
    if is_stdin(path):
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # `<&-`: Python makes sys.stdin None
            raise ValidationError("jobs", "- reads standard input, which is closed")
        yield stream
        return
    local_file("jobs", path)
    with open(path, "rb") as source:
        yield source


def _elsewhere(path: str, out: Path) -> bool:
    """Whether the journal's file ``path`` lies outside the folder ``out`` (of this run)."""
    return not Path(native(path)).resolve().is_relative_to(out)


def _say_done_elsewhere(
    done: list[JobResult], jobs: list[Job], out: Path, started: float, results: str
) -> None:
    """Jobs whose files another folder holds: done by other workers while this run ran (their
    rows were written since it began), or before it began. Both, when the journal is not
    there to tell."""
    from kiekit.batch import finished_since
    from kiekit.errors import KieError
    from kiekit.journal import default_journal

    by_line = {job.line: job for job in jobs}
    try:
        journal = default_journal()
        during = [r for r in done if finished_since(journal, by_line[r.line], out, started)]
    except KieError:  # the journal cannot be read now: say what covers both
        say(f"{len(done)} job(s) were done by other workers or an earlier run: their files "
            f"stay where those wrote them (see {results})")  # fmt: skip
        return
    if during:
        say(f"{len(during)} job(s) were done by other workers while this run ran: their files "
            f"stay where those wrote them (see {results})")  # fmt: skip
    if len(done) > len(during):
        say(f"{len(done) - len(during)} job(s) were done by an earlier run (or a worker started "
            f"before this one): their files stay where it wrote them (see {results})")  # fmt: skip


def _retake_from_gone_mocks(
    journal: Journal, jobs: list[Job], out_dir: Path, base_url: str
) -> None:
    """Lets go of the rows of jobs an earlier ``--mock`` run made on its embedded mock, now
    gone (cli._common.on_gone_mock): their tasks lived in its memory, cost nothing and can
    never finish, so this run makes them again on ``base_url``. A job that succeeded with its
    files on disk stays done."""
    from kiekit.batch import job_key, settled
    from kiekit.journal import EntryState

    gone: dict[tuple[str, str | None], bool] = {}  # (server, account): asked once each
    for job in jobs:
        row = journal.get(job_key(job))
        if row is None or row.base_url in (None, base_url) or row.state is EntryState.REJECTED:
            continue
        where = (row.base_url, row.account)
        if where not in gone:
            gone[where] = on_gone_mock(row)
        if not gone[where]:
            continue
        done = settled(journal, job, out_dir)
        if done is not None and done.ok:
            continue
        why = release_gone_mock_row(journal, row, base_url)
        say(f"job {job.id} (line {job.line}): {why}")


def _tidied(
    result: JobResult, *, out: Path, warned: dict[int, tuple[Mapping[str, str], ...]]
) -> JobResult:
    """``result`` as results.jsonl gives it: its input's warnings (a Celery worker's answer
    has none), its files in one form (kiekit.batch.files_as_given)."""
    from attrs import evolve

    from kiekit.batch import files_as_given

    said = warned.get(result.line, ()) if result.state != "invalid" else ()
    return evolve(result, files=files_as_given(result.files, out), warnings=result.warnings or said)


async def _run(
    args: argparse.Namespace,
    journal: Journal,
    jobs: list[Job],
    results_path: Path,
    finished: list[JobResult],
    known: dict[tuple[Any, ...], str] | None = None,
    refusals: list[JobResult] | None = None,
) -> list[JobResult]:
    from kiekit.batch import run_batch
    from kiekit.cli._async import open_async_client, stops_cancel

    async with stops_cancel(stop_grace(args)) as drained, contextlib.AsyncExitStack() as stack:
        client = open_async_client(args, stack, journal)
        drained.append(client)  # a stop lets its creates already sent finish first
        _retake_from_gone_mocks(journal, jobs, args.out, client.base_url)
        report = _reporting(args, results_path, len(jobs), finished, refusals or [])
        done = stack.enter_context(report)
        results = await run_batch(
            client,
            journal,
            jobs,
            args.out,
            concurrency=args.concurrency,
            timeout=args.timeout,
            on_result=lambda result: done(_keep_task_id(result, known or {})),
            any_model=args.any_model,
            log_warnings=False,  # said above, naming the jobs, with the file's name
        )
        return [_keep_task_id(result, known or {}) for result in results]


def _result_key(line: int, job_id: str | None, model: str | None) -> tuple[Any, ...]:
    return (model, "id", job_id) if job_id is not None else (model, "line", line)


def _task_ids_known(path: Path) -> dict[tuple[Any, ...], str]:
    """The task ids an earlier run's results file names, by job (its id, else its line, and
    its model): a job whose row cannot say its task (the journal could not record the create's
    answer: a full disk) keeps the id that file knew (:func:`_keep_task_id`). Unreadable or
    absent: none."""
    known: dict[tuple[Any, ...], str] = {}
    try:
        with open(path, encoding="utf-8") as lines:
            if not stat.S_ISREG(os.fstat(lines.fileno()).st_mode):
                return known  # a device or a pipe (/dev/full): nothing an earlier run wrote
            for text in lines:
                try:
                    data = json.loads(text)
                    task_id, line = data.get("task_id"), int(data["line"])
                    key = _result_key(line, data.get("id"), data.get("model"))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by a full disk, or not ours
                if isinstance(task_id, str) and task_id and data.get("state") != "refused":
                    known[key] = task_id
    except (OSError, UnicodeDecodeError):
        pass
    return known


def _keep_task_id(result: JobResult, known: dict[tuple[Any, ...], str]) -> JobResult:
    """``result`` with the task id the earlier results file gave its job, when this run
    cannot name one (its row holds only the create's intent: ``unknown``, or an error): a
    task paid for is never replaced by null, and the error says how to record it."""
    import attrs

    task_id = known.get(_result_key(result.line, result.id, result.model))
    if task_id is None or result.task_id is not None or result.state == "succeeded":
        return result
    error = dict(result.error or {})
    key = shlex.quote(str(error["key"])) if error.get("key") else "KEY"
    words = (
        f"the previous results file named task {task_id} for this job: kie settle {key} "
        f"--task-id {task_id} records it, then the batch run again fetches its files"
    )
    error["message"] = f"{error['message']} ({words})" if error.get("message") else words
    return attrs.evolve(result, task_id=task_id, error=error)


def _check_celery_options(args: argparse.Namespace) -> None:
    """Workers choose their own KIE connection and rate limits, and send the creates a stop's
    grace would wait for: options naming them here would be ignored. The journal is the one
    thing the sender shares with them: it must be theirs (:func:`_check_celery_journal`)."""
    for option, given in (
        ("--mock", args.mock),
        ("--mock-seconds", args.mock_seconds is not None),
        ("--base-url", args.base_url is not None),
        ("--upload-base-url", args.upload_base_url is not None),
        ("--proxy", args.proxy is not None),
        ("--no-proxy", args.no_proxy),
        ("--ca-file", args.ca_file is not None),
    ):
        if given:
            raise ConfigurationError(
                f"{option} does not go with --celery: the workers connect to KIE with their own "
                "KIE_API_KEY and KIE_BASE_URL (e.g. a `kie mock serve` they all reach), through "
                "their own HTTPS_PROXY and SSL_CERT_FILE"
            )
    if args.limits is not None:
        raise ConfigurationError(
            "--limits does not go with --celery: the workers keep KIE's rate limits with their "
            "own KIEKIT_LIMITS_URL"
        )
    if args.stop_grace is not None:  # KIEKIT_STOP_GRACE, set for every kie command: unused
        raise ConfigurationError(
            "--stop-grace does not go with --celery: this command sends no create, so a stop "
            "has none to wait for; it holds back the jobs no worker has taken, and each worker "
            "finishes the jobs it holds (stopping a worker is Celery's warm shutdown)"
        )
    if args.poll_interval is not None and not args.poll_interval > 0:
        raise ValidationError("--poll-interval", "must be a positive number of seconds")
    _check_celery_journal()


def _check_celery_journal() -> None:
    """The sender reads the jobs settled before and, stopped, holds back in the journal the
    jobs no worker has taken yet (kiekit.distributed.collect.hold_back): that only holds them
    back if it is the workers' journal. A SQLite file (the default one included) is one
    machine's, never known to be theirs: refused before anything is sent, rather than a stop
    that says the jobs are held back while the workers go on creating, and paying for, them."""
    from kiekit.journal import JOURNAL_URL_ENV, default_journal
    from kiekit.journal._postgres import PostgresStore

    if not isinstance(default_journal().store, PostgresStore):
        raise ConfigurationError(
            f"--celery needs the workers' shared journal: set {JOURNAL_URL_ENV} (or --journal) "
            "to the postgresql://… URL the workers use; a SQLite journal (the default, "
            "in kiekit's data folder) is this machine's alone (docs/teams.md)"
        )


def _celery_app(args: argparse.Namespace) -> Any:  # a Celery app (make_app)
    """The Celery app of ``--celery``, its broker proved reachable: before the journal, the
    folders and the results file, so a broker that is down leaves nothing behind."""
    try:
        from kiekit.distributed.celery_app import make_app
    except ImportError as exc:
        raise ConfigurationError(
            f"--celery needs Celery: pip install 'kiekit[celery]' ({exc})"
        ) from exc
    from kiekit.distributed.collect import check_broker
    from kiekit.distributed.settings import CelerySettings

    app = make_app(CelerySettings.from_env(args.celery or None))
    check_broker(app)
    return app


def _run_on_celery(
    args: argparse.Namespace,
    app: Any,
    journal: Journal,
    jobs: list[Job],
    results_path: Path,
    finished: list[JobResult],
    refusals: list[JobResult],
    handed: set[int],
) -> list[JobResult]:
    from kiekit.distributed.collect import run_on_celery

    with _reporting(args, results_path, len(jobs), finished, refusals) as done:
        return run_on_celery(
            app,
            journal,
            jobs,
            args.out,
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            on_result=done,
            on_wait=say,  # a long wait with no answer says what it waits for
            on_sent=lambda job: handed.add(job.line),  # a stop tells the jobs never sent
        )


def _results_file(text: str) -> Path:
    """--results' path. ``-`` is refused rather than taken as a file named "-" in the current
    folder (as it was) or as standard output: the results file is rewritten as jobs end and
    read back by a rerun (the task ids it knows), which a pipe cannot be; and ``-`` means
    standard input for JOBS, ``kie chat`` and ``kie upload``."""
    if text == "-":
        raise argparse.ArgumentTypeError(
            "- is not a file: the results file is rewritten as jobs end and read again by a "
            "rerun, so it cannot be standard output; give a path (./- for a file named -), "
            "then read it (cat OUT/results.jsonl); --json prints the run's summary"
        )
    return path_option(text)


def _check_results_file(args: argparse.Namespace, results_path: Path) -> None:
    """Refuse a results file that cannot be opened (a folder of that name, no permission)
    before anything starts, naming its option. Opened to append, so a previous run's results
    stay whole if this run stops before its first job; a file made here is removed."""
    existed = os.path.lexists(results_path)
    try:
        with open(results_path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        option = "--out" if args.results is None else "--results"
        raise ValidationError(option, _cannot_write(results_path, exc)) from exc
    if not existed:
        with contextlib.suppress(OSError):
            os.unlink(results_path)


@contextlib.contextmanager
def _reporting(
    args: argparse.Namespace,
    results_path: Path,
    total: int,
    finished: list[JobResult],
    refusals: list[JobResult],
) -> Iterator[Callable[[JobResult], None]]:
    """What to do with each result as it comes: keep it in ``finished``, show it, and append
    it to the results file (a partial report survives a crash; the file is rewritten in the
    jobs' order at the end). A results file that cannot be opened is refused before any job
    runs; one that fails later (a full disk) is said once and left, and the jobs go on: each
    is paid for, in the journal, and told again at the end (:func:`_save_results`).
    ``refusals``: the lines refused before the run (said already): written first, and counted
    by the progress bar as the summary counts them, among the jobs not succeeded."""
    try:
        results_path.parent.mkdir(parents=True, exist_ok=True)
        report: TextIO | None = open(results_path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        option = "--out" if args.results is None else "--results"
        raise ValidationError(option, _cannot_write(results_path, exc)) from exc

    def done(result: JobResult) -> None:
        finished.append(result)
        show(result)  # first: the results file may be what cannot be written
        write(result)

    def write(result: JobResult) -> None:
        nonlocal report
        if report is None:
            return
        try:
            report.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            report.flush()
        except OSError as exc:
            say(f"kie batch: {_cannot_write(results_path, exc)}; the jobs go on (each is in "
                "the journal: kie tasks)")  # fmt: skip
            _closed(report)
            report = None

    try:
        with _progress(total + len(refusals), len(refusals)) as show:
            for refused in refusals:  # in the file as the others are; said already
                write(refused)
            yield done
    finally:
        if report is not None:
            _closed(report)


def _closed(report: TextIO) -> None:
    """Close ``report``; what its buffer held and a full disk refused was said already."""
    with contextlib.suppress(OSError):
        report.close()


def _cannot_write(path: Path, exc: OSError) -> str:
    return f"cannot write {shown(path)}: {exc.strerror or exc}"


def _save_results(path: Path, results: list[JobResult]) -> OSError | None:
    """Write the results file, in the jobs' order. When it cannot be written (a full disk),
    say so naming it, then each job's line on standard error, task id and all: the file was
    to keep them. The error, or None."""
    try:
        _write_results(path, results)
    except OSError as exc:
        say(f"kie batch: {_cannot_write(path, exc)}; each job's line follows (and its row is "
            "in the journal: kie tasks)")  # fmt: skip
        for result in results:
            say(json.dumps(result.to_json(), ensure_ascii=False))
        return exc
    return None


def _stopped(
    args: argparse.Namespace,
    stop: KeyboardInterrupt,
    jobs: list[Job],
    known: list[JobResult],
    results_path: Path,
    owner: str,
    started: float,
    tidy: Callable[[JobResult], JobResult] | None = None,
    handed: Collection[int] = (),
) -> None:
    """A batch stopped by Ctrl-C or SIGTERM: each job's line in the results file, the jobs not
    finished read from their journal rows (a line that says it did not finish), and what they
    left said: the tasks that go on at KIE, the creates of unknown outcome, how to go on. With
    ``--celery``, the jobs Celery workers hold go on there (the others were held back from
    them: kiekit.distributed.collect.hold_back). A job cut short made its task in this run
    when its row was claimed since the run ``started`` by this run (its ``owner``) or, with
    ``--celery``, by a worker (:func:`_made_in_run`)."""
    from attrs import evolve

    from kiekit.batch import job_key
    from kiekit.errors import KieError
    from kiekit.journal import default_journal

    done = {result.line for result in known}
    open_jobs = [job for job in jobs if job.line not in done]
    working: set[int] = set()  # lines of jobs a Celery worker holds: it finishes them
    try:
        journal = default_journal()
        rows = {job.line: journal.get(job_key(job)) for job in open_jobs}
        if args.celery is not None:
            working = {line for line, row in rows.items() if row and journal.holder(row)}
    except KieError as exc:  # said, and each open job's line says it did not finish
        say(f"kie batch: the task journal cannot be read ({exc}): see kie tasks")
        rows = {}
    words = stopped_by(stop)
    left = [
        _left_to_worker(job, rows[job.line], words)
        if job.line in working
        else _left_off(job, rows.get(job.line), words, mock=args.mock)
        for job in open_jobs
    ]
    mine = None if args.celery is not None else owner  # a Celery worker's rows: the workers'
    left = [
        evolve(result, made=_made_in_run(rows.get(result.line), mine, started)) for result in left
    ]
    if tidy is not None:  # their files and warnings as the lines of the jobs that ended
        left = [tidy(result) for result in left]
    ordered = sorted([*known, *left], key=lambda r: r.line)
    saved = _save_results(results_path, ordered) is None
    on_workers = [r for r in left if r.line in working]
    left = [r for r in left if r.line not in working]
    going = [r for r in left if r.state == "stopped" and r.task_id is not None]
    unknown = [r for r in left if r.state == "unknown"]
    unsent = [r for r in left if r.state == "stopped" and r.task_id is None]
    ended = len(ordered) - len(on_workers) - len(going) - len(unknown) - len(unsent)
    celery = args.celery is not None
    by_workers = f"{len(on_workers)} going on on Celery workers, " if celery else ""
    note = (
        f"{ended} of {len(ordered)} job(s) ended, {by_workers}{len(going)} with a task that "
        f"goes on, {len(unknown)} create(s) of unknown outcome, {len(unsent)} not sent; "
        + (f"results in {results_path}" if saved else "no results file (see above)")
    )
    say(f"kie batch {words}: {note}")
    if on_workers:
        say(
            f"{len(on_workers)} job(s) go on on the Celery workers that hold them, which "
            f"finish them (their results land in the journal): {_named(on_workers)}"
        )
    if celery and unsent:
        _say_held_back(unsent, rows, handed)
    if going:
        where = "on the embedded mock, which stops with it" if args.mock else "at KIE"
        say(f"{len(going)} job(s) have a task that goes on {where}: {_named(going)}")
    if unknown:
        say(
            f"{len(unknown)} create(s) have an unknown outcome (KIE may have made, and charged "
            "for, the task; a run again does not send them): kie tasks --state unknown, then, "
            "once your KIE dashboard tells:"
        )
        for result in unknown[:_NAMED]:
            row = rows[result.line]
            assert row is not None  # an unknown outcome is a row's
            settle = f"kie settle {shlex.quote(row.key)} --task-id ID (or --not-created)"
            say(f"  job {result.id}: {settle}")
        if len(unknown) > _NAMED:
            say(f"  and {len(unknown) - _NAMED} more (in {results_path.name})")
    if going or unsent or on_workers:
        waits = "; it waits for the jobs workers still hold" if on_workers else ""
        say(
            "to go on: run the same kie batch command again (jobs done are skipped, nothing "
            f"is created twice{waits})"
            + ("" if args.mock else ", or kie resume for the tasks made")
        )
    counts: dict[str, int] = {}
    for result in ordered:
        counts[result.state] = counts.get(result.state, 0) + 1
    summary = {"jobs": len(ordered), "states": counts, "tasks_made": _tasks_made(ordered),
               "tasks_found": _tasks_found(ordered),
               "results": str(results_path) if saved else None}  # fmt: skip
    hand_stop(stop, note, summary=summary)


def _made_in_run(row: Entry | None, owner: str | None, started: float) -> bool:
    """Whether a job a stop cut short made its task in this run, as far as its row tells: a
    task, on a row first claimed since the run began (``started``, the journal's clock) by
    this run (``owner``; None: by any worker, a Celery batch's). Not a task made before."""
    if row is None or row.task_id is None or row.created_at < started:
        return False
    return owner is None or row.owner == owner


def _say_held_back(
    unsent: list[JobResult], rows: dict[int, Entry | None], handed: Collection[int]
) -> None:
    """Which jobs no Celery worker had taken are held back in the journal (a ``rejected`` row
    the worker that gets the job answers from: collect.hold_back), and which could not be
    (the journal down): only the first are sure not to be created. A job never handed to the
    broker (the stop came first; ``handed``: the lines that were) was not sent at all: no
    worker can get it, held back or not (outside tester "celeryteam", finding 3)."""
    from kiekit.journal import EntryState

    def held(result: JobResult) -> bool:
        row = rows.get(result.line)
        return row is not None and row.state is EntryState.REJECTED and row.lease_until is None

    never = [result for result in unsent if result.line not in handed]
    if never:
        say(f"{len(never)} job(s) were never sent to the workers: none will create them")
    unsent = [result for result in unsent if result.line in handed]
    back = [result for result in unsent if held(result)]
    if back:
        say(f"{len(back)} job(s) no worker had taken are held back: none will create them")
    loose = [result for result in unsent if not held(result)]
    if loose:
        say(
            f"{len(loose)} job(s) no worker had taken could not be held back in the journal: "
            f"a worker may still create them (run the batch again to collect): {_named(loose)}"
        )


def _left_off(job: Job, row: Entry | None, words: str, *, mock: bool) -> JobResult:
    """The result line of a job a stop cut short, from its journal row."""
    from kiekit.batch import JobResult, JobState
    from kiekit.journal import EntryState

    def result(state: JobState, detail: str, **more: Any) -> JobResult:
        error = {"type": "Interrupted", "message": f"{words}: the job did not finish; {detail}"}
        return JobResult(job.line, job.id, state, model=job.model, error=error, **more)

    if row is not None and row.state is EntryState.FAILED:  # ended before the stop
        return JobResult(job.line, job.id, "failed", row.task_id, job.model, error=row.error)
    if row is not None and row.state is EntryState.SUCCEEDED and row.files_on_disk():
        return JobResult(job.line, job.id, "succeeded", row.task_id, job.model, row.files)
    again = "run the batch again" + ("" if mock else " (or kie resume)")
    if row is not None and row.task_id is not None:
        if row.state is EntryState.SUCCEEDED:
            told = f"task {row.task_id} succeeded, its files not all downloaded: {again}"
        else:
            where = "on the embedded mock, which stops with it" if mock else "at KIE"
            told = f"task {row.task_id} goes on {where}: {again} to fetch its files"
        return result("stopped", told, task_id=row.task_id)
    if row is not None and row.state.outcome_unknown:
        return result(
            "unknown",
            "its create was in flight: its outcome is unknown (once your KIE dashboard tells: "
            f"kie settle {row.key} --task-id ID, or --not-created)",
        )
    return result("stopped", "its create was not sent, no task made: run the batch again")


def _left_to_worker(job: Job, row: Entry | None, words: str) -> JobResult:
    """The result line of a job a live Celery worker holds: that worker finishes it."""
    from kiekit.batch import JobResult

    assert row is not None  # held: a row
    what = f"task {row.task_id}" if row.task_id else "its create"
    detail = f"a Celery worker goes on with it ({what}): run the batch again to collect its result"
    error = {"type": "Interrupted", "message": f"{words}: the job did not finish here; {detail}"}
    return JobResult(job.line, job.id, "stopped", row.task_id, job.model, error=error)


def _named(results: list[JobResult]) -> str:
    """A few jobs by id, with their task, and how many more."""
    named = [
        f"{result.id} (task {result.task_id})" if result.task_id else str(result.id)
        for result in results[:_NAMED]
    ]
    more = f" and {len(results) - _NAMED} more" if len(results) > _NAMED else ""
    return ", ".join(named) + more


def _write_results(path: Path, results: list[JobResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", encoding="utf-8") as out:
            for result in results:
                out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        os.replace(part, path)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()  # not left half written beside the results file
        raise


@contextlib.contextmanager
def _progress(total: int, refused: int = 0) -> Iterator[Callable[[JobResult], None]]:
    """One bar on standard error: jobs done of all, with the count of those not succeeded; and a
    line for each job that did not succeed. Standard error that is no terminal (a log, CI) gets
    those lines only, the summary coming at the end: no bar drawn for nobody (so does one
    without rich installed). ``refused``: of ``total``, the lines refused before the run
    (said already): counted done and not succeeded from the start, as the summary counts them."""
    problems = refused

    def tell(result: JobResult) -> None:
        nonlocal problems
        if not result.ok:
            problems += 1
            error = result.error or {}
            say(f"job {result.id} (line {result.line}): {result.state}: {error.get('message')}")

    rich = progress_bars()  # None: no terminal, or no rich (kiekit[cli])
    if rich is None:
        yield tell
        return
    bars = rich.progress
    columns: tuple[Any, ...] = (
        bars.TextColumn("{task.description}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TimeElapsedColumn(),
    )
    with bars.Progress(*columns, console=rich.console.Console(stderr=True)) as bar:
        line = bar.add_task(f"jobs ({problems} not succeeded)", total=total, completed=refused)

        def show(result: JobResult) -> None:
            tell(result)
            bar.update(line, advance=1, description=f"jobs ({problems} not succeeded)")

        yield show
