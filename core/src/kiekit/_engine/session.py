"""What a client does, written once: every method of ``Client`` and ``AsyncClient`` as a flow.

The engine (:mod:`kiekit._engine.engine`) knows KIE's calls; a session adds what a client adds
around them — the journal's rows before and after each step (:class:`~kiekit._engine.ops.Record`
ops) and the account's calls (:mod:`kiekit._engine.account`). The two clients only pick a
driver: each of their methods hands one of these flows to ``drive`` or ``drive_async``, so both
clients keep the same rows, raise the same errors and return the same results by construction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs

from kiekit._engine import request_log
from kiekit._engine.account import Files, Source
from kiekit._engine.drain import Drain
from kiekit._engine.engine import Booking, Engine, SendState, StatusHook
from kiekit._engine.hooks import call_hook
from kiekit._engine.ops import Flow, Record, Sleep
from kiekit._paths import native, writable_folder
from kiekit._redact import printable
from kiekit.errors import (
    ApiError,
    ConfigurationError,
    FileWriteError,
    KieError,
    OutcomeUnknownError,
    ResultsExpiredError,
    TaskNotFoundError,
    TaskTakenOverError,
    ValidationError,
    expired_answer,
    fetch_refused,
    follow_up_refused,
    made_before,
)
from kiekit.fields import Input
from kiekit.journal import HeldElsewhere, Recorder, TakenOver
from kiekit.models import Request, Results, Task, TaskStatus
from kiekit.observe import CreateUnknown, Observer
from kiekit.uploads import UploadedFile

T = TypeVar("T")
log = logging.getLogger("kiekit")

InputLike = Input | Mapping[str, Any] | None

# How often a create whose idempotency key another worker holds looks at the journal again.
_HELD_POLL = 1.0


class _Dropped(Exception):  # a signal inside Session._held, never raised out of it
    """The task at work was taken over by another worker: its flow is closed, not thrown
    into (it must not catch it as a failure of its own)."""

    def __init__(self, error: TaskTakenOverError) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """One client's engine, account calls and journal recorder, as flows."""

    def __init__(
        self, engine: Engine, files: Files, recorder: Recorder, *, owns_journal: bool = False
    ) -> None:
        self.engine = engine
        self.files = files
        self.recorder = recorder
        # the journal was opened for this client (the default one, a URL): its close() closes
        # it; one the caller gave (a Journal, a store) is theirs, left open
        self.owns_journal = owns_journal and recorder.journal is not None
        self.drain = Drain()  # a graceful stop's view of the creates under way
        # each task's journal key (its idempotency key, or the one the journal gave its create)
        # and model: named by the log lines of its wait and download too (request_log.tags)
        self._keys: dict[str, tuple[str | None, str | None]] = {}

    def _record(self, write: Callable[[], T]) -> Flow[T]:
        """A journal write as an engine op; with no journal there is nothing to hand over
        (the recorder's checks still run, e.g. an idempotency key needs a journal)."""
        if self.recorder.journal is None:
            return write()
        outcome: T = yield Record(write, self.recorder.journal.store)
        return outcome

    def submit(
        self,
        model: str,
        params: InputLike,
        fields: Mapping[str, Any],
        *,
        callback_url: str | None,
        idempotency_key: str | None,
        out_dir: str | os.PathLike[str] | None = None,
        sending: SendState | None = None,
    ) -> Flow[Task]:
        """``sending``: what the caller follows of the create (a graceful stop's drain).
        The input is checked now, in the caller's frame, not when the flow first steps: its
        warnings point at the caller's line though AsyncClient drives the create in a task of
        its own (kiekit._engine.drain)."""
        checked = self.engine.prepare(model, params, fields)
        request = self.engine.create_request(model, checked, callback_url=callback_url)
        flow = self._submitting(model, request, idempotency_key, out_dir, sending or SendState())
        return request_log.tagged_flow(flow, "key", idempotency_key, ("model", model))

    def _keyed(self, task: Task | str, flow: Flow[T]) -> Flow[T]:
        """``flow``, about ``task``, its log lines (and their records' attributes, and the
        observer's events) naming the task, its model and its journal key. A task this
        client did not create in this process (another process's on a shared journal, one
        resumed) has its key read from its journal row first, as its creator named it."""
        task_id = task if isinstance(task, str) else task.id
        known = self._keys.get(task_id)
        if known is None and self.recorder.journal is not None:
            return self._looked_up(task, flow)
        key, model = known if known is not None else (None, None)
        return self._tagged(task, key, model, flow)

    def _tagged(
        self, task: Task | str, key: str | None, model: str | None, flow: Flow[T]
    ) -> Flow[T]:
        task_id = task if isinstance(task, str) else task.id
        if model is None and isinstance(task, Task):
            model = task.model
        return request_log.tagged_flow(flow, "key", key, ("task", task_id), ("model", model))

    def _looked_up(self, task: Task | str, flow: Flow[T]) -> Flow[T]:
        """``flow`` as :meth:`_keyed` tags it, once the task's journal row has been read (on
        the journal's thread, as every journal call of a flow) and its names remembered."""
        task_id = task if isinstance(task, str) else task.id
        try:
            row = yield from self._record(partial(self.recorder.row_of, task_id))
        except BaseException:  # cancelled meanwhile: the flow never started
            flow.close()
            raise
        if row is None:  # none to name (looked up again next time: a row may come)
            return (yield from self._tagged(task, None, None, flow))
        model = row.model or None
        self._remember(task_id, row.key, model)
        return (yield from self._tagged(task, row.key, model, flow))

    def _made(self, task: Task, key: str | None) -> None:
        self._remember(task.id, key, task.model)

    def _remember(self, task_id: str, key: str | None, model: str | None) -> None:
        if len(self._keys) >= 10_000:  # a long-lived client's: start again
            self._keys.clear()
        self._keys[task_id] = (key, model)

    def _submitting(
        self,
        model: str,
        request: Request,
        idempotency_key: str | None,
        out_dir: str | os.PathLike[str] | None,
        sending: SendState,
    ) -> Flow[Task]:
        engine = self.engine
        # The rate-limit slot before the intent row: a create cancelled while it waits for its
        # slot was never sent, and must not be journaled as one that may have made a task.
        # A slot this create does not use (cancelled, or answered by another create of its
        # key) is given back: the creates booked after it must not wait for a ghost.
        booked = [(yield from engine.create_slot())]  # the slot held now (a later one, if)
        try:
            task = yield from self._sending(
                model, request, idempotency_key, out_dir, booked, sending
            )
        except BaseException as exc:
            yield from engine.give_back(booked[0], exc)
            raise
        yield from engine.give_back(booked[0])
        return task

    def _sending(
        self,
        model: str,
        request: Request,
        idempotency_key: str | None,
        out_dir: str | os.PathLike[str] | None,
        booked: list[Booking | None],
        sending: SendState,
    ) -> Flow[Task]:
        engine, recorder = self.engine, self.recorder
        stale = False  # the slot was booked before a wait for a create sent here
        while True:
            try:
                intent = yield from self._record(
                    partial(recorder.before_create, model, request, idempotency_key, out_dir)
                )
                break
            except HeldElsewhere as held:  # another worker, or this process, sends it now
                yield Sleep(min(held.seconds_left, _HELD_POLL))
                journal = recorder.journal
                stale = journal is not None and held.owner == journal.owner
                if not stale:  # the slot taken before has gone by unused
                    yield from engine.give_back(booked[0])
                    booked[0] = yield from engine.create_slot()
                # else: that create's answer comes soon, and is what this one returns; a
                # slot is booked (below) only should this one be sent after all
        if isinstance(intent, Task):  # the key's task, made before: nothing is sent
            request_log.log.info(
                "task %s (%s) was made before with idempotency key %s: not created again",
                intent.id,
                intent.model,
                idempotency_key,
                extra=request_log.fields(task_id=intent.id, model=intent.model),
            )
            self._made(intent, idempotency_key)
            return intent
        if recorder.journal is not None and intent is not None:
            sending.park = lambda exc: self._record(partial(recorder.parked, intent, exc))
            sending.unpark = lambda: self._record(partial(recorder.resending, intent))
        try:
            if stale:  # in the try: cancelled while it waits, the row says nothing was sent
                yield from engine.give_back(booked[0])
                booked[0] = yield from engine.create_slot()
            submitting = engine.submit(model, request, sending=sending, booked=booked[0])
            if idempotency_key is None and intent is not None:  # the row's own key names it
                submitting = request_log.tagged_flow(submitting, "key", intent.key)
            task = yield from submitting
        except (GeneratorExit, TakenOver):  # dropped (nothing may be yielded); not ours now
            raise
        except BaseException as exc:
            if isinstance(exc, OutcomeUnknownError) and intent is not None:
                exc.key = intent.key  # the row its user settles once the dashboard has told
            told = exc
            if isinstance(exc, ApiError) and request.parent_task_id and not expired_answer(exc):
                told = yield from self._why_refused(model, request, exc)
            if isinstance(told, KieError):  # a refused extend or 4K names its parent task
                told = follow_up_refused(told, request.parent_task_id)
                told = fetch_refused(told, request.body)  # a 451 names the input URLs
            failed = partial(recorder.create_failed, intent, told, maybe_sent=sending.maybe_sent)
            yield from self._record(failed)
            if sending.maybe_sent and (  # as the journal's row says "unknown" (create_failed)
                not isinstance(exc, KieError) or isinstance(exc, OutcomeUnknownError)
            ):
                _unknown(engine.observer, model, None if intent is None else intent.key, exc)
            if told is not exc:
                raise told from exc
            raise
        again = request.same_task_again
        yield from self._record(partial(recorder.created, intent, task, same_task_again=again))
        self._made(task, idempotency_key if intent is None else intent.key)
        return task

    def _why_refused(self, model: str, request: Request, error: ApiError) -> Flow[KieError]:
        """KIE's refusal of a follow-up create, told by the parent task's record where the
        provider reads it (Provider.parent_status_model): KIE's words alone may not say
        whether the parent is still running, failed, unknown, or another input is wrong
        (Suno's 422s, kie-api.md §3.6, §7). One status call, sent only after a refusal:
        nothing was made, nothing is paid for. A parent that cannot be read leaves KIE's
        refusal as it came."""
        registry = self.engine.registry
        provider = registry.provider(model)
        parent_model = call_hook(
            registry, provider, "parent_status_model", model, error, model=model
        )
        parent = request.parent_task_id
        if parent_model is None or parent is None:
            return error
        try:
            status: TaskStatus | None = yield from self.engine.status(Task(parent, parent_model))
        except TaskNotFoundError:
            status = None
        except KieError as unread:
            log.debug("follow-up's parent %s could not be read: %s", parent, unread)
            return error
        told: KieError = call_hook(
            registry, provider, "refused_by_parent", model, request, error, status, model=model
        )
        return told

    def call(self, request: Request, *, task_id: str | None) -> Flow[Any]:
        try:
            return (yield from self.engine.call(request, task_id=task_id))
        except ApiError as exc:  # Veo's 1080P of a video past retention (kie-api.md §3.3)
            if task_id is not None and expired_answer(exc):
                raise ResultsExpiredError.of(exc, task_id=task_id) from exc
            raise

    def status(self, task: Task) -> Flow[TaskStatus]:
        # named as its wait's polls are: a webhook receiver's confirmations are such calls
        return self._keyed(task, self._status(task))

    def _status(self, task: Task) -> Flow[TaskStatus]:
        try:
            return (yield from self.engine.status(task))
        except TaskNotFoundError as exc:
            wrong = yield from self._wrong_model(task)
            if wrong is None:
                raise
            raise wrong from exc

    def wait(
        self, task: Task, *, timeout: float | None, on_status: StatusHook | None
    ) -> Flow[Results]:
        engine = self.engine
        try:
            policy = engine.poll if timeout is None else attrs.evolve(engine.poll, timeout=timeout)
        except ValidationError as exc:  # PollPolicy's field: this call's parameter is timeout
            raise ValidationError("timeout", str(exc).partition(": ")[2]) from None
        waiting = self._ending(task, engine.wait(task, policy=policy, on_status=on_status))
        return self._keyed(task, waiting)

    def _wrong_model(self, task: Task) -> Flow[ValidationError | None]:
        """After KIE's "no record of this task": ValidationError naming ``task`` when the
        journal has it under another model (a Task rebuilt with the wrong one is asked on
        another family's path, and the user may take a task paid for as lost), else None.
        Asked only after that answer, so a status or wait that works reads no journal row."""
        journalled = yield from self._record(partial(self.recorder.journalled_model, task))
        if journalled is None:
            return None
        return ValidationError(
            "task",
            f"task {task.id} is in the journal as a {journalled} task, not {task.model}: "
            f"use Task({task.id!r}, {journalled!r}) (a task's status is read on its "
            "model's own path, and KIE knows no task of it on another)",
            task_id=task.id,
        )

    def finish(self, task: Task, status: TaskStatus) -> Flow[Results]:
        return self._keyed(task, self._ending(task, self.engine.finish(task, status)))

    def _held(self, flow: Flow[T], task_id: str) -> Flow[T]:
        """``flow``, a wait or a download at work here, keeping the rows at work held: before
        each of its steps, their leases are renewed when a third of the lease has gone by
        (one renewal for every flow of the journal: Journal.renewal_due), and a sleep longer
        than that third is cut into such pieces, so the lease (docs/teams.md) never runs out
        under a live wait. A process that dies stops renewing: its rows are taken over. One
        that stalled past its lease (a GC pause, SIGSTOP) and finds, renewing, that another
        worker took ``task_id``'s row over stops here before its next step (the flow closed,
        TaskTakenOverError raised): that worker polls and downloads it, this one does not."""
        journal = self.recorder.journal
        if journal is None:
            return (yield from flow)
        piece = journal.lease / 3
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                op = flow.throw(thrown) if thrown is not None else flow.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            try:
                if isinstance(op, Sleep) and op.seconds > piece:
                    left = op.seconds
                    while left > 0:
                        yield from self._renewed(task_id)
                        sent = yield Sleep(min(left, piece))
                        left -= piece
                else:
                    yield from self._renewed(task_id)
                    sent = yield op
                thrown = None
            except (GeneratorExit, _Dropped) as stop:
                flow.close()
                if isinstance(stop, _Dropped):
                    raise stop.error from None
                raise
            except BaseException as exc:
                sent, thrown = None, exc

    def _renewed(self, task_id: str) -> Flow[None]:
        if self.recorder.renewal_due():
            yield from self._record(self.recorder.renew)
        taken = self.recorder.taken_over(task_id)
        if taken is not None:
            raise _Dropped(taken)

    def _ending(self, task: Task, end: Flow[Results]) -> Flow[Results]:
        """A wait's end (polled, or from a status in hand), written in the journal."""
        recorder = self.recorder
        with recorder.at_work(task.id):
            try:
                results = yield from self._held(end, task.id)
            except GeneratorExit:
                raise
            except BaseException as exc:
                wrong = None
                if isinstance(exc, TaskNotFoundError):  # the wrong model's path? (not written)
                    wrong = yield from self._wrong_model(task)
                if wrong is None and recorder.records_failure(exc):
                    yield from self._record(partial(recorder.wait_failed, task, exc))
                # nothing here works on it now: `kie resume` elsewhere may, at once
                yield from self._record(partial(recorder.stopped_working, task.id))
                if wrong is not None:
                    raise wrong from exc
                raise
        yield from self._record(partial(recorder.finished, task, results))
        return results

    def download(self, results: Results, out_dir: str | os.PathLike[str]) -> Flow[list[Path]]:
        return self._keyed(results.task_id, self._downloading(results, out_dir))

    def _downloading(self, results: Results, out_dir: str | os.PathLike[str]) -> Flow[list[Path]]:
        recorder, task_id = self.recorder, results.task_id
        with recorder.at_work(task_id):
            kept = yield from self._record(partial(recorder.files_written, task_id))
            landed: list[Path] = []
            try:
                paths = yield from self._held(
                    self.engine.download(
                        results, Path(native(os.fspath(out_dir))), landed=landed, kept=kept
                    ),
                    task_id,
                )
            except GeneratorExit:
                raise
            except BaseException as exc:  # failed, or interrupted (Ctrl-C): what landed is kept
                stopped = partial(recorder.download_failed, task_id, exc, out_dir, landed)
                yield from self._record(stopped)
                yield from self._record(partial(recorder.stopped_working, task_id))
                raise
        if results.partial:  # files of a task still owed: kept, the row not done (below)
            yield from self._record(partial(recorder.landed, task_id, paths, out_dir))
            yield from self._record(partial(recorder.stopped_working, task_id))
            return paths
        yield from self._record(partial(self.recorder.downloaded, results.task_id, paths, out_dir))
        return paths

    def generate(
        self,
        model: str,
        params: InputLike,
        fields: Mapping[str, Any],
        *,
        out_dir: str | os.PathLike[str],
        timeout: float | None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> Flow[list[Path]]:
        """Submit, wait, download; ``out_dir`` is made and proved writable first, as ``kie
        run`` proves its ``--out``: a folder mistake found here costs no task."""
        folder = Path(native(os.fspath(out_dir)))
        try:
            writable_folder(folder)
        except (OSError, ValueError) as exc:  # nothing sent yet: no task id to keep
            raise FileWriteError.of(exc, folder) from exc
        try:
            task = yield from self.submit(
                model, params, fields, callback_url=callback_url,
                idempotency_key=idempotency_key, out_dir=out_dir,
            )  # fmt: skip
        except ApiError as refused:
            task = followed(refused, model)  # else raised again
        results = yield from self.wait(task, timeout=timeout, on_status=None)
        return (yield from self.download(results, out_dir))

    def download_url(self, url: str, *, task_id: str | None) -> Flow[str]:
        return self.engine.download_url(url, task_id=task_id)

    def credits(self) -> Flow[float]:
        return self.files.credits()

    def hand_off(self, task: Task | str, *, reason: str | None) -> Flow[None]:
        """A succeeded task's links were handed on, not downloaded: its row is done
        (:meth:`Journal.hand_off <kiekit.journal.Journal.hand_off>`)."""
        journal = self.recorder.journal
        if journal is None:
            raise ConfigurationError("hand_off needs a journal (this client has journal=None)")
        task_id = task.id if isinstance(task, Task) else task
        try:
            yield from self._record(lambda: journal.hand_off(task_id, reason=reason))
        except ValidationError as exc:
            if exc.field != "key":
                raise
            # the journal names the row it was given ("key"); this call's parameter is ``task``
            words = str(exc).removeprefix("key: ")
            raise ValidationError("task", words, task_id=task_id, key=exc.key) from None

    def adopt(
        self, task_id: str, model: str, *, out_dir: str | os.PathLike[str] | None
    ) -> Flow[Task]:
        """A task created outside kiekit, taken into the journal (Recorder.adopt); its model
        is checked first, so nothing is written for one no plugin serves."""
        self.engine.registry.provider(model)
        return (yield from self._record(partial(self.recorder.adopt, task_id, model, out_dir)))

    def upload(
        self, source: Source, *, upload_path: str, file_name: str | None
    ) -> Flow[UploadedFile]:
        return self.files.upload(source, upload_path=upload_path, file_name=file_name)


def followed(refused: ApiError, model: str) -> Task:
    """The task a create's refusal names as made for the same request before (made_before:
    a Veo 4K asked again, kie-api.md §3.3), to wait for and deliver as one made now; nothing
    was paid for this time. Any other refusal is raised again."""
    named = made_before(refused)
    if named is None:
        raise refused
    request_log.log.info(
        "task %s (%s) was made for this request before (KIE's answer: %s %s): not created "
        "again, nothing paid for; waiting for it",
        named, model, refused.code, printable(refused.kie_message),
        extra=request_log.fields(task_id=named, model=model),
    )  # fmt: skip
    return Task(named, model)


def _unknown(observer: Observer | None, model: str, key: str | None, exc: BaseException) -> None:
    """A create that may have made a task, paid for, said where monitoring looks (WARNING,
    and the observer's CreateUnknown), not only in the error its caller may drop: a
    cancelled one raises nothing a caller sees as a paid task."""
    cause = exc.cause if isinstance(exc, OutcomeUnknownError) else exc
    said = str(cause) or type(cause).__name__  # a CancelledError says nothing
    settle = (
        f"then `kie settle {key} --task-id ID` (or `--not-created`)"
        if key is not None
        else "(no journal holds it)"
    )
    request_log.log.warning(
        "create of %s may have made a task (paid for), but no answer said so (%s): it was not "
        "sent again. Look for the task on the KIE dashboard or its callback, %s%s",
        model, said, settle, request_log.tags(),
        extra=request_log.fields(model=model, key=key, outcome="unknown"),
    )  # fmt: skip
    request_log.notify(observer, CreateUnknown, model=model, key=key, error=exc)
