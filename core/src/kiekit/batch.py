"""Many jobs from a JSON Lines file: created once, waited on together, their files downloaded.

Each line is a job ``{"model": …, "input": {…}, "id"?: …, "callback_url"?: …}``. A job's journal row
is keyed on its ``id`` and a hash of its model and input (never on the output folder, nor its
callback URL): a job is one task however many runs or workers are given it. A worker *claims* the
row before anything is sent and holds it with a lease it renews while it works (docs/teams.md), so
with a shared journal (``KIEKIT_JOURNAL_URL``) workers given the same jobs create each one once, and
the jobs of a worker that dies are taken over when its lease runs out. A batch run again after a
crash or a Ctrl-C never creates a job's task a second time: a job created before is waited on and
downloaded, a job already on disk is skipped, and a job whose create got no answer is reported as
"outcome unknown" (KIE cannot list tasks, kie-api.md §4, so it cannot be found out here).

Bad lines are reported with their number and never stop the others. Concurrency is bounded, and
creates keep the client's rate limits (20 per 10 s, kie-api.md §8).

Once KIE refuses a create of the run for want of credits (402, kie-api.md §7), no job not yet
sent is sent: each would be refused the same way and use the create budget for nothing. Those
jobs end ``not_sent``; jobs whose tasks were made are still waited on and downloaded. A job's
state says whether it was paid for: ``refused`` and ``not_sent`` made nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar, cast, get_args

import attrs
from attrs import evolve, frozen

import kiekit  # kiekit.AsyncClient in annotations: imported when read (typing.get_type_hints)
from kiekit import _paths
from kiekit._engine import request_log
from kiekit._engine.session import followed
from kiekit.errors import (
    ApiError,
    ConfigurationError,
    DownloadError,
    InsufficientCreditsError,
    KieError,
    OutcomeUnknownError,
    ProtocolError,
    ResourceLimitError,
    ResultsExpiredError,
    TaskFailedError,
    TaskTakenOverError,
    UnknownModelError,
    ValidationError,
)
from kiekit.fields import CALLBACK_INPUTS, check_callback_url, input_warnings
from kiekit.journal import Entry, EntryState, Journal, JournalError, error_record, leases_renewed
from kiekit.journal._entry import error_report, files_expired, not_known
from kiekit.journal._journal import host_elsewhere, refused_for_all
from kiekit.journal._selection import Selection, is_open
from kiekit.journal._writer import WRITER
from kiekit.models import Results, State, Task
from kiekit.provider import Provider
from kiekit.registry import Registry, default_registry

__all__ = [
    "JOB_STATES",
    "BadLine",
    "Job",
    "JobResult",
    "JobState",
    "check_jobs",
    "files_as_given",
    "finished_since",
    "job_key",
    "read_jobs",
    "run_batch",
    "run_job",
    "said_warnings",
    "settled",
    "with_callback",
]

log = logging.getLogger("kiekit.batch")
T = TypeVar("T")
# How often a job another live worker holds is looked at again; and how soon a job whose row
# changed between a look and a claim is looked at again.
_HELD_POLL = 1.0
# Seconds between looks at a journal that cannot be read (a database restarting): a job waits
# about a minute for it before it is reported an error; nothing is created meanwhile
JOURNAL_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
_RELOOK = 0.05


# How a job ended (JobResult.state): a Literal, so that `result.state == "success"` is a type
# checker's error, not a comparison that is never true
JobState = Literal[
    "succeeded", "failed", "refused", "not_sent", "error", "unknown", "taken_over", "invalid",
    "stopped",
]  # fmt: skip
JOB_STATES: tuple[JobState, ...] = get_args(JobState)

NOT_SENT: Final = "not_sent"
# A job another worker took over while this one was stalled past its lease (a GC pause, a
# stopped VM): that worker waits for its task and downloads its files; neither a success here
# (no second copy of its files) nor a failure (docs/teams.md)
TAKEN_OVER: Final = "taken_over"


class NotSent(KieError):
    """A job not sent: KIE had refused a create of this run for want of credits (402). Its
    journal row says so (``rejected``, nothing made); a later run sends it."""

    def __init__(self) -> None:
        super().__init__(
            "not sent: KIE refused a create of this batch for want of credits (402), so "
            "nothing more was sent; top up the account and run the batch again"
        )


@frozen
class Job:
    """One line of a jobs file (:func:`read_jobs`): a task to create, wait for and download.

    ``line`` is its line number (1 first), ``id`` the line's ``"id"`` (or a hash of model
    and input when it has none: the job's key in the journal, so a run again finds its
    task), ``model`` and ``input`` what :meth:`~kiekit.client.Client.submit` takes, and
    ``callback_url`` KIE's ``callBackUrl`` for its task (None: none given, ``""``: none wanted).
    """

    line: int
    id: str  # the line's "id", or a hash of model and input
    model: str
    input: Mapping[str, Any]
    # KIE's callBackUrl for the job's task (kie-api.md §6); None: none given (``kie batch
    # --callback-url`` gives one), "" none wanted. Not part of the job's key: a batch run again
    # with another URL (a new tunnel) waits for the task made before, not a second one.
    callback_url: str | None = None


@frozen
class BadLine:
    """A line refused as a whole; ``id`` and ``model`` as far as the line gives them (a user
    keys the results by the ids they gave)."""

    line: int
    message: str
    id: str | None = None
    model: str | None = None
    field: str | None = None  # the job field the line got wrong, when one is (callback_url)

    def result(self) -> JobResult:
        error: dict[str, Any] = {"type": "ValidationError", "message": self.message}
        if self.field is not None:  # as a ValidationError's ("prompt: is required")
            error["field"] = self.field
        error["task_id"] = None
        return JobResult(self.line, self.id, "invalid", model=self.model, error=error)


@frozen
class JobResult:
    """How one job ended: ``succeeded`` (files on disk), ``failed`` (the task failed),
    ``refused`` (KIE refused its create: nothing was made or paid for; ``task_id`` is set only
    when KIE's refusal named a task made before, a second Veo 4K), ``not_sent`` (an earlier
    create of the run was refused for want of credits, so it was not sent), ``error`` (a typed
    error, e.g. a wait that timed out: its task, when ``task_id`` says one was made, goes on),
    ``unknown`` (the create's outcome is unknown), ``taken_over`` (another worker took the
    job over while this one was stalled past its lease: that worker downloads its files; no
    failure), or ``invalid`` (the line or its input is bad); or, for a ``kie batch`` stopped
    by a signal, ``stopped`` (it did not finish: its task, if made, goes on; an
    ``Interrupted`` error says so).

    ``made``: whether this run made the job's task (its create was sent by this worker and
    answered with a task: paid for here), not a task another worker or an earlier run made
    and this one found in the journal; None in the answer of an older worker, which does not
    tell (``kie batch``'s ``tasks_made`` then counts it by its ``task_id``, as before). With
    ``--celery`` the sender takes each worker's word, and counts a task whose maker died
    after its create (it answers nothing) by the worker that took its row over
    (``taken_from_gone``; kiekit.distributed.collect's ``made_in_run``).

    ``warnings``: what the local checks said of the job's input without refusing it (a field
    the model's page does not document, sent as given: KIE may ignore it), each
    ``{"field", "message"}``; with 300 rows, the rows that may have lost a setting."""

    line: int
    id: str | None
    state: JobState
    task_id: str | None = None
    model: str | None = None
    files: tuple[str, ...] = ()
    error: Mapping[str, Any] | None = None
    value: Any = None  # what KIE returned besides files (lyrics, a character id), as JSON
    made: bool | None = False
    warnings: tuple[Mapping[str, str], ...] = ()
    # Not in results.jsonl: a Celery worker's word to its batch's sender (collect.made_in_run).
    # The job's task was found in a row this worker took over from a holder that was gone (a
    # kill -9 after its create): the worker that made it will never say so, so this one does,
    # and the sender counts the task as its run's when the row held none when the job was sent.
    taken_from_gone: bool = attrs.field(default=False, kw_only=True)

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "id": self.id,
            "model": self.model,
            "task_id": self.task_id,
            "state": self.state,
            "files": list(self.files),
            "value": self.value,
            "error": None if self.error is None else _with_task_id(self.error, self.task_id),
            "made": self.made,
            "warnings": [dict(warning) for warning in self.warnings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        """The result :meth:`to_json` wrote (e.g. a Celery worker's answer, docs/teams.md)."""
        error = data.get("error")
        return cls(
            line=int(data["line"]),
            id=data.get("id"),
            state=_job_state(data["state"]),
            task_id=data.get("task_id"),
            model=data.get("model"),
            files=tuple(str(path) for path in data.get("files") or ()),
            error=dict(error) if error is not None else None,
            value=data.get("value"),
            made=_made_of(data.get("made")),
            warnings=tuple(dict(warning) for warning in data.get("warnings") or ()),
        )


def _with_task_id(error: Mapping[str, Any], task_id: str | None) -> dict[str, Any]:
    """A job's error as results.jsonl says it: with a ``task_id`` as every error object has
    (README, the failure shape), its own when it names one, else the job's task (null when
    none was made); a journal's record of an error keeps none."""
    return {**error, "task_id": error.get("task_id", task_id)}


def _made_of(value: object) -> bool | None:
    """A result's ``made`` as JSON gives it: None (not told) from a worker of an older kiekit."""
    return value if isinstance(value, bool) else None


JobsSource = str | os.PathLike[str] | IO[bytes] | IO[str] | Iterable[str | bytes]


def read_jobs(source: JobsSource) -> tuple[list[Job], list[BadLine]]:
    """Jobs and bad lines of a JSON Lines file; blank lines and ``#`` comments are skipped.

    ``source``: the file's path (a str or a Path), an open file (binary or text), or its
    lines (str or bytes). A file is read as ``kie batch`` reads it: split on "\\n" only (a
    trailing "\\r" dropped), never on U+2028 or U+0085, which ``json.dumps(...,
    ensure_ascii=False)`` leaves in a prompt (``str.splitlines()`` would cut such a row in
    two); line numbers are the file's; the byte order mark Notepad and Excel write is
    skipped, and a UTF-16 file is refused whole (ValidationError naming ``jobs``).
    A line given as bytes is read as UTF-8: one that is not (a Windows-1251 word pasted in)
    is a bad line of its own, said with its number, and the others run
    (docs/journal-batch-webhooks.md: a bad line never stops the others).

    An id is the first line's that gives it, a bad line's too: a later line with it is
    refused, and its result carries no id, so results.jsonl has one line per id (a user keys
    the results by their ids; the line number and the message name the other line)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as opened:
            return _read_lines(_file_lines(opened, os.fspath(source)))
    if isinstance(source, io.TextIOBase):  # a text file's own reading splits on "\r" too
        return _read_lines(_file_lines(io.BytesIO(source.read().encode()), "jobs"))
    if isinstance(source, io.IOBase):  # binary: iterating splits on b"\n" only
        name = getattr(source, "name", None)  # an open file's path, as kie batch names it
        return _read_lines(_file_lines(cast("IO[bytes]", source), str(name or "jobs")))
    return _read_lines(source)


def _file_lines(source: IO[bytes], name: str) -> Iterator[bytes]:
    """The lines of a jobs file, as bytes, without the byte order mark Notepad and Excel
    write (the mock's HAR reader takes one too). A file that says it is UTF-16 (its byte
    order mark) is refused whole, before anything is sent: each of its lines read as UTF-8
    would be garbage."""
    for number, raw in enumerate(source, start=1):
        if number == 1:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise ValidationError(
                    "jobs", f"{name}: is UTF-16 (its byte order mark), not UTF-8: save it as UTF-8"
                )
            raw = raw.removeprefix(codecs.BOM_UTF8)
        yield raw


def _read_lines(lines: Iterable[str | bytes]) -> tuple[list[Job], list[BadLine]]:
    jobs: list[Job] = []
    bad: list[BadLine] = []
    seen: dict[str, int] = {}
    for number, given in enumerate(lines, start=1):
        try:
            text = _text(given)
        except ValueError as exc:
            bad.append(BadLine(number, str(exc)))
            continue
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            job = _job(number, text)
        except ValueError as exc:
            job_id, model = _named_by(text)
            if job_id is not None and job_id in seen:
                job_id = None  # the other line's
            elif job_id is not None:
                seen[job_id] = number
            field = exc.field if isinstance(exc, ValidationError) else None
            bad.append(BadLine(number, str(exc), job_id, model, field))
            continue
        if job.id in seen:
            again = f"id {job.id!r} is the job of line {seen[job.id]} again"
            bad.append(BadLine(number, again, None, job.model))
            continue
        seen[job.id] = number
        jobs.append(job)
    return jobs, bad


def _text(line: str | bytes) -> str:
    """A line as text: bytes read as UTF-8, else a ValueError saying where they are not (a NUL
    byte too: UTF-16 without its byte order mark, every other byte a NUL)."""
    if isinstance(line, str):
        return line.removesuffix("\n").removesuffix("\r")
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    try:
        if b"\0" in line:
            raise UnicodeDecodeError("utf-8", line, line.index(b"\0"), len(line), "NUL")
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not UTF-8 text (its byte {exc.start + 1} is {line[exc.start]:#04x}: "
            "Windows-1251, Shift-JIS, UTF-16?): save the file as UTF-8"
        ) from None


def _job(number: int, text: str) -> Job:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # its place in this line, not json's "line 2" of it
        end = " (the end of the line)" if exc.pos >= len(text.rstrip()) else ""
        raise ValueError(f"not JSON: {exc.msg} at column {exc.pos + 1}{end}") from None
    if not isinstance(value, dict):
        raise ValueError("a job is a JSON object {model, input, id?}")
    wire = sorted(CALLBACK_INPUTS & set(value) - {"callback_url"})  # the guide's callBackUrl
    if wire:
        raise ValidationError(
            wire[0],
            'give the callback URL as the job field "callback_url" (or kie batch '
            "--callback-url URL for every job that has none)",
        )
    unknown = sorted(set(value) - set(_FIELDS))
    if unknown:
        raise ValidationError(unknown[0], f"is not a job field (fields: {', '.join(_FIELDS)})")
    model = value.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValidationError("model", "must be a model id (a non-empty string)")
    params = value.get("input", {})
    if not isinstance(params, dict):
        raise ValidationError("input", "must be a JSON object")
    job_id = value.get("id")
    if job_id is None:
        job_id = _digest(model, params)
    elif isinstance(job_id, bool) or not isinstance(job_id, str | int) or str(job_id) == "":
        raise ValidationError("id", "must be a non-empty string or a number")
    callback = value.get("callback_url")
    if callback is not None and not isinstance(callback, str):
        raise ValidationError("callback_url", f"must be an http(s) URL, got {callback!r}")
    check_callback_url(callback)  # as submit checks it: before anything is sent
    return Job(number, str(job_id), model, params, callback)


_FIELDS = ("model", "input", "id", "callback_url")


def _named_by(text: str) -> tuple[str | None, str | None]:
    """The id and model a refused line gives, where they read as such (else None); from a line
    that is not JSON at all, as far as its text shows them (best effort: the first ``"id":``
    and ``"model":`` that read as values)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = _named_in_text(text)
    if not isinstance(value, dict):
        return None, None
    job_id, model = value.get("id"), value.get("model")
    if isinstance(job_id, bool) or not isinstance(job_id, str | int) or str(job_id) == "":
        job_id = None
    if not isinstance(model, str) or not model.strip():
        model = None
    return (None if job_id is None else str(job_id)), model


_NAMED_VALUE = re.compile(
    r"""(["'])(id|model)\1\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+)"""
)


def _named_in_text(text: str) -> dict[str, Any]:
    """The ``id`` and ``model`` a line that is not JSON shows, each its first ``"id": value``
    (a string or an integer; single quotes too, a Python dict's repr): a guess, so that a
    user keying the results by their ids finds the row that needs mending."""
    found: dict[str, Any] = {}
    for match in _NAMED_VALUE.finditer(text):
        value = match.group(3)
        if value.startswith("'"):  # a Python dict's repr pasted in: its text, as shown
            found.setdefault(match.group(2), value[1:-1])
            continue
        with contextlib.suppress(ValueError):
            found.setdefault(match.group(2), json.loads(value))
    return found


def with_callback(jobs: Iterable[Job], callback_url: str | None) -> list[Job]:
    """``jobs``, each without a callback URL of its own (None) given ``callback_url``: one
    URL for a whole batch (``kie batch --callback-url``). Checked first, as submit checks it."""
    check_callback_url(callback_url)
    if not callback_url:
        return list(jobs)
    return [job if job.callback_url is not None else evolve(job, callback_url=callback_url)
            for job in jobs]  # fmt: skip


Warning = Mapping[str, str]  # {"field", "message"}: what a local check said, not refusing


def check_jobs(
    jobs: Iterable[Job], *, any_model: bool = False, registry: Registry | None = None
) -> tuple[list[Job], list[JobResult], dict[int, tuple[Warning, ...]]]:
    """The local checks of every job, before anything is sent (``run_batch`` and ``kie batch``
    make them first, so a job's verdict never depends on how far a run got before a Ctrl-C):
    its model id (one no plugin lists but close to one that does is a typo, refused with
    "did you mean" as ``kie run`` refuses it, unless ``any_model``: KIE adds models often)
    and its input (a ValidationError naming the field). The jobs that pass, an ``invalid``
    result for each of the others, and the input warnings of the jobs that pass, by line."""
    registry = registry or default_registry()
    ready: list[Job] = []
    refused: list[JobResult] = []
    warned: dict[int, tuple[Warning, ...]] = {}
    models: dict[str, Provider | KieError] = {}
    for job in jobs:
        verdict = _checked(registry, job, any_model=any_model, models=models)
        if isinstance(verdict, JobResult):
            refused.append(verdict)
            continue
        ready.append(job)
        if verdict:
            warned[job.line] = verdict
    return ready, refused, warned


def _checked(
    registry: Registry,
    job: Job,
    *,
    any_model: bool,
    models: dict[str, Provider | KieError] | None = None,
) -> JobResult | tuple[Warning, ...]:
    """The job's ``invalid`` result, or the warnings its input draws (none: ``()``).
    ``models``: each model id's verdict, judged once for all the jobs of a run (the registry
    reads the installed plugins' metadata to judge one: seconds for 300 rows)."""
    models = {} if models is None else models
    verdict = models.get(job.model)
    if verdict is None:
        verdict = models[job.model] = _model_verdict(registry, job.model, any_model=any_model)
    if isinstance(verdict, KieError):  # its model's: named, before anything is sent
        return JobResult(job.line, job.id, "invalid", model=job.model, error=error_report(verdict))
    with input_warnings() as said:
        try:
            verdict.make_input(job.model, job.input)
        except (ValidationError, UnknownModelError) as exc:  # named, before anything is sent
            return JobResult(job.line, job.id, "invalid", model=job.model, error=error_report(exc))
        except Exception:  # a plugin's bug: the job's own error when it runs (run_batch's)
            log.debug("job %s (line %d): its check failed unexpectedly", job.id, job.line,
                      exc_info=True)  # fmt: skip
    unique = {(w["field"], w["message"]): w for w in said}
    return tuple(unique.values())


def _model_verdict(registry: Registry, model: str, *, any_model: bool) -> Provider | KieError:
    """The model's provider, or why a job of it is refused: one no plugin serves, a quarantined
    plugin's, or one no plugin lists but close to one that does (a typo costs a paid 422, or
    a task of the wrong model), unless ``any_model``, as ``kie run`` judges it."""
    opt_out = "--any-model, or run_batch(..., any_model=True),"
    try:
        return registry.listed_provider(model, any_model=any_model, opt_out=opt_out)
    except (ValidationError, UnknownModelError) as exc:
        return exc


def said_warnings(jobs: Iterable[Job], warned: Mapping[int, Sequence[Warning]]) -> list[str]:
    """One line per distinct input warning, naming the jobs it is about (their ids and line
    numbers, the first few): with 300 rows, which rows may have lost a setting."""
    by_warning: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        for warning in warned.get(job.line, ()):
            by_warning.setdefault((warning["field"], warning["message"]), []).append(job)
    lines = []
    for (field, message), named in by_warning.items():
        shown = ", ".join(f"{job.id} (line {job.line})" for job in named[:_WARNED_NAMED])
        more = f" and {len(named) - _WARNED_NAMED} more" if len(named) > _WARNED_NAMED else ""
        lines.append(f"{field}: {message}: {len(named)} job(s): {shown}{more}")
    return lines


_WARNED_NAMED = 5  # jobs a warning names one by one (each result carries its own)


def files_as_given(files: Iterable[str], out_dir: Path) -> tuple[str, ...]:
    """A job's files as results.jsonl gives them, one form for every row: those in ``out_dir``
    under ``out_dir`` as given (relative stays relative, as this run's downloads are), whether
    downloaded now or found in the journal (which records them absolute); a file another
    worker wrote into its own folder stays as the journal says (absolute)."""
    folder = Path(_paths.native(_absolute(out_dir)))
    given: list[str] = []
    for name in files:
        path = Path(_paths.native(name))
        if path.is_absolute() and path.is_relative_to(folder):
            given.append(_paths.text(out_dir / path.relative_to(folder)))
        else:
            given.append(name)
    return tuple(given)


def job_key(job: Job) -> str:
    """The journal key of a job: its id and what it asks for, wherever its files go. Two jobs
    with one id but different inputs (two unrelated batches) are two rows."""
    digest = _digest(job.model, job.input)
    return f"batch:{job.id}" if job.id == digest else f"batch:{job.id}@{digest}"


def _digest(model: str, params: Mapping[str, Any]) -> str:
    canonical = json.dumps({"model": model, "input": params}, sort_keys=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


# How long after an older kiekit's last batch row a batch refuses to run beside it (see
# pre_lease_writer): a kiekit before a7f754c writes a row as it sends each job, so one at work
# on a batch writes within this; one that has ended is past it after at most this long.
PRE_LEASE_WINDOW = 300.0


def pre_lease_writer(journal: Journal) -> Entry | None:
    """The newest batch row a kiekit before a7f754c (4 Dec 2026) made in the last
    :data:`PRE_LEASE_WINDOW` seconds of the journal's clock and has not finished (a create on
    its way, a task waited for or downloading), if any: that kiekit is at work on a batch
    (or was killed at it). Rows it has finished alone say it has ended. Such a kiekit keys a job
    with its folder (``batch:<folder>:<id>``), which this one never writes, and neither
    claims its jobs nor sees this one's keys: run beside it on one jobs file, each pays for
    the same jobs (an outside tester saw 3 jobs make 6 tasks). Its rows are all this one can
    see of it; one waiting for its tasks writes nothing for a while, so this is a guard, not
    a proof (docs/journal-batch-webhooks.md, "Sharing a journal across versions")."""
    newest: Entry | None = None
    for row in journal.select(Selection(since=journal.now() - PRE_LEASE_WINDOW)):
        folder = f"batch:{row.out_dir}:"
        # this kiekit never makes such a key; an older one's open row is its work in hand
        if row.out_dir and row.key.startswith(folder) and is_open(row):
            newest = row
    return newest


def pre_lease_refusal(journal: Journal, row: Entry) -> JournalError:
    """Why a batch is not run beside a kiekit before a7f754c (:func:`pre_lease_writer`)."""
    age = max(0.0, journal.now() - row.created_at)
    return JournalError(
        f"the task journal was written {age:.0f} s ago by a kiekit older than a7f754c "
        f"(4 Dec 2026; row {row.key!r}, task {row.task_id or '-'}), which does not claim "
        "its jobs: run beside it, this batch could pay for the same jobs twice. Nothing was "
        "sent. Let it end (or stop it), upgrade it, then run this again (a row it left "
        f"unfinished stops this check {PRE_LEASE_WINDOW:.0f} s after it was made; kie "
        "resume finishes it)"
    )


def _folder_key(out_dir: Path, job: Job) -> str:
    """The key kiekit 0.1 gave a job (with its folder): a run after an upgrade finds its rows."""
    return f"batch:{_absolute(out_dir)}:{job.id}"


def _absolute(folder: Path) -> str:
    return _paths.recorded(folder)  # as the journal records a folder (the keys' and out_dir's text)


async def run_batch(
    client: kiekit.AsyncClient,
    journal: Journal,
    jobs: Sequence[Job],
    out_dir: str | os.PathLike[str],
    *,
    concurrency: int = 10,
    timeout: float | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    any_model: bool = False,
    log_warnings: bool = True,
) -> list[JobResult]:
    """Run every job (at most ``concurrency`` at a time); results in the jobs' order.

    Each job's files go into ``out_dir`` (a str or a path, as ``Client.download`` takes).
    Every job is checked first, before anything is sent (:func:`check_jobs`): a job whose
    model id looks mistyped (unless ``any_model``, as ``kie batch --any-model``) or whose input
    is refused ends ``invalid``, its result given to ``on_result`` before any other job runs.
    An input warning (a field the model's page does not document) is its job's, in its
    result's ``warnings``; ``log_warnings`` also logs one line per distinct warning, naming
    its jobs (``kie batch`` says them itself).

    ``client`` must record into ``journal``: its rows are how a second run knows what the first
    one did. A client with the default journal and ``default_journal()`` do (two handles on one
    SQLite file are one journal); a client recording elsewhere, or nowhere, is a
    ConfigurationError before any job starts.

    ``on_result`` is called with each job's result as it ends. Should it raise (a bug in the
    display code of a notebook, say), the jobs still running are cancelled and the exception
    is raised once they have stopped: no job goes on creating tasks unseen after ``run_batch``
    has returned control. Each stopped job lets its claim go; a create already sent stays in
    the journal (its task, or "outcome unknown"), so running the batch again, or ``kie
    resume``, finishes it without creating anything twice.
    """
    if concurrency < 1:
        raise ValidationError("concurrency", "must be at least 1")
    out_dir = Path(out_dir)  # a str as Client.download takes one
    journal = _shared_journal(client, journal)
    older = await _off_loop(journal, partial(pre_lease_writer, journal))
    if older is not None:
        raise pre_lease_refusal(journal, older)
    registry = client._engine.registry  # the providers the client's creates would use
    models: dict[str, Provider | KieError] = {}
    checked = [_checked(registry, job, any_model=any_model, models=models) for job in jobs]
    if log_warnings:
        warned = {job.line: c for job, c in zip(jobs, checked, strict=True) if isinstance(c, tuple)}
        for line in said_warnings(jobs, warned):
            log.warning("%s", line)
    if on_result is not None:
        for verdict in checked:
            if isinstance(verdict, JobResult):
                on_result(verdict)
    slots = asyncio.Semaphore(concurrency)
    started = journal.now()
    broke = asyncio.Event()  # a create was refused for want of credits: send no more

    async def one(job: Job, said: tuple[Warning, ...]) -> JobResult:
        request_log.tag_task("job", job.id)  # its lines told apart from the others' (-v)
        try:
            with input_warnings():  # said with the job (check_jobs), not once more in the log
                result = await run_job(
                    client,
                    journal,
                    job,
                    out_dir,
                    timeout=timeout,
                    slots=slots,
                    refused_since=started,
                    out_of_credits=broke,
                )
        except Exception as exc:  # a bug (a plugin's check, say): this job's, not the run's
            # a thread refused where no boundary could say so (aiohttp's, asyncio's): typed,
            # in one line, as a memory cap fails every job alike (no traceback for each)
            refused = ResourceLimitError.refused(exc, f"for job {job.id or job.line}")
            if refused is None:
                log.exception("job %s (line %d) failed unexpectedly", job.id or "", job.line)
            else:
                log.warning("job %s (line %d): %s", job.id or "", job.line, refused.message)
            task_id = await _task_of(journal, job)  # a task made before it: said, not hidden
            result = JobResult(
                job.line, job.id, "error", task_id, job.model, error=error_report(refused or exc)
            )
        result = evolve(result, warnings=said) if said else result
        if on_result is not None:
            on_result(result)
        return result

    running = [
        asyncio.ensure_future(one(job, verdict))
        for job, verdict in zip(jobs, checked, strict=True)
        if not isinstance(verdict, JobResult)
    ]
    try:
        ran = iter(await asyncio.gather(*running))
        return [c if isinstance(c, JobResult) else next(ran) for c in checked]
    except BaseException:  # on_result raised, or the run was cancelled: the others stop too
        await _stopped(running)
        raise


async def _stopped(running: Sequence[asyncio.Future[JobResult]]) -> None:
    """Cancel the jobs still running and wait until they have stopped (each lets its claim go
    and writes down what it had sent): gather alone leaves them running on the loop."""
    for job in running:
        job.cancel()
    await asyncio.gather(*running, return_exceptions=True)


async def run_job(
    client: kiekit.AsyncClient,
    journal: Journal,
    job: Job,
    out_dir: Path,
    *,
    timeout: float | None = None,
    slots: asyncio.Semaphore | None = None,
    refused_since: float | None = None,
    out_of_credits: asyncio.Event | None = None,
    run: str | None = None,
) -> JobResult:
    """One job as a batch runs it (here, or on a Celery worker: docs/teams.md): claimed in the
    journal, created once under its key, waited on, its files downloaded into ``out_dir``. A job
    settled before is not sent again; one another live worker holds is left to it (looked at
    again now and then, outside ``slots``) and taken over if that worker dies.
    ``refused_since`` (the journal's clock when this run began): a job another worker had
    refused since then (402 no credits, 422 its input: nothing made) is reported from its row,
    not sent again — each worker of one run resending it burnt the shared create budget for
    nothing; a later run tries it again. ``out_of_credits``: set by a create refused with
    402; once set, a job not sent yet is not sent (``not_sent``). ``run``: the id of the
    ``kie batch --celery`` run that sent the job, written with the task id of a create made
    here (Journal.made_for_run), so that only that run counts the task as paid for."""
    journal = _shared_journal(client, journal)
    folder = _absolute(out_dir)
    key = job_key(job)
    delays = iter(JOURNAL_RETRY_DELAYS)
    async with leases_renewed(journal):
        while True:
            try:
                async with slots or contextlib.nullcontext():
                    outcome = await _try_job(
                        client,
                        journal,
                        job,
                        key,
                        out_dir,
                        folder,
                        timeout,
                        refused_since,
                        out_of_credits,
                        run,
                    )
            except JournalError as exc:  # its row could not be read or written: nothing sent
                delay = next(delays, None)
                if delay is None:
                    await _let_go(journal, key)  # a claim it may hold: free for another
                    return _failure(job, None, exc)
                log.warning("job %s: the task journal cannot be used (%s); again in %g s",
                            key, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)
                continue
            if isinstance(outcome, JobResult):  # its files in one form, found or fetched now
                return evolve(outcome, files=files_as_given(outcome.files, out_dir))
            key, wait = outcome
            await asyncio.sleep(min(wait, _HELD_POLL))


def _shared_journal(client: kiekit.AsyncClient, journal: Journal) -> Journal:
    """The journal a batch claims its jobs in: the client's own, the one its creates are
    recorded in, so that the claim and the create are one row of one holder. ``journal`` may
    be another handle on the same store (``default_journal()`` beside a client's default
    journal); anything else cannot work, and is said before any job starts."""
    own = client.journal
    if own is journal:
        return journal
    usage = "make the client with it (AsyncClient(journal=j)) and pass it: run_batch(client, j, …)"
    if own is None:
        raise ConfigurationError(
            f"the batch's journal is {journal!r} but the client records into none "
            f"(journal=None): a job is created once through its journal row; {usage}"
        )
    if not own.same_store_as(journal):
        raise ConfigurationError(
            f"the batch's journal is {journal!r} but the client records into {own!r}: a job's "
            f"claim and its create must be rows of one journal; {usage}"
        )
    return own


async def _task_of(journal: Journal, job: Job) -> str | None:
    """The task the job's row holds, if the journal can say (None otherwise)."""
    try:
        entry = await _off_loop(journal, partial(journal.get, job_key(job)))
    except KieError:
        return None
    return None if entry is None else entry.task_id


def settled(journal: Journal, job: Job, out_dir: Path) -> JobResult | None:
    """How ``job`` ended before (succeeded with its files on disk or another worker's, or
    failed), or None while something is left to do for it. Reads the journal: blocking."""
    return _settled(_row_of(journal, job_key(job), out_dir, job), job, _absolute(out_dir))


def made_before(journal: Journal, job: Job, out_dir: Path) -> bool:
    """Whether ``job``'s row holds a task already (made by an earlier run, or being waited
    for elsewhere): a run that sends the job now did not make that task. A refusal's named
    task (a second Veo 4K, kie-api.md §3.3) is no task made for the job. Blocking."""
    entry = _row_of(journal, job_key(job), out_dir, job)
    if entry is None or entry.task_id is None:
        return False
    return entry.state is not EntryState.REJECTED


def made_by(journal: Journal, job: Job, out_dir: Path, task_id: str) -> str | None:
    """The ``kie batch --celery`` run whose worker's create made ``job``'s task ``task_id``
    (Entry.run), or None when its row does not say (made outside such a run, by a worker of
    an older kiekit, settled by hand, or the row holds another task now). Blocking."""
    entry = _row_of(journal, job_key(job), out_dir, job)
    if entry is None or entry.task_id != task_id or entry.state is EntryState.REJECTED:
        return None
    return entry.run


def finished_since(journal: Journal, job: Job, out_dir: Path, since: float) -> bool:
    """Whether ``job``'s row was last written at ``since`` (the journal's clock) or later: a
    job another worker finished while this run ran, not one an earlier run left done."""
    entry = _row_of(journal, job_key(job), out_dir, job)
    return entry is not None and entry.updated_at >= since


async def _off_loop(journal: Journal, read: Callable[[], T]) -> T:
    """A journal call on the journal's writer thread: the event loop never waits on it."""
    return cast("T", await WRITER.submit(read, journal.store))


async def _try_job(
    client: kiekit.AsyncClient,
    journal: Journal,
    job: Job,
    key: str,
    out_dir: Path,
    folder: str,
    timeout: float | None,
    refused_since: float | None = None,
    out_of_credits: asyncio.Event | None = None,
    run: str | None = None,
) -> JobResult | tuple[str, float]:
    """The job's result, or its key and how long another worker still holds it."""
    entry = await _off_loop(journal, partial(_row_of, journal, key, out_dir, job))
    if entry is not None:
        key = entry.key  # perhaps the row of an older kiekit, keyed with its folder
    done = _settled(entry, job, folder)
    if done is not None:  # finished in an earlier run, or by another worker
        if _value_not_kept(entry, done):  # a row of a kiekit before values were kept
            assert entry is not None
            return await _value_asked_again(client, entry, done)
        return done
    if entry is not None and _refused_in_this_run(entry, journal.owner, refused_since):
        return _refused_result(entry, job)
    # the claim itself spares a job another worker refused since this run began: a refusal
    # landing after the look above is not reopened (an outside tester saw two such resends)
    claim = partial(journal.claim, job.model, key, out_dir=folder, refused_since=refused_since)
    held = await _off_loop(journal, claim)
    if held is None:  # not ours: only submit may say why, never work on it unclaimed
        entry = await _off_loop(journal, partial(journal.get, key))
        if entry is None:
            return key, _RELOOK
        waiting = await _off_loop(journal, partial(journal.held_elsewhere, entry))
        if waiting > 0:  # another live worker is on it: its result will be in the row
            return key, waiting
        if entry.model != job.model or entry.state.outcome_unknown:
            # another model under the key, or a create sent by a worker that is gone: submit
            # refuses both with the reason, before anything is sent or downloaded
            return await _run_claimed(
                client, journal, job, key, out_dir, timeout, out_of_credits, run
            )
        return key, _RELOOK  # it changed meanwhile (finished, let go, a gone holder's ended)
    if _finished_elsewhere(held, folder):  # finished between our look and our claim
        await _let_go(journal, key)
        return _settled_elsewhere(held, job)
    # a task whose holder was gone (its lease run out, or its process ended: held_elsewhere)
    # when this claim took it: no worker that made it will answer for it (JobResult)
    from_gone = (
        entry is not None
        and entry.task_id is not None
        and entry.state in (EntryState.CREATED, EntryState.SUCCEEDED)
        and entry.owner not in (None, journal.owner)
        and entry.lease_until is not None
    )
    if held.state is EntryState.CLAIMED and out_of_credits is not None and out_of_credits.is_set():
        # its create would be refused as the last was: not sent (a task made is still waited on)
        why = NotSent()
        await _let_go(journal, key, refused=why)
        return JobResult(job.line, job.id, NOT_SENT, None, job.model, error=error_record(why))
    result = await _run_claimed(client, journal, job, key, out_dir, timeout, out_of_credits, run)
    if from_gone and result.task_id is not None and not result.made:
        return evolve(result, taken_from_gone=True)
    return result


async def _run_claimed(
    client: kiekit.AsyncClient,
    journal: Journal,
    job: Job,
    key: str,
    out_dir: Path,
    timeout: float | None,
    out_of_credits: asyncio.Event | None = None,
    run: str | None = None,
) -> JobResult:
    """Submit (or find the task of), wait for and download a job; ``submit`` says why when the
    row cannot be worked on here. A create refused for want of credits sets ``out_of_credits``.
    A task submit made here has the time of its create (``created_at``); one another worker or
    an earlier run made, found through the job's key, has none (``JobResult.made``)."""
    task: Task | None = None
    try:
        try:
            with journal.made_for_run(key, run):  # a task made here is written as run's
                task = await client.submit(
                    job.model, job.input, callback_url=job.callback_url, idempotency_key=key
                )
        except ApiError as refused:  # a Veo 4K asked again: its task, made before, delivered
            task = followed(refused, job.model)  # else raised again
        results = await client.wait(task, timeout=timeout)
        try:
            paths = await client.download(results, out_dir)
        except DownloadError as exc:  # files fetched again past KIE's retention: said so
            expired = await _expired(journal, key, task, exc)
            if expired is None:
                raise
            raise expired from exc
    except TaskTakenOverError as exc:  # the row is another worker's now: not let go, not failed
        return JobResult(
            job.line, job.id, TAKEN_OVER, exc.task_id, job.model, error=error_report(exc),
            made=_made_here(task),
        )  # fmt: skip
    except KieError as exc:
        if task is None and isinstance(exc, JournalError):
            # nothing was sent (the intent is written first): the job waits for the journal
            # as one whose row cannot be read does (run_job), still claimed by this worker
            raise
        # No task: a row still `claimed` (no intent written) is marked refused as it is let
        # go when every worker would be refused so (its input, its model); this worker's
        # own trouble (an unreachable rate-limit store) only lets it go, for a healthy worker
        # to take. One whose create was tried already says how that ended (create_failed).
        for_all = task is None and refused_for_all(exc)
        failed = exc if task is None and not for_all else None
        await _let_go(journal, key, refused=exc if for_all else None, failed=failed)
        if task is None and isinstance(exc, InsufficientCreditsError) and out_of_credits:
            out_of_credits.set()
        return evolve(_failure(job, task, exc), made=_made_here(task))
    except BaseException:
        await asyncio.shield(_let_go(journal, key))
        raise
    if journal.unrecorded(task.id):  # the journal missed a write meanwhile (a restart)
        await _recorded_late(journal, key, task, results, paths, _absolute(out_dir))
    files = tuple(map(_paths.text, paths))  # for results.jsonl: text, as the journal's
    return JobResult(
        job.line, job.id, "succeeded", task.id, job.model, files, value=results.value,
        made=_made_here(task),
    )  # fmt: skip


async def _expired(
    journal: Journal, key: str, task: Task, error: DownloadError
) -> ResultsExpiredError | None:
    """``error`` as the ResultsExpiredError it is when the job's task is past KIE's retention
    and its links cannot be renewed (files_expired: a job done long ago whose files were
    deleted since, run again), its row closed as ``kie resume`` closes it (never owed again);
    None for any other download error."""
    row = await _off_loop(journal, partial(journal.get, key))
    expired = None if row is None else files_expired(row, error)
    if expired is not None:
        await _off_loop(journal, partial(journal.wait_failed, task, expired, read_back=False))
    return expired


def _made_here(task: Task | None) -> bool:
    """Whether ``task`` was created by this submit (its create's answer timed it), not found
    in the journal under the job's key (made by another worker or an earlier run)."""
    return task is not None and task.created_at is not None


async def _recorded_late(
    journal: Journal, key: str, task: Task, results: Results, paths: Sequence[Path], folder: str
) -> None:
    """A job done while its journal could not be written (a database restart): its row is
    brought up to date once the journal answers again, tried as a row that cannot be read is
    (JOURNAL_RETRY_DELAYS), so that a teammate's ``kie resume`` fetches nothing again."""
    write = partial(journal.recorded_late, key, task, results, paths, folder)
    for delay in (0.0, *JOURNAL_RETRY_DELAYS):
        await asyncio.sleep(delay)
        try:
            await _off_loop(journal, write)
            return
        except KieError as exc:
            failure = exc
    settle = journal.settle_command(task.id)  # its row holds only the create's intent
    then = (
        f"tried again before the run ends; should that fail too, once there is room: {settle}"
        if settle
        else "kie resume finishes its row"
    )
    log.warning("job %s: task %s is done, its files on disk, but the task journal still cannot "
                "record it (%s): %s", key, task.id, failure, then)  # fmt: skip


async def _let_go(
    journal: Journal,
    key: str,
    *,
    refused: KieError | None = None,
    failed: KieError | None = None,
) -> None:
    """A job this worker stops working on is free for another at once, not after the lease;
    one ``refused`` here before anything was sent is marked so (``Journal.refused``), for the
    other workers of the run to report; one that ``failed`` here (this worker's own trouble)
    keeps its error, for one of them to take."""

    def let_go() -> None:
        # a create another worker sent and died with (OutcomeUnknownError): its row turns
        # `unknown`, for a person to settle, and is not this worker's (Journal.sender_lost)
        if isinstance(failed, OutcomeUnknownError) and journal.sender_lost(key, failed):
            return
        if refused is None or journal.refused(key, refused) is None:  # not refused: released
            journal.release(key, failed)

    try:
        await _off_loop(journal, let_go)
    except KieError as exc:
        log.warning("could not release job %s in the journal: %s", key, exc)


def _row_of(journal: Journal, key: str, out_dir: Path, job: Job) -> Entry | None:
    found = journal.get(key) or journal.get(_folder_key(out_dir, job))
    return found if found is not None else _moved_row(journal, job)


def _moved_row(journal: Journal, job: Job) -> Entry | None:
    """The row a kiekit before a7f754c made for ``job`` under another ``--out`` (its key held
    the folder): found by the job's id, taken when it asks for what the job asks (its model
    and its create's body), so a batch run again elsewhere pays for nothing twice. Of several
    (the job run in several folders), a success whose files are all recorded first, else the
    newest. A row of the same id asking for something else is another job: said, not taken."""
    keys = journal.folder_keyed(job.model).get(job.id, ())
    rows = [row for row in map(journal.get, keys) if row is not None and row.model == job.model]
    if not rows:
        return None
    same = [row for row in rows if _asks_the_same(row.request, job)]
    if not same:
        log.warning("job %s: an older kiekit's row of this id in %s (task %s) asks for something "
                    "else: not taken as this job's", job.id,
                    _paths.loggable(rows[-1].out_dir or ""), rows[-1].task_id)  # fmt: skip
        return None
    whole = [row for row in same if row.state is EntryState.SUCCEEDED and not row.unfinished]
    return (whole or same)[-1]


def _asks_the_same(request: Any, job: Job) -> bool:
    """Whether a create's recorded body is ``job``'s: its input as the body (a legacy
    family's), or under ``input`` (the market's), or the body this kiekit builds for it (a
    field the wire spells otherwise). The callback URL is not part of a job (Job)."""
    if not isinstance(request, Mapping):
        return False
    body = {name: value for name, value in request.items() if name != "callBackUrl"}
    given = dict(job.input)
    if {name: value for name, value in body.items() if name != "model"} == given:
        return True
    if set(body) <= {"model", "input"} and body.get("input") == given:
        return True
    built = _body_now(job)
    return built is not None and {k: v for k, v in built.items() if k != "callBackUrl"} == body


def _body_now(job: Job) -> Mapping[str, Any] | None:
    """The create body this kiekit's provider builds for ``job`` (None when it cannot)."""
    from kiekit._engine.hooks import call_hook

    registry = default_registry()
    try:
        provider = registry.provider(job.model)
        params = provider.make_input(job.model, job.input)
        request = call_hook(registry, provider, "build_request", job.model, params,
                            model=job.model, callback_url=None)  # fmt: skip
    except KieError:
        return None
    body = request.body
    return body if isinstance(body, Mapping) else None


def _settled(entry: Entry | None, job: Job, folder: str) -> JobResult | None:
    if entry is None or entry.model != job.model:
        return None  # a different model under the same key is refused by submit, with a reason
    if not entry.state.known:  # a newer kiekit's row: neither sent again nor waited for here
        error = {"type": "JournalError", "message": not_known(entry)}
        return JobResult(job.line, job.id, "error", entry.task_id, job.model, error=error)
    if entry.state is EntryState.SUCCEEDED and entry.files_on_disk():
        return _succeeded(entry, job)
    if _finished_elsewhere(entry, folder):
        return _settled_elsewhere(entry, job)
    if entry.state is EntryState.FAILED:
        return JobResult(job.line, job.id, "failed", entry.task_id, job.model, error=entry.error)
    return None


def _refused_in_this_run(entry: Entry, owner: str, since: float | None) -> bool:
    """Refused by another worker since this run began, and let go (a create parked after a
    429 is still held by its worker, which sends it again itself)."""
    return (
        since is not None
        and entry.state is EntryState.REJECTED
        and entry.lease_until is None
        and entry.owner not in (None, owner)
        and entry.updated_at >= since
    )


def _job_state(value: object) -> JobState:
    """A state another worker's answer names (JobResult.from_json), checked: a newer one's
    state this kiekit does not know is a protocol error, not a silent string."""
    for state in JOB_STATES:
        if value == state:
            return state
    raise ProtocolError(f"a job result's state is {value!r}, none of {', '.join(JOB_STATES)}")


def _refused_result(entry: Entry, job: Job) -> JobResult:
    """A job refused by another worker of this run (its row ``rejected``: nothing made)."""
    kind = (entry.error or {}).get("type")
    state: JobState
    if kind in ("ValidationError", "UnknownModelError"):
        state = "invalid"
    else:
        state = NOT_SENT if kind == NotSent.__name__ else "refused"
    return JobResult(job.line, job.id, state, entry.task_id, job.model, error=entry.error)


def _finished_elsewhere(entry: Entry, folder: str) -> bool:
    """Downloaded by another worker into its own folder: done, while its files are there. A
    worker of another machine (its owner names another host, docs/teams.md) is taken at its
    row's word: its disk cannot be looked at from here. Files written on this machine are
    looked for: gone since (an earlier run's folder cleaned, ``rm -rf o1``), they are
    fetched again into this run's folder, never reported as a success that lists missing
    files (an outside tester's ``kie batch`` said ``ok`` for a folder it had not filled). In
    this worker's own folder, files gone since are fetched again too (:func:`_settled`)."""
    whole = bool(entry.files) and len(entry.files) >= len(entry.assets)  # not cut short
    if not (entry.state is EntryState.SUCCEEDED and whole and entry.out_dir != folder):
        return False
    return host_elsewhere(entry.owner) is not None or entry.files_on_disk()


def _settled_elsewhere(entry: Entry, job: Job) -> JobResult:
    return _succeeded(entry, job)


def _succeeded(entry: Entry, job: Job) -> JobResult:
    """A job done before, from its row: its files, and its value (the lyrics, the song ids:
    paid for, and nowhere else once the results line is written over) as the row keeps it."""
    value = entry.value if entry.value_kept else None
    files = entry.files
    return JobResult(job.line, job.id, "succeeded", entry.task_id, job.model, files, value=value)


def _value_not_kept(entry: Entry | None, done: JobResult) -> bool:
    """A job done before whose row has no value kept (written by a kiekit before values were
    kept) while KIE still keeps its task (Entry.value_to_ask): worth one status call, as ``kie
    run --idempotency-key`` makes on a replay."""
    return done.ok and entry is not None and entry.value_to_ask


async def value_asked_again(client: kiekit.AsyncClient, entry: Entry) -> Results:
    """The results of ``entry``'s task, a success whose row kept no value
    (Entry.value_to_ask), asked of KIE once: one status call, nothing created or downloaded;
    the client records the finish, so its row keeps the value from now on (a batch run
    again, ``kie resume``). A KieError when KIE cannot say (its record gone, the network),
    or says it is not the success its row says (ProtocolError): the row is left as it is."""
    assert entry.task_id is not None
    task = Task(entry.task_id, entry.model)
    status = await client.status(task)
    if status.state is not State.SUCCEEDED:  # not the success its row says: left as is
        raise ProtocolError(
            f"its status is {status.state.value}, its row says succeeded", task_id=task.id
        )
    return await client.finish(task, status)


async def _value_asked_again(
    client: kiekit.AsyncClient, entry: Entry, done: JobResult
) -> JobResult:
    """``done`` with its task's value, asked of KIE once (:func:`value_asked_again`); as it
    was when KIE cannot say (a warning says why): the job stays done, its files on disk."""
    try:
        results = await value_asked_again(client, entry)
    except KieError as exc:
        log.warning(
            "job %s: task %s is done, but its value (not kept by the kiekit that ran it) "
            "could not be asked for again: %s", done.id, entry.task_id, exc,
        )  # fmt: skip
        return done
    return evolve(done, value=results.value)


def _failure(job: Job, task: Task | None, exc: KieError) -> JobResult:
    state: JobState
    if isinstance(exc, TaskFailedError):
        state = "failed"
    elif isinstance(exc, OutcomeUnknownError):
        state = "unknown"
    elif isinstance(exc, ValidationError | UnknownModelError):
        state = "invalid"  # named field or model, before anything was sent
    elif task is None and isinstance(exc, ApiError):
        state = "refused"  # KIE's answer to the create: nothing made, nothing paid
    else:
        state = "error"
    # a refused input made nothing (an idempotency key's earlier task, named in its error, is
    # not this job's)
    task_id = task.id if task is not None else None if state == "invalid" else exc.task_id
    # with the fields kie run --json gives an error (path, url, key…): a script acts on them
    return JobResult(job.line, job.id, state, task_id, job.model, error=error_report(exc))
